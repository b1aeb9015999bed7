"""ADX: ISO 8601 periods, streaming reads, refused DTDs and entities, partly invalid documents, round trips."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from domain.periods import InvalidPeriod, Period
from services.interchange.adx import NAMESPACE, period_from_iso, period_to_iso, read_adx, write_adx
from services.interchange.mapping import CodeMapping, UnsupportedPeriod
from services.interchange.rows import Row, SourceError, SourceValue
from tests.unit.interchange_support import fixture, indicators

CATALOGUE = indicators()
MAPPING = CodeMapping.from_json(fixture("dhis2_mapping.json"))


def errors(rows: list[Row]) -> list[tuple[str, str]]:
    return [(r.location, r.code) for r in rows if isinstance(r, SourceError)]


def good(rows: list[Row]) -> list[tuple[str, str, str, str, object]]:
    return [(r.location, r.agency, r.period, r.indicator, r.value) for r in rows if isinstance(r, SourceValue)]


@pytest.mark.parametrize(
    ("iso", "ours"),
    [
        ("2024-01-01/P1M", "2024-01"),
        ("2024-12-01/P1M", "2024-12"),
        ("2024-07-01/P3M", "2024Q3"),
        ("2024-07-01/P6M", "2024S2"),
        ("2024-01-01/P1Y", "2024"),
    ],
)
def test_periods_convert_both_ways(iso: str, ours: str) -> None:
    assert period_from_iso(iso) == Period.parse(ours)
    assert period_to_iso(Period.parse(ours)) == iso


def test_twelve_months_is_a_year() -> None:
    assert period_from_iso("2024-01-01/P12M") == Period.parse("2024")


@pytest.mark.parametrize("text", ["2024-01-01/P7D", "2024-01-01/P2M", "2024-01-01", "2024W1", "2024-01-01/P1W"])
def test_unsupported_durations(text: str) -> None:
    with pytest.raises(UnsupportedPeriod):
        period_from_iso(text)


@pytest.mark.parametrize("text", ["2024-02-01/P3M", "2024-01-15/P1M", "2024-03-01/P1Y", "2024-13-01/P1M"])
def test_intervals_that_are_not_a_calendar_period(text: str) -> None:
    with pytest.raises(InvalidPeriod) as caught:
        period_from_iso(text)
    assert not isinstance(caught.value, UnsupportedPeriod)


def test_well_formed_document() -> None:
    rows = list(read_adx(fixture("adx_values.xml"), MAPPING, CATALOGUE))
    assert errors(rows) == []
    assert good(rows) == [
        ("group 1 / dataValue 1", "P01", "2026-10", "TEL.MOBILE_SUBSCRIBERS", 8450123),
        ("group 1 / dataValue 2", "P01", "2026-10", "TEL.REVENUE", Decimal("12345.67")),
        ("group 1 / dataValue 3", "P01", "2026-10", "DX.HAS_APPROVED_PLAN", True),
        ("group 1 / dataValue 4", "P01", "2026-10", "POS.LETTERS", 1200),
        ("group 1 / dataValue 5", "P01", "2026-10", "POS.PARCELS", 3400),
        ("group 2 / dataValue 1", "P04", "2026-10", "TEL.MOBILE_SUBSCRIBERS", 512000),
        ("group 2 / dataValue 2", "P04", "2026-10", "DX.NOTES", "Hoàn thành số hóa hồ sơ & kết quả"),
    ]
    assert rows[1].comment == "Số liệu ước tính của doanh nghiệp"  # type: ignore[union-attr]


def test_partly_invalid_document() -> None:
    rows = list(read_adx(fixture("adx_partly_invalid.xml"), MAPPING, CATALOGUE))
    assert errors(rows) == [
        ("group 1 / dataValue 2", "out-of-range"),
        ("group 1 / dataValue 3", "unsupported-disaggregation"),
        ("group 1 / dataValue 4", "empty-value"),
        ("group 2 / dataValue 1", "wrong-data-set"),
        ("group 2 / dataValue 2", "wrong-data-set"),
        ("group 3 / dataValue 1", "unsupported-period"),
    ]
    assert good(rows) == [
        ("group 1 / dataValue 1", "P01", "2026-10", "TEL.MOBILE_SUBSCRIBERS", 8450123),
        ("group 1 / dataValue 5", "P01", "2026-10", "TEL.REVENUE", Decimal("99.5")),
        ("group 4 / dataValue 1", "P04", "2026-10", "TEL.MOBILE_SUBSCRIBERS", 512000),
    ]


@pytest.mark.parametrize("name", ["adx_doctype.xml", "adx_external_entity.xml"])
def test_dtds_and_entities_are_refused_before_anything_is_read(name: str) -> None:
    rows = list(read_adx(fixture(name), MAPPING, CATALOGUE))
    assert rows == [SourceError("document", "forbidden-xml", rows[0].message, fatal=True)]  # type: ignore[union-attr]


def test_truncated_document_keeps_the_values_before_the_break() -> None:
    rows = list(read_adx(fixture("adx_truncated.xml"), MAPPING, CATALOGUE))
    assert good(rows) == [("group 1 / dataValue 1", "P01", "2026-10", "TEL.MOBILE_SUBSCRIBERS", 8450123)]
    assert errors(rows) == [("document", "invalid-xml")]
    assert rows[-1].fatal  # type: ignore[union-attr]
    assert "line 8" in rows[-1].message  # type: ignore[union-attr]


@pytest.mark.parametrize("data", [b"", b"not xml at all", b"<adx"])
def test_not_xml(data: bytes) -> None:
    assert errors(list(read_adx(data, MAPPING, CATALOGUE))) == [("document", "invalid-xml")]


def test_root_without_the_adx_namespace_is_refused() -> None:
    rows = list(read_adx(fixture("adx_no_namespace.xml"), MAPPING, CATALOGUE))
    assert errors(rows) == [("document", "not-adx")]
    assert NAMESPACE in rows[0].message  # type: ignore[union-attr]


def test_reading_streams_in_bounded_memory() -> None:
    """Values come out while the document is still being read; read groups are dropped from the tree."""
    groups = 5000

    def document() -> Iterator[bytes]:
        yield f'<adx xmlns="{NAMESPACE}">'.encode()
        for number in range(groups):
            yield (
                f'<group orgUnit="OuHaNoi0001" period="2026-10-01/P1M" dataSet="VnTtttBc001">'
                f'<dataValue dataElement="DeMobSub001" value="{number}"/></group>'
            ).encode()
        yield b"</adx>"

    class Stream(io.RawIOBase):
        def __init__(self) -> None:
            self.chunks = document()
            self.consumed = 0

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            chunk = next(self.chunks, b"")
            self.consumed += len(chunk)
            return chunk

    stream = Stream()
    rows = read_adx(stream, MAPPING, CATALOGUE)  # type: ignore[arg-type]
    first = next(rows)
    assert isinstance(first, SourceValue)
    consumed_for_first = stream.consumed
    total = sum(1 for _ in rows) + 1
    # Every group after the first is a duplicate (same agency, period, indicator), still located one by one.
    assert total == groups
    assert consumed_for_first < stream.consumed / 100


def test_round_trip() -> None:
    originals = [r for r in read_adx(fixture("adx_values.xml"), MAPPING, CATALOGUE) if isinstance(r, SourceValue)]
    exported = write_adx(originals, MAPPING, exported=datetime(2026, 10, 12, 8, 0, tzinfo=UTC))
    assert exported.skipped == ()
    root = ET.fromstring(exported.content)  # noqa: S314 - our own output
    assert root.tag == f"{{{NAMESPACE}}}adx"
    assert root.get("exported") == "2026-10-12T08:00:00Z"
    assert [group.get("period") for group in root] == ["2026-10-01/P1M", "2026-10-01/P1M"]
    assert [group.get("orgUnit") for group in root] == ["OuHaNoi0001", "OuCaoBang01"]
    again = list(read_adx(exported.content, MAPPING, CATALOGUE))
    assert errors(again) == []
    assert [(r.agency, r.period, r.indicator, r.value, r.comment) for r in again if isinstance(r, SourceValue)] == [
        (r.agency, r.period, r.indicator, r.value, r.comment) for r in originals
    ]


def test_text_with_line_breaks_and_markup_survives_a_round_trip() -> None:
    text = 'Dòng 1\n\tDòng 2 <b>"đậm"</b> & hết'
    original = SourceValue("", "P01", "2026-10", "DX.NOTES", text, "ghi chú\nhai dòng")
    again = list(read_adx(write_adx([original], MAPPING).content, MAPPING, CATALOGUE))
    assert [(r.value, r.comment) for r in again if isinstance(r, SourceValue)] == [(text, "ghi chú\nhai dòng")]


def test_export_skips_what_the_mapping_cannot_place() -> None:
    values = [
        SourceValue("", "P01", "2026-10", "TEL.MOBILE_SUBSCRIBERS", 1),
        SourceValue("", "P01", "2026-10", "IT.ENTERPRISES", 1),
        SourceValue("", "P01", "2026", "TEL.MOBILE_SUBSCRIBERS", 1),
    ]
    exported = write_adx(values, MAPPING)
    assert [e.code for e in exported.skipped] == ["unmapped-indicator", "wrong-period-type"]
    assert len(list(read_adx(exported.content, MAPPING, CATALOGUE))) == 1
