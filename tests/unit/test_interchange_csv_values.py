"""This system's own CSV: both headers, encodings, separators, partly invalid files, and round trips."""

from __future__ import annotations

import io
from collections.abc import Iterator
from decimal import Decimal

import pytest

from domain.values import Value
from services.interchange.csv_values import read_csv, write_csv
from services.interchange.rows import Row, SourceError, SourceValue
from services.interchange.textio import MAX_LINE_BYTES
from tests.unit.interchange_support import fixture, form, indicators

FORM = form().indicators
CATALOGUE = indicators()


def read(name_or_bytes: str | bytes, **kwargs: object) -> list[Row]:
    data = fixture(name_or_bytes) if isinstance(name_or_bytes, str) else name_or_bytes
    return list(read_csv(data, kwargs.pop("indicators", FORM), **kwargs))  # type: ignore[arg-type]


def values(rows: list[Row]) -> dict[str, tuple[str, Value, str | None]]:
    return {r.indicator: (r.location, r.value, r.comment) for r in rows if isinstance(r, SourceValue)}


def errors(rows: list[Row]) -> list[tuple[str, str]]:
    return [(r.location, r.code) for r in rows if isinstance(r, SourceError)]


def test_single_agency_file_gives_typed_values_with_row_numbers() -> None:
    rows = read("values.csv", agency="P01", period="2026-10")
    assert errors(rows) == []
    assert values(rows) == {
        "TEL.MOBILE_SUBSCRIBERS": ("row 2", 8450123, None),
        "TEL.REVENUE": ("row 3", Decimal("12345.67"), "Số liệu ước tính"),
        "TEL.HOUSEHOLDS_FIBRE_PCT": ("row 4", Decimal("93.5"), None),
        "DX.HAS_APPROVED_PLAN": ("row 5", True, None),
        "DX.NOTES": ("row 6", "Đã triển khai, đang mở rộng", None),
        # row 7 (POS.ITEMS with no value) is "not entered": no row at all, never 0
        "POS.LETTERS": ("row 8", 1200, None),
    }
    assert {(r.agency, r.period) for r in rows if isinstance(r, SourceValue)} == {("P01", "2026-10")}


def test_bom_semicolons_crlf_and_a_quoted_line_break() -> None:
    rows = read("values_semicolon_bom.csv", agency="P01", period="2026-10")
    assert errors(rows) == []
    got = values(rows)
    assert got["TEL.REVENUE"] == ("row 3", Decimal("12345.67"), "Dòng 1\r\nDòng 2")
    # The formula escape of the writer is undone: the text is what the agency typed.
    assert got["DX.NOTES"] == ("row 4 (line 5)", "=SUM(A1:A2)", "Công thức được ghi như văn bản")
    assert got["TEL.BTS_STATIONS"] == ("row 5 (line 6)", 1520, None)


def test_multi_agency_file_carries_agency_and_period_per_row() -> None:
    rows = read("values_multi.csv", indicators=CATALOGUE)
    assert errors(rows) == []
    assert [(r.agency, r.period, r.indicator) for r in rows if isinstance(r, SourceValue)] == [
        ("P01", "2026-10", "TEL.MOBILE_SUBSCRIBERS"),
        ("P01", "2026-10", "TEL.REVENUE"),
        ("P04", "2026-10", "TEL.MOBILE_SUBSCRIBERS"),
        ("P04", "2026Q3", "TEL.REVENUE"),
    ]


def test_multi_agency_file_in_an_upload_for_one_agency_refuses_the_other_rows() -> None:
    rows = read("values_multi.csv", indicators=CATALOGUE, agency="P01", period="2026-10")
    assert errors(rows) == [("row 4", "wrong-agency"), ("row 5", "wrong-agency")]
    assert len(values(rows)) == 2


def test_unknown_agencies_are_refused_when_the_registry_is_given() -> None:
    rows = read("values_multi.csv", indicators=CATALOGUE, agencies={"P01"})
    assert errors(rows) == [("row 4", "unknown-agency"), ("row 5", "unknown-agency")]


def test_partly_invalid_file_keeps_the_good_rows_and_locates_the_bad_ones() -> None:
    rows = read("values_partly_invalid.csv", indicators=CATALOGUE)
    assert errors(rows) == [
        ("row 3", "duplicate-value"),
        ("row 4", "invalid-period"),
        ("row 5", "invalid-agency"),
        ("row 6", "unknown-indicator"),
        ("row 7", "out-of-range"),
        ("row 8", "ambiguous-number"),
        ("row 9", "wrong-type"),
        ("row 10", "wrong-type"),
        ("row 11", "empty-value"),
        ("row 12", "wrong-column-count"),
        ("row 14", "out-of-range"),
        ("row 15", "too-precise"),
    ]
    good = [(r.location, r.agency, r.indicator, r.value) for r in rows if isinstance(r, SourceValue)]
    assert good == [
        ("row 2", "P01", "TEL.MOBILE_SUBSCRIBERS", 8450123),
        ("row 16", "P04", "POS.ITEMS", 0),  # zero is a value like any other
        ("row 17", "P04", "TEL.REVENUE", Decimal("250.5")),
    ]
    duplicate = next(r for r in rows if isinstance(r, SourceError) and r.code == "duplicate-value")
    assert "row 2" in duplicate.message  # says where the first one was
    assert not any(r.fatal for r in rows if isinstance(r, SourceError))


