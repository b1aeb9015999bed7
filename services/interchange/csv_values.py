"""This system's own CSV of values: `indicator,value,comment`, or `agency,period,indicator,value,comment`.

UTF-8 with or without a BOM, comma or semicolon separated (what Excel writes in a Vietnamese
locale), one value a row; the comment column may be left out. A row with neither value nor
comment is "not entered" and is skipped: a blank is never read as zero. Numbers use a dot for
decimals and no thousands separator; booleans are true/false (or Có/Không).

Text that a spreadsheet would run as a formula (=, +, -, @ ...) is written with a leading
apostrophe, and that apostrophe is removed again on reading (see `cells.escape_formula`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Container, Iterable, Iterator, Mapping

from domain.catalogue import Indicator
from domain.periods import Period
from domain.values import Value, ValueType
from services.interchange.cells import (
    ValueReader,
    escape_formula,
    from_text,
    printable,
    unescape_formula,
    value_text,
)
from services.interchange.rows import ListedIndicator, ReportedValue, Row, SourceError
from services.interchange.textio import CsvReader, Source, UnreadableText, has_bad_bytes

SINGLE_COLUMNS = ("indicator", "value", "comment")
MULTI_COLUMNS = ("agency", "period", "indicator", "value", "comment")
_HEADERS = {
    SINGLE_COLUMNS: SINGLE_COLUMNS,
    SINGLE_COLUMNS[:-1]: SINGLE_COLUMNS,
    MULTI_COLUMNS: MULTI_COLUMNS,
    MULTI_COLUMNS[:-1]: MULTI_COLUMNS,
}


def read_csv(
    source: Source,
    indicators: Mapping[str, Indicator],
    *,
    agency: str | None = None,
    period: str | Period | None = None,
    agencies: Container[str] | None = None,
) -> Iterator[Row]:
    """The values of a CSV file, row by row (a generator: the file is never held whole).

    A file without agency and period columns is one agency's report for one period: `agency`
    and `period` say which. With those columns, `agency` and `period`, when given, are what every
    row must name (an upload for one agency may still use the five-column form).
    """
    expected_period = Period.parse(period) if isinstance(period, str) else period
    try:
        reader = CsvReader(source)
        header = tuple(reader.header)
        columns = _HEADERS.get(header)
        if columns is None:
            yield SourceError(
                "row 1",
                "wrong-header",
                f"the header is {printable(','.join(header))!r}; expected {','.join(SINGLE_COLUMNS)} "
                f"or {','.join(MULTI_COLUMNS)} (comma or semicolon separated)",
                fatal=True,
            )
            return
        with_context = columns is MULTI_COLUMNS
        if not with_context and (agency is None or expected_period is None):
            yield SourceError(
                "row 1",
                "missing-context",
                "the file has no agency and period columns: upload it for one agency and period, "
                f"or use the header {','.join(MULTI_COLUMNS)}",
                fatal=True,
            )
            return
        values = ValueReader(indicators, agencies)
        for record in reader.records():
            if record.blank:
                continue
            fields = record.fields
            location = record.location
            if any(has_bad_bytes(field) for field in fields):
                yield SourceError(
                    location,
                    "invalid-encoding",
                    "this row is not UTF-8 text; save the file as 'CSV UTF-8' (not Windows-1258 or TCVN3)",
                )
                continue
            # A trailing empty comment may be left out; anything else must match the header.
            if len(fields) == len(columns) - 1:
                fields = [*fields, ""]
            if len(fields) != len(columns):
                yield SourceError(
                    location,
                    "wrong-column-count",
                    f"{len(record.fields)} fields where the header has {len(columns)} ({','.join(columns)})",
                )
                continue
            row = dict(zip(columns, fields, strict=True))
            if not row["value"].strip():
                if row["comment"].strip():
                    yield SourceError(location, "empty-value", "a comment without a value: the value is missing")
                continue
            row_agency = row["agency"].strip() if with_context else agency
            row_period = row["period"].strip() if with_context else expected_period
            if with_context and agency is not None and row_agency != agency:
                yield SourceError(location, "wrong-agency", f"a value of {row_agency!r} in an upload for {agency}")
                continue
            if with_context and expected_period is not None and row_period != expected_period.code:
                yield SourceError(
                    location, "wrong-period", f"a value of {row_period!r} in an upload for {expected_period.code}"
                )
                continue
            code = row["indicator"].strip()
            definition = indicators.get(code)
            raw = row["value"]
            if definition is not None and definition.value_type is ValueType.TEXT:
                raw = unescape_formula(raw)
            yield values.read(
                location,
                row_agency,
                row_period,
                code,
                raw,
                unescape_formula(row["comment"]),
                convert=from_text,
            )
    except UnreadableText as problem:
        yield SourceError("document", problem.code, problem.message, fatal=True)


def write_csv(
    values: Iterable[ReportedValue | ListedIndicator], *, with_agency_period: bool = False, bom: bool = True
) -> Iterator[bytes]:
    """The same format, streamed: UTF-8 (with a BOM by default, so Excel reads Vietnamese right), CRLF.

    A `ListedIndicator` without a value is a row with a blank value (a form to fill in).

    Without `with_agency_period` every value must be of one agency and period (the file does not say
    which); a value of another raises ValueError.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(MULTI_COLUMNS if with_agency_period else SINGLE_COLUMNS)
    yield (b"\xef\xbb\xbf" if bom else b"") + _take(buffer)
    context: tuple[str, str] | None = None
    for item in values:
        cells = [_cell(item.value), escape_formula(item.comment or "")]
        if with_agency_period:
            writer.writerow([item.agency, item.period, item.indicator, *cells])
        else:
            if context is None:
                context = (item.agency, item.period)
            elif context != (item.agency, item.period):
                raise ValueError(
                    f"{item.agency} {item.period} in a file of {context[0]} {context[1]}: "
                    "use with_agency_period for several agencies or periods"
                )
            writer.writerow([item.indicator, *cells])
        yield _take(buffer)


def _cell(value: Value | None) -> str:
    if value is None:  # an indicator listed without a value: a blank to fill, never a zero
        return ""
    return escape_formula(value) if isinstance(value, str) else value_text(value)


def _take(buffer: io.StringIO) -> bytes:
    data = buffer.getvalue().encode("utf-8")
    buffer.seek(0)
    buffer.truncate()
    return data
