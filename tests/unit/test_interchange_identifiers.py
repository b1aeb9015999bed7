"""Electronic identifier codes of agencies (QCVN 102:2016): the pure validator in domain/identifiers.py."""

from __future__ import annotations

import pytest

from domain.identifiers import MAX_LENGTH, ElectronicCode, parse_electronic_code


@pytest.mark.parametrize("code", ["000.00.00.G22", "000.00.00.H26", "G22.1", "A.B", "H26.12.03.M01", "1." * 17 + "1"])
def test_valid_codes_come_back_unchanged(code: str) -> None:
    assert parse_electronic_code(code) == code
    assert ElectronicCode(code).value == code


def test_groups() -> None:
    assert ElectronicCode("000.00.00.G22").groups == ("000", "00", "00", "G22")
    assert str(ElectronicCode("000.00.00.G22")) == "000.00.00.G22"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "required"),
        (" 000.00.00.G22", "spaces around"),
        ("000.00.00.G22\n", "spaces around"),
        ("000.00.00.g22", r"capitals \(000.00.00.G22\)"),
        ("G22", "no dots"),
        ("000..00.G22", "empty group"),
        (".000.00.G22", "empty group"),
        ("000.00.00.", "empty group"),
        ("000.00.00.G_22", "digits 0-9 and capital letters"),
        ("000.00.00.G 22", "digits 0-9 and capital letters"),
        ("٠٠٠.00.00.G22", "digits 0-9 and capital letters"),  # Arabic-Indic digits are not 0-9
        ("000.00.00.Đ22", "digits 0-9 and capital letters"),
        ("000-00-00-G22", "no dots"),
        ("1." * 17 + "12", f"at most {MAX_LENGTH}"),
    ],
)
def test_invalid_codes_say_why(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_electronic_code(text)
    with pytest.raises(ValueError, match=message):
        ElectronicCode(text)


def test_not_a_string() -> None:
    with pytest.raises(ValueError, match="is a string"):
        parse_electronic_code(22)  # type: ignore[arg-type]


def test_long_input_is_not_echoed_whole() -> None:
    with pytest.raises(ValueError, match="at most 35") as caught:
        parse_electronic_code("A" * 10_000)
    assert len(str(caught.value)) < 200