def test_wrong_header_is_refused_whole() -> None:
    rows = read("values_wrong_header.csv", agency="P01", period="2026-10")
    assert rows == [SourceError("row 1", "wrong-header", rows[0].message, fatal=True)]  # type: ignore[union-attr]
    assert "indicator,value,comment" in rows[0].message  # type: ignore[union-attr]


def test_single_agency_file_needs_an_agency_and_period() -> None:
    assert errors(read("values.csv")) == [("row 1", "missing-context")]


def test_bytes_that_are_not_utf8_fail_only_their_row() -> None:
    rows = read("values_cp1258.csv", agency="P01", period="2026-10")
    assert errors(rows) == [("row 3", "invalid-encoding")]
    assert sorted(values(rows)) == ["POS.ITEMS", "TEL.MOBILE_SUBSCRIBERS"]


def test_utf16_and_empty_files_are_refused() -> None:
    assert errors(read("values_utf16.csv", agency="P01", period="2026-10")) == [("document", "unsupported-encoding")]
    assert errors(read(b"", agency="P01", period="2026-10")) == [("document", "empty-file")]
    assert errors(read(b"\xef\xbb\xbf\r\n", agency="P01", period="2026-10")) == [("document", "empty-file")]


def test_an_unclosed_quote_stops_the_file_after_the_good_rows() -> None:
    data = b'indicator,value,comment\nPOS.ITEMS,1,\nPOS.LETTERS,2,"never closed\n'
    rows = read(data, agency="P01", period="2026-10")
    assert [type(r) for r in rows] == [SourceValue, SourceError]
    assert rows[-1] == SourceError("document", "invalid-csv", rows[-1].message, fatal=True)  # type: ignore[union-attr]


def test_a_huge_line_stops_reading_instead_of_filling_memory() -> None:
    data = b"indicator,value,comment\nPOS.ITEMS,1,\nDX.NOTES,x," + b"a" * (MAX_LINE_BYTES + 10) + b"\nPOS.LETTERS,2,\n"
    rows = read(data, agency="P01", period="2026-10")
    assert errors(rows) == [("document", "line-too-long")]
    assert list(values(rows)) == ["POS.ITEMS"]


def test_comments_follow_the_text_rules() -> None:
    data = b"indicator,value,comment\nPOS.ITEMS,1,bad\x00note\nPOS.LETTERS,2,   \n"
    rows = read(data, agency="P01", period="2026-10")
    assert errors(rows) == [("row 2", "invalid-comment")]
    assert values(rows)["POS.LETTERS"] == ("row 3", 2, None)


def test_the_reader_is_a_generator_that_reads_lazily() -> None:
    """100,000 rows come out one at a time: the first arrives before the stream is read to its end."""

    class CountingStream(io.BytesIO):
        lines_read = 0

        def readline(self, size: int | None = -1) -> bytes:
            CountingStream.lines_read += 1
            return super().readline(size)

    def body() -> Iterator[bytes]:
        yield b"agency,period,indicator,value,comment\n"
        for number in range(100_000):
            yield f"P{number:05d},2026-10,POS.ITEMS,{number},\n".encode()

    stream = CountingStream(b"".join(body()))
    rows = read_csv(stream, CATALOGUE)
    assert isinstance(rows, Iterator)
    first = next(rows)
    assert isinstance(first, SourceValue)
    assert first.value == 0
    assert CountingStream.lines_read < 10
    assert sum(1 for _ in rows) == 99_999


def test_round_trip_single_agency() -> None:
    originals = [
        SourceValue("", "P01", "2026-10", "TEL.MOBILE_SUBSCRIBERS", 8450123),
        SourceValue(
            "", "P01", "2026-10", "TEL.REVENUE", Decimal("0.1234567890123456789"), 'ghi chú; có dấu phẩy, và "ngoặc"'
        ),
        SourceValue("", "P01", "2026-10", "TEL.HOUSEHOLDS_FIBRE_PCT", Decimal(100)),
        SourceValue("", "P01", "2026-10", "DX.HAS_APPROVED_PLAN", False),
        SourceValue("", "P01", "2026-10", "DX.NOTES", '=HYPERLINK("x")', "+ghi chú"),
        SourceValue("", "P01", "2026-10", "PRS.NOTES", "'trích dẫn'\nhai dòng"),
        SourceValue("", "P01", "2026-10", "POS.ITEMS", 0),
    ]
    data = b"".join(write_csv(originals))
    assert data.startswith(b"\xef\xbb\xbf")
    assert b"'=HYPERLINK" in data  # a spreadsheet shows it as text, never runs it
    rows = list(read_csv(data, CATALOGUE, agency="P01", period="2026-10"))
    assert errors(rows) == []
    assert [(r.indicator, r.value, r.comment) for r in rows if isinstance(r, SourceValue)] == [
        (v.indicator, v.value, v.comment) for v in originals
    ]


def test_round_trip_multi_agency_and_single_file_guard() -> None:
    originals = [
        SourceValue("", "P01", "2026-10", "POS.ITEMS", 5),
        SourceValue("", "P04", "2026Q3", "TEL.REVENUE", Decimal("0.5")),
    ]
    data = b"".join(write_csv(originals, with_agency_period=True, bom=False))
    assert data.startswith(b"agency,period,indicator,value,comment\r\n")
    rows = list(read_csv(data, CATALOGUE))
    assert [(r.agency, r.period, r.value) for r in rows if isinstance(r, SourceValue)] == [
        ("P01", "2026-10", 5),
        ("P04", "2026Q3", Decimal("0.5")),
    ]
    with pytest.raises(ValueError, match="with_agency_period"):
        b"".join(write_csv(originals))
