"""Template workbooks: an agency's form for one period as an Excel file to fill in, and reading it back.

The data sheet "Số liệu" lists the form's indicators in order (code, Vietnamese name, group,
unit, what is allowed, the current value) with one input column and one comment column. Every
input cell has a data validation by value type (whole or decimal numbers within the indicator's
range, a Có/Không list for booleans, a length limit for text); everything else is locked and the
sheet is protected. The protection has no password: it guards against slips, not tampering,
and the reader checks everything itself.

A very hidden sheet "_metadata" holds what the workbook is for: template, version, agency,
period, a SHA-256 of the form definition and the format version. The reader refuses a workbook
made for something else (`wrong-template`, `wrong-template-version`, `wrong-agency`,
`wrong-period`), for a form whose indicators or ranges have changed since (`form-changed`), or
that is not one of these workbooks at all (`not-a-template`). An empty input cell is "not
entered", never zero.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, BinaryIO

import xlsxwriter  # type: ignore[import-untyped]  # typed inline, but ships no py.typed marker
from python_calamine import CalamineError, CalamineWorkbook
from xlsxwriter.utility import xl_col_to_name, xl_rowcol_to_cell  # type: ignore[import-untyped]

from domain.catalogue import Indicator, IndicatorGroup
from domain.periods import Period
from domain.templates import Form
from domain.values import MAX_TEXT_LENGTH, Value, ValueType, normalize_decimal
from services.interchange.cells import (
    FALSE_TEXT,
    SPREADSHEET_LIMIT,
    TRUE_TEXT,
    ValueReader,
    from_cell,
    shown,
)
from services.interchange.rows import Row, SourceError, SourceValue

FORMAT = "reporting-template-workbook"
FORMAT_VERSION = 1
DATA_SHEET = "Số liệu"
META_SHEET = "_metadata"

# Layout of format version 1 (0-based rows and columns; the header is row 5 as Excel shows it).
HEADER_ROW = 4
FIRST_ROW = HEADER_ROW + 1
COLUMNS = (
    "STT",
    "Mã chỉ tiêu",
    "Tên chỉ tiêu",
    "Nhóm chỉ tiêu",
    "Đơn vị tính",
    "Giá trị cho phép",
    "Giá trị hiện tại",
    "Giá trị nhập",
    "Ghi chú",
)
CODE_COLUMN = 1
CURRENT_COLUMN = 6
INPUT_COLUMN = 7
COMMENT_COLUMN = 8
# A workbook holds one form: far fewer rows than this; past it the file is not ours.
MAX_ROWS = 5000

META_KEYS = ("format", "format_version", "template", "template_version", "agency", "period", "form_hash")
# Defined names, so that people and other tools find the ranges without knowing the layout.
NAME_CODES = "RPT_CODES"
NAME_CURRENT = "RPT_CURRENT"
NAME_INPUT = "RPT_INPUT"
NAME_COMMENTS = "RPT_COMMENTS"
META_NAMES = {key: f"RPT_META_{key.upper()}" for key in META_KEYS}

GROUP_NAMES_VI: Mapping[IndicatorGroup, str] = {
    IndicatorGroup.POSTAL: "Bưu chính",
    IndicatorGroup.TELECOM_INTERNET: "Viễn thông, Internet",
    IndicatorGroup.RADIO_FREQUENCY: "Tần số vô tuyến điện",
    IndicatorGroup.IT_INDUSTRY: "Công nghiệp công nghệ thông tin",
    IndicatorGroup.DIGITAL_TRANSFORMATION: "Chuyển đổi số",
    IndicatorGroup.INFORMATION_SECURITY: "An toàn thông tin",
    IndicatorGroup.PRESS_BROADCASTING_EINFO: "Báo chí, phát thanh, truyền hình, thông tin điện tử",
    IndicatorGroup.PUBLISHING_PRINTING_DISTRIBUTION: "Xuất bản, in và phát hành",
}


def form_hash(form: Form) -> str:
    """SHA-256 of what decides which values a form accepts: its indicators' codes, types and ranges, in order.

    Names and units are left out: fixing a typo in a name does not make filled workbooks useless.
    """
    definition = [
        [
            indicator.code,
            str(indicator.value_type),
            None if indicator.minimum is None else format(normalize_decimal(indicator.minimum), "f"),
            None if indicator.maximum is None else format(normalize_decimal(indicator.maximum), "f"),
        ]
        for indicator in form.indicators.values()
    ]
    canonical = json.dumps(definition, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


# ---- writing -------------------------------------------------------------------


def _bounds(indicator: Indicator) -> tuple[int | float, int | float]:
    # Unbounded sides get the spreadsheet's exact-number limit: past it Excel drops digits.
    limit = SPREADSHEET_LIMIT - 1

    def bound(number: Decimal | None, default: int) -> int | float:
        if number is None:
            return default
        clipped = max(Decimal(-limit), min(Decimal(limit), number))
        # Whole bounds as integers: a whole-number rule reads "0", not "0.0".
        return int(clipped) if clipped == clipped.to_integral_value() else float(clipped)

    return bound(indicator.minimum, -limit), bound(indicator.maximum, limit)


def _allowed(indicator: Indicator) -> str:
    """What the input cell takes, in Vietnamese (also the validation's input message)."""
    kind = indicator.value_type
    if kind is ValueType.BOOLEAN:
        return f"{TRUE_TEXT} hoặc {FALSE_TEXT}"
    if kind is ValueType.TEXT:
        return f"Văn bản, tối đa {MAX_TEXT_LENGTH} ký tự"
    noun = {ValueType.INTEGER: "Số nguyên", ValueType.DECIMAL: "Số thập phân", ValueType.PERCENTAGE: "Tỷ lệ (%)"}[kind]
    low, high = indicator.minimum, indicator.maximum
    if low is not None and high is not None:
        return f"{noun} từ {_decimal_text(low)} đến {_decimal_text(high)}"
    if low is not None:
        return f"{noun} từ {_decimal_text(low)} trở lên"
    if high is not None:
        return f"{noun} không quá {_decimal_text(high)}"
    return noun


def _decimal_text(number: Decimal) -> str:
    # Shown to people: Vietnamese decimal comma (the cells themselves hold plain numbers).
    return format(normalize_decimal(number), "f").replace(".", ",")


def _validation(indicator: Indicator) -> dict[str, Any]:
    common: dict[str, Any] = {
        "ignore_blank": True,
        "input_title": "Giá trị nhập",
        "input_message": _allowed(indicator)[:255],
        "error_title": "Giá trị không hợp lệ",
        "error_message": f"{indicator.code}: {_allowed(indicator)}"[:255],
        "error_type": "stop",
    }
    kind = indicator.value_type
    if kind is ValueType.BOOLEAN:
        return {**common, "validate": "list", "source": [TRUE_TEXT, FALSE_TEXT]}
    if kind is ValueType.TEXT:
        return {**common, "validate": "length", "criteria": "<=", "value": MAX_TEXT_LENGTH}
    low, high = _bounds(indicator)
    validate = "integer" if kind is ValueType.INTEGER else "decimal"
    return {**common, "validate": validate, "criteria": "between", "minimum": low, "maximum": high}


def _exact_in_spreadsheet(number: int | Decimal) -> bool:
    return abs(Decimal(number)) < SPREADSHEET_LIMIT and Decimal(repr(float(number))) == number


def _write_value(sheet: Any, row: int, column: int, value: Value, cell_format: Any) -> None:
    """A value in a cell that reads back exactly: numbers a spreadsheet cannot hold exactly go in as text."""
    if isinstance(value, bool):
        sheet.write_string(row, column, TRUE_TEXT if value else FALSE_TEXT, cell_format)
    elif isinstance(value, int | Decimal):
        if _exact_in_spreadsheet(value):
            sheet.write_number(row, column, float(value), cell_format)
        else:
            sheet.write_string(
                row, column, format(value, "f") if isinstance(value, Decimal) else str(value), cell_format
            )
    else:
        # write_string, never write(): a text such as "=1+1" must not become a formula.
        sheet.write_string(row, column, str(value), cell_format)


def write_workbook(
    form: Form,
    *,
    agency: str,
    period: Period | str,
    current: Mapping[str, Value] | None = None,
    agency_name: str | None = None,
    template_name: str | None = None,
    prefill: bool = False,
) -> bytes:
    """The template workbook of `form` for `agency` and `period`, as XLSX bytes.

    `current` holds the values already recorded (shown in "Giá trị hiện tại"); with `prefill`
    they are also put in the input cells, so a person corrects what is there instead of retyping.
    """
    period = Period.parse(period) if isinstance(period, str) else period
    current = current or {}
    output = io.BytesIO()
    book = xlsxwriter.Workbook(output, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    book.set_properties(
        {
            "title": f"Báo cáo {form.template} kỳ {period.code}",
            "subject": f"{agency} {period.code}",
            "comments": f"{FORMAT} v{FORMAT_VERSION}",
        }
    )
    title = book.add_format({"bold": True, "font_size": 14})
    bold = book.add_format({"bold": True})
    header = book.add_format({"bold": True, "bg_color": "#D9E1F2", "border": 1, "text_wrap": True, "valign": "top"})
    locked = book.add_format({"border": 1, "text_wrap": True, "valign": "top"})
    current_format = book.add_format({"border": 1, "valign": "top", "bg_color": "#F2F2F2"})
    unlocked = {"locked": False, "border": 1, "valign": "top", "bg_color": "#FFF2CC"}
    input_number = book.add_format(unlocked)
    input_text = book.add_format({**unlocked, "num_format": "@", "text_wrap": True})

    sheet = book.add_worksheet(DATA_SHEET)
    sheet.write_string(0, 0, "BÁO CÁO SỐ LIỆU ĐỊNH KỲ", title)
    sheet.write_string(1, 0, "Đơn vị báo cáo:", bold)
    sheet.write_string(1, 2, agency if agency_name is None else f"{agency_name} ({agency})")
    sheet.write_string(2, 0, "Kỳ báo cáo:", bold)
    sheet.write_string(2, 2, period.code)
    sheet.write_string(3, 0, "Biểu mẫu:", bold)
    label = form.template if template_name is None else f"{template_name} ({form.template})"
    sheet.write_string(3, 2, f"{label}, phiên bản {form.version}")
    for column, name in enumerate(COLUMNS):
        sheet.write_string(HEADER_ROW, column, name, header)
    for width, column in ((6, 0), (34, 1), (60, 2), (26, 3), (14, 4), (28, 5), (16, 6), (18, 7), (40, 8)):
        sheet.set_column(column, column, width)

    row = FIRST_ROW
    for number, indicator in enumerate(form.indicators.values(), start=1):
        sheet.write_number(row, 0, number, locked)
        sheet.write_string(row, 1, indicator.code, locked)
        sheet.write_string(row, 2, indicator.name_vi + (" (*)" if indicator.required else ""), locked)
        sheet.write_string(row, 3, GROUP_NAMES_VI.get(indicator.group, str(indicator.group)), locked)
        sheet.write_string(row, 4, indicator.unit, locked)
        sheet.write_string(row, 5, _allowed(indicator), locked)
        value = current.get(indicator.code)
        if value is None:
            sheet.write_blank(row, CURRENT_COLUMN, None, current_format)
        else:
            _write_value(sheet, row, CURRENT_COLUMN, value, current_format)
        # Text inputs are formatted as text, so "0123" or "1-2" are kept as typed.
        input_format = input_text if indicator.value_type is ValueType.TEXT else input_number
        if prefill and value is not None:
            _write_value(sheet, row, INPUT_COLUMN, value, input_format)
        else:
            sheet.write_blank(row, INPUT_COLUMN, None, input_format)
        sheet.data_validation(row, INPUT_COLUMN, row, INPUT_COLUMN, _validation(indicator))
        sheet.write_blank(row, COMMENT_COLUMN, None, input_text)
        row += 1
    last = row - 1
    if last >= FIRST_ROW:
        sheet.data_validation(
            FIRST_ROW,
            COMMENT_COLUMN,
            last,
            COMMENT_COLUMN,
            {
                "validate": "length",
                "criteria": "<=",
                "value": MAX_TEXT_LENGTH,
                "input_title": "Ghi chú",
                "input_message": f"Không bắt buộc, tối đa {MAX_TEXT_LENGTH} ký tự",
                "error_title": "Ghi chú quá dài",
                "error_message": f"Ghi chú tối đa {MAX_TEXT_LENGTH} ký tự",
            },
        )
    sheet.write_string(last + 2, 0, "(*) Chỉ tiêu bắt buộc. Ô để trống là chưa nhập, không phải số 0.")
    sheet.freeze_panes(FIRST_ROW, 2)
    sheet.protect(
        "",
        {
            "select_locked_cells": True,
            "select_unlocked_cells": True,
            "format_columns": True,  # widening a column is harmless and often needed
            "format_rows": True,
        },
    )
    sheet.activate()

    meta = book.add_worksheet(META_SHEET)
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "template": form.template,
        "template_version": str(form.version),
        "agency": agency,
        "period": period.code,
        "form_hash": form_hash(form),
    }
    for index, key in enumerate(META_KEYS):
        meta.write_string(index, 0, key)
        meta.write_string(index, 1, metadata[key])
        book.define_name(META_NAMES[key], f"='{META_SHEET}'!$B${index + 1}")
    meta.protect("")
    meta.very_hidden()  # a hidden sheet can be shown from Excel's menu; a very hidden one cannot

    if last >= FIRST_ROW:
        for name, column in (
            (NAME_CODES, CODE_COLUMN),
            (NAME_CURRENT, CURRENT_COLUMN),
            (NAME_INPUT, INPUT_COLUMN),
            (NAME_COMMENTS, COMMENT_COLUMN),
        ):
            letter = xl_col_to_name(column)
            book.define_name(name, f"='{DATA_SHEET}'!${letter}${FIRST_ROW + 1}:${letter}${last + 1}")
    book.close()
    return output.getvalue()


# ---- reading -------------------------------------------------------------------


@dataclass(frozen=True)
class WorkbookMetadata:
    format_version: int
    template: str
    template_version: int
    agency: str
    period: str
    form_hash: str


@dataclass(frozen=True)
class WorkbookContents:
    """What a workbook holds: its metadata (None when it is not a template), and its values or the refusal."""

    metadata: WorkbookMetadata | None
    rows: tuple[Row, ...]

    @property
    def values(self) -> list[SourceValue]:
        return [row for row in self.rows if isinstance(row, SourceValue)]

    @property
    def errors(self) -> list[SourceError]:
        return [row for row in self.rows if isinstance(row, SourceError)]


class WorkbookRefused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.error = SourceError("workbook", code, message, fatal=True)


def _open(source: bytes | BinaryIO) -> CalamineWorkbook:
    stream = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
    try:
        return CalamineWorkbook.from_object(stream)
    except (CalamineError, OSError, ValueError) as problem:
        raise WorkbookRefused("not-a-template", f"the file is not a readable workbook ({problem})") from None


def _metadata(book: CalamineWorkbook) -> WorkbookMetadata:
    if META_SHEET not in book.sheet_names or DATA_SHEET not in book.sheet_names:
        raise WorkbookRefused(
            "not-a-template", "this workbook was not made by this system: download the template workbook and fill it"
        )
    pairs: dict[str, str] = {}
    for cells in book.get_sheet_by_name(META_SHEET).to_python(skip_empty_area=False)[: len(META_KEYS) + 10]:
        if len(cells) >= 2 and isinstance(cells[0], str):
            pairs[cells[0]] = str(cells[1])
    if pairs.get("format") != FORMAT:
        raise WorkbookRefused("not-a-template", "the workbook's metadata is missing or not this system's")
    if pairs.get("format_version") != str(FORMAT_VERSION):
        raise WorkbookRefused(
            "unsupported-version",
            f"workbook format version {shown(pairs.get('format_version', ''))} is not supported "
            f"(this system reads version {FORMAT_VERSION}): download a new template workbook",
        )
    try:
        return WorkbookMetadata(
            format_version=FORMAT_VERSION,
            template=pairs["template"],
            template_version=int(pairs["template_version"]),
            agency=pairs["agency"],
            period=pairs["period"],
            form_hash=pairs["form_hash"],
        )
    except (KeyError, ValueError):
        raise WorkbookRefused("not-a-template", "the workbook's metadata is incomplete") from None


def read_workbook_metadata(source: bytes | BinaryIO) -> WorkbookMetadata:
    """Only the metadata (what the workbook is for); `WorkbookRefused` when it is not a template workbook."""
    book = _open(source)
    try:
        return _metadata(book)
    finally:
        book.close()


def _check(metadata: WorkbookMetadata, form: Form, agency: str, period: Period) -> None:
    if metadata.template != form.template:
        raise WorkbookRefused(
            "wrong-template", f"this workbook is for template {metadata.template}, not {form.template}"
        )
    if metadata.template_version != form.version:
        raise WorkbookRefused(
            "wrong-template-version",
            f"this workbook is for version {metadata.template_version} of {form.template}; "
            f"{period.code} is reported on version {form.version}: download the template again",
        )
    if metadata.agency != agency:
        raise WorkbookRefused("wrong-agency", f"this workbook is for agency {metadata.agency}, not {agency}")
    if metadata.period != period.code:
        raise WorkbookRefused("wrong-period", f"this workbook is for period {metadata.period}, not {period.code}")
    if metadata.form_hash != form_hash(form):
        raise WorkbookRefused(
            "form-changed",
            f"the indicators or ranges of {form.template} version {form.version} changed after this workbook "
            "was made: download the template again",
        )


def read_workbook(
    source: bytes | BinaryIO,
    *,
    form: Form,
    agency: str,
    period: Period | str,
) -> WorkbookContents:
    """The values entered in a template workbook made for (agency, period, form), with cell references.

    A workbook made for anything else is refused whole: one fatal SourceError and no values.
    """
    period = Period.parse(period) if isinstance(period, str) else period
    metadata: WorkbookMetadata | None = None
    try:
        book = _open(source)
        try:
            metadata = _metadata(book)
            _check(metadata, form, agency, period)
            rows = tuple(_values(book, form, agency, period))
        finally:
            book.close()
    except WorkbookRefused as refusal:
        return WorkbookContents(metadata, (refusal.error,))
    return WorkbookContents(metadata, rows)


def _values(book: CalamineWorkbook, form: Form, agency: str, period: Period) -> list[Row]:
    sheet = book.get_sheet_by_name(DATA_SHEET)
    # to_python pads every row to the used width; rows are capped so a huge sheet is not loaded.
    grid = sheet.to_python(skip_empty_area=False, nrows=FIRST_ROW + MAX_ROWS)
    reader = ValueReader(form.indicators)
    rows: list[Row] = []
    for index in range(FIRST_ROW, len(grid)):
        cells = grid[index]

        def cell(column: int, cells: list[Any] = cells) -> Any:
            return cells[column] if column < len(cells) else ""

        code = cell(CODE_COLUMN)
        raw = cell(INPUT_COLUMN)
        comment = cell(COMMENT_COLUMN)
        if not isinstance(code, str) or not code.strip():
            continue  # the note under the table, or an empty row
        location = f"Sheet '{DATA_SHEET}', cell {xl_rowcol_to_cell(index, INPUT_COLUMN)}"
        if _blank(raw):
            if not _blank(comment):
                rows.append(SourceError(location, "empty-value", f"{code}: a comment without a value"))
            continue  # not entered: never read as 0
        rows.append(reader.read(location, agency, period, code.strip(), raw, _comment_text(comment), convert=from_cell))
    return rows


def _blank(cell: Any) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _comment_text(cell: Any) -> object:
    # A comment typed as a number is still a comment.
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return cell if isinstance(cell, str) or _blank(cell) else str(cell)
