"""CSV and XLSX exports of tabular read-model data: one implementation for the reports API and the web pages.

Both take column names and an iterable of rows of plain values (str, int, bool, None, datetime);
`respond` answers a read as JSON, or its rows as a table with Vietnamese headers.
CSV is streamed (UTF-8 with a BOM, so that spreadsheet programs read Vietnamese correctly);
XLSX is built in openpyxl's write-only mode. Text is always written as text: a value such as
"=1+1" entered by an agency never becomes a formula (in CSV, text that a spreadsheet would read
as a formula is prefixed with an apostrophe, as OWASP recommends).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from typing import Any

from fastapi.responses import Response, StreamingResponse
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from services.readmodels.errors import TooManyRows

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The OpenAPI of the exports: JSON by default, a CSV or XLSX table with ?format=csv|xlsx.
_CSV_CONTENT = {"text/csv": {"schema": {"type": "string"}}}
_XLSX_CONTENT = {XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}}
TABLE_RESPONSES: dict[int | str, dict[str, Any]] = {200: {"content": {**_CSV_CONTENT, **_XLSX_CONTENT}}}
CSV_RESPONSES: dict[int | str, dict[str, Any]] = {200: {"content": _CSV_CONTENT}}
XLSX_RESPONSES: dict[int | str, dict[str, Any]] = {200: {"content": _XLSX_CONTENT}}
XLSX_MAX_ROWS = 1_048_575  # the format's limit, less the header row
READ_POSITION_HEADER = "X-Read-Position"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def cell_text(value: Any, zone: tzinfo = UTC) -> str:
    """One CSV cell: booleans as true/false, instants in ISO form with their offset (in `zone`), no formulas."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(zone).isoformat()
    text = str(value)
    if isinstance(value, str) and text.startswith(_FORMULA_START) and not _is_number(text):
        return "'" + text
    return text


def csv_response(
    columns: Sequence[str], rows: Iterable[Sequence[Any]], filename: str, zone: tzinfo = UTC
) -> StreamingResponse:
    def generate() -> Iterator[bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        buffer.write("\ufeff")
        writer.writerow(columns)
        for n, row in enumerate(rows, 1):
            writer.writerow([cell_text(v, zone) for v in row])
            if n % 1000 == 0:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue().encode()

    return StreamingResponse(
        generate(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@dataclass(frozen=True)
class Sheet:
    """One worksheet of a workbook: its title, its header row and its rows."""

    title: str
    columns: Sequence[str]
    rows: Iterable[Sequence[Any]]


def xlsx_workbook(sheets: Iterable[Sheet], zone: tzinfo = UTC) -> bytes:
    """A workbook of `sheets`; instants as dates and times in `zone` (Excel has no time zones)."""
    workbook = Workbook(write_only=True)
    for sheet in sheets:
        worksheet = workbook.create_sheet(_sheet(sheet.title))
        worksheet.append(list(sheet.columns))
        for n, row in enumerate(sheet.rows, 1):
            if n > XLSX_MAX_ROWS:
                raise TooManyRows(
                    f"more than {XLSX_MAX_ROWS} rows do not fit in one sheet; narrow the filters or use CSV"
                )
            cells = []
            for value in row:
                if isinstance(value, datetime):
                    value = value.astimezone(zone).replace(tzinfo=None)
                cell = WriteOnlyCell(worksheet, value=value)
                if isinstance(value, str):
                    cell.data_type = "s"  # text stays text, even "=..."
                cells.append(cell)
            worksheet.append(cells)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def xlsx_bytes(columns: Sequence[str], rows: Iterable[Sequence[Any]], sheet: str = "data") -> bytes:
    """One sheet, instants in UTC."""
    return xlsx_workbook([Sheet(sheet, columns, rows)])


def xlsx_file(content: bytes, filename: str) -> Response:
    return Response(
        content, media_type=XLSX_MEDIA_TYPE, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


def xlsx_response(columns: Sequence[str], rows: Iterable[Sequence[Any]], filename: str, sheet: str) -> Response:
    return xlsx_file(xlsx_bytes(columns, rows, sheet), filename)


def filename(*parts: str) -> str:
    """An ASCII file name (headers are Latin-1), whatever the parts held."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", "-".join(parts))


def respond(
    fmt: str,
    body: dict[str, Any],
    columns: Sequence[tuple[str, str]],
    rows: Sequence[dict[str, Any]],
    name: str,
    sheet: str,
) -> dict[str, Any] | Response:
    """JSON as is, or the rows as a CSV/XLSX table with Vietnamese headers ((key, title) `columns`);
    a table carries the position of `body` in its X-Read-Position header."""
    if fmt == "json":
        return body
    headers = [title for _, title in columns]
    table = [[_cell(row.get(key)) for key, _ in columns] for row in rows]
    name = filename(name)
    response: Response
    if fmt == "csv":
        response = csv_response(headers, table, f"{name}.csv")
    else:
        response = xlsx_response(headers, table, f"{name}.xlsx", _sheet(sheet))
    response.headers[READ_POSITION_HEADER] = str(body["position"])
    return response


def _sheet(title: str) -> str:
    """A valid worksheet title: at most 31 characters, none of []:*?/\\."""
    return re.sub(r"[\[\]:*?/\\]", "_", title)[:31] or "data"


def _cell(value: Any) -> Any:
    """Numbers as numbers (decimal strings of the JSON become Decimals), the rest as is."""
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+\.[0-9]+", value):
        return Decimal(value)
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return value.isoformat()
    return value
