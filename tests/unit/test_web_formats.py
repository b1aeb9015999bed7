"""The pages' number formats: whole numbers written fast, exactly as babel writes them."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_decimal
from hypothesis import given
from hypothesis import strategies as st

from services.web.i18n import Formats, Language


@given(st.integers(min_value=-(10**18), max_value=10**18), st.sampled_from(list(Language)))
def test_a_whole_number_is_written_as_babel_writes_it(number: int, language: Language) -> None:
    expected = format_decimal(number, locale=language.babel_locale, decimal_quantization=False)
    assert Formats(language).number(number) == expected


def test_vietnamese_and_english_numbers() -> None:
    vi, en = Formats(Language.VI), Formats(Language.EN)
    assert (vi.number(1_234_567), en.number(1_234_567)) == ("1.234.567", "1,234,567")
    assert (vi.number(Decimal("-1234.5")), en.number("1234.5")) == ("-1.234,5", "1,234.5")
