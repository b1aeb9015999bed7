"""Template workbooks: what the written file really holds (checked with openpyxl), reading back, refusals."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

import openpyxl
import pytest
import xlsxwriter  # type: ignore[import-untyped]

from domain.templates import Form
from domain.values import Value
from services.interchange.rows import SourceError, SourceValue
from services.interchange.workbook import (
    DATA_SHEET,
    FORMAT_VERSION,
    META_SHEET,
    form_hash,
    read_workbook,
    read_workbook_metadata,
    write_workbook,
)
from tests.unit.interchange_support import form

FORM = form("UNIFIED-PROVINCIAL", "2026-10")
CURRENT: dict[str, Value] = {
    "POS.ITEMS": 1200,
    "POS.REVENUE": Decimal("1234.5"),
    "TEL.REVENUE": Decimal("0.1234567890123456789"),  # more digits than a spreadsheet number holds
    "TEL.MOBILE_SUBSCRIBERS": 1_234_567_890_123_456,  # past 15 digits: kept as text
    "TEL.HOUSEHOLDS_FIBRE_PCT": Decimal(100),
    "DX.HAS_APPROVED_PLAN": True,
    "SEC.HAS_SOC": False,
    "DX.NOTES": "=1+1 không phải công thức",
    "POS.LETTERS": 0,
}


def written(**kwargs: Any) -> bytes:
    arguments: dict[str, Any] = {"agency": "P01", "period": "2026-10", "agency_name": "Sở KH&CN Hà Nội"}
    arguments.update(kwargs)
    return write_workbook(kwargs.pop("form", FORM), **{k: v for k, v in arguments.items() if k != "form"})


def row_of(sheet: Any, code: str) -> int:
    for row in range(1, sheet.max_row + 1):
        if sheet.cell(row, 2).value == code:
            return row
    raise AssertionError(f"{code} is not on the sheet")


def filled(data: bytes, entries: dict[str, Any], comments: dict[str, str] | None = None) -> bytes:
    """What a person does: open the workbook, type into input cells, save (with openpyxl)."""
    book = openpyxl.load_workbook(io.BytesIO(data))
    sheet = book[DATA_SHEET]
    for code, value in entries.items():
        sheet.cell(row_of(sheet, code), 8).value = value
    for code, text in (comments or {}).items():
        sheet.cell(row_of(sheet, code), 9).value = text
    output = io.BytesIO()
    book.save(output)
    return output.getvalue()


# ---- what the file holds -------------------------------------------------------


def test_layout_headers_and_frozen_panes() -> None:
    book = openpyxl.load_workbook(io.BytesIO(written()))
    sheet = book[DATA_SHEET]
    assert book.sheetnames == [DATA_SHEET, META_SHEET]
    assert [cell.value for cell in sheet[5]] == [
        "STT",
        "Mã chỉ tiêu",
        "Tên chỉ tiêu",
        "Nhóm chỉ tiêu",
        "Đơn vị tính",
        "Giá trị cho phép",
        "Giá trị hiện tại",
        "Giá trị nhập",
        "Ghi chú",
    ]
    assert sheet.freeze_panes == "C6"
    codes = [sheet.cell(row, 2).value for row in range(6, 6 + len(FORM.indicators))]
    assert codes == list(FORM.indicators)
    first = FORM.indicators["POS.LICENSED_ENTERPRISES"]
    assert sheet["C6"].value == first.name_vi + " (*)"  # required
    assert sheet["D6"].value == "Bưu chính"
    assert sheet["E6"].value == "doanh nghiệp"


def test_every_input_cell_has_a_validation_by_value_type() -> None:
    book = openpyxl.load_workbook(io.BytesIO(written()))
    sheet = book[DATA_SHEET]
    rules = {str(dv.sqref): dv for dv in sheet.data_validations.dataValidation}

    def rule(code: str) -> Any:
        return rules[f"H{row_of(sheet, code)}"]

    integer = rule("POS.ITEMS")
    assert (integer.type, integer.formula1, integer.formula2) == ("whole", "0", "999999999999999")
    assert integer.showErrorMessage
    assert integer.errorStyle in (None, "stop")
    percentage = rule("TEL.HOUSEHOLDS_FIBRE_PCT")
    assert (percentage.type, percentage.formula1, percentage.formula2) == ("decimal", "0", "100")
    assert rule("TEL.REVENUE").type == "decimal"
    boolean = rule("DX.HAS_APPROVED_PLAN")
    assert (boolean.type, boolean.formula1) == ("list", '"Có,Không"')
    text = rule("DX.NOTES")
    assert (text.type, text.operator, text.formula1) == ("textLength", "lessThanOrEqual", "4000")
    last = 5 + len(FORM.indicators)
    comments = rules[f"I6:I{last}"]
    assert (comments.type, comments.formula1) == ("textLength", "4000")
    input_cells = {f"H{row}" for row in range(6, last + 1)}
    assert input_cells <= set(rules)


def test_everything_but_the_input_cells_is_locked_and_the_sheet_protected() -> None:
    book = openpyxl.load_workbook(io.BytesIO(written()))
    sheet = book[DATA_SHEET]
    assert sheet.protection.sheet is True
    assert sheet.protection.formatColumns is False  # openpyxl: False = allowed
    last = 5 + len(FORM.indicators)
    for row in (6, 30, last):
        for column in range(1, 8):
            assert sheet.cell(row, column).protection.locked is True
        assert sheet.cell(row, 8).protection.locked is False  # value
        assert sheet.cell(row, 9).protection.locked is False  # comment
    assert sheet["A1"].protection.locked is True
    assert sheet.cell(row_of(sheet, "DX.NOTES"), 8).number_format == "@"  # text stays as typed


def test_metadata_sheet_is_very_hidden_and_named() -> None:
    book = openpyxl.load_workbook(io.BytesIO(written()))
    meta = book[META_SHEET]
    assert meta.sheet_state == "veryHidden"
    assert meta.protection.sheet is True
    pairs = {meta.cell(row, 1).value: meta.cell(row, 2).value for row in range(1, 8)}
    assert pairs == {
        "format": "reporting-template-workbook",
        "format_version": str(FORMAT_VERSION),
        "template": "UNIFIED-PROVINCIAL",
        "template_version": "2",
        "agency": "P01",
        "period": "2026-10",
        "form_hash": form_hash(FORM),
    }
    names = book.defined_names
    last = 5 + len(FORM.indicators)
    assert names["RPT_INPUT"].attr_text == f"'{DATA_SHEET}'!$H$6:$H${last}"
    assert names["RPT_CODES"].attr_text == f"'{DATA_SHEET}'!$B$6:$B${last}"
    assert names["RPT_COMMENTS"].attr_text == f"'{DATA_SHEET}'!$I$6:$I${last}"
    assert names["RPT_CURRENT"].attr_text == f"'{DATA_SHEET}'!$G$6:$G${last}"
    assert names["RPT_META_FORM_HASH"].attr_text == f"'{META_SHEET}'!$B$7"
    assert names["RPT_META_AGENCY"].attr_text == f"'{META_SHEET}'!$B$5"


def test_form_hash_is_stable_and_follows_types_ranges_and_order() -> None:
    assert form_hash(FORM) == form_hash(form("UNIFIED-PROVINCIAL", "2026-10"))
    assert len(form_hash(FORM)) == 64
    items = dict(FORM.indicators)
    renamed = {**items, "POS.ITEMS": replace(items["POS.ITEMS"], name_vi="Tên mới")}
    assert form_hash(replace(FORM, indicators=renamed)) == form_hash(FORM)  # names do not matter
    ranged = {**items, "POS.ITEMS": replace(items["POS.ITEMS"], minimum=Decimal("1"))}
    assert form_hash(replace(FORM, indicators=ranged)) != form_hash(FORM)
    same_range = {
        **items,
        "TEL.HOUSEHOLDS_FIBRE_PCT": replace(items["TEL.HOUSEHOLDS_FIBRE_PCT"], maximum=Decimal("100.0")),
    }
    assert form_hash(replace(FORM, indicators=same_range)) == form_hash(FORM)
    reordered = dict(reversed(list(items.items())))
    assert form_hash(replace(FORM, indicators=reordered)) != form_hash(FORM)


def test_text_is_never_written_as_a_formula() -> None:
    book = openpyxl.load_workbook(io.BytesIO(written(current=CURRENT, prefill=True)))
    sheet = book[DATA_SHEET]
    cell = sheet.cell(row_of(sheet, "DX.NOTES"), 8)
    assert (cell.data_type, cell.value) == ("s", "=1+1 không phải công thức")


# ---- reading -------------------------------------------------------------------


def test_a_blank_template_holds_nothing_entered() -> None:
    contents = read_workbook(written(current=CURRENT), form=FORM, agency="P01", period="2026-10")
    assert contents.rows == ()  # current values are shown, not entered; blanks are never 0
    assert contents.metadata is not None
    assert contents.metadata.form_hash == form_hash(FORM)


def test_round_trip_of_prefilled_values_is_exact() -> None:
    contents = read_workbook(written(current=CURRENT, prefill=True), form=FORM, agency="P01", period="2026-10")
    assert contents.errors == []
    assert {v.indicator: v.value for v in contents.values} == CURRENT
    assert all(v.location.startswith(f"Sheet '{DATA_SHEET}', cell H") for v in contents.values)


def test_values_typed_by_a_person_with_cell_references() -> None:
    data = filled(
        written(),
        {"POS.ITEMS": 1500, "TEL.REVENUE": 12.75, "DX.HAS_APPROVED_PLAN": "Không", "DX.NOTES": "Ghi chú 0123"},
        comments={"POS.ITEMS": "Số liệu Tổng công ty Bưu điện", "TEL.REVENUE": "   "},
    )
    contents = read_workbook(data, form=FORM, agency="P01", period="2026-10")
    assert contents.errors == []
    book = openpyxl.load_workbook(io.BytesIO(data))
    row = row_of(book[DATA_SHEET], "POS.ITEMS")
    got = {v.indicator: (v.location, v.value, v.comment) for v in contents.values}
    assert got["POS.ITEMS"] == (f"Sheet 'Số liệu', cell H{row}", 1500, "Số liệu Tổng công ty Bưu điện")
    assert got["TEL.REVENUE"][1:] == (Decimal("12.75"), None)
    assert got["DX.HAS_APPROVED_PLAN"][1] is False
    assert got["DX.NOTES"][1] == "Ghi chú 0123"


def test_partly_invalid_workbook_locates_every_bad_cell() -> None:
    data = filled(
        written(),
        {
            "POS.ITEMS": "nhiều",  # text in a number cell (validation bypassed by pasting)
            "POS.LETTERS": -3,  # below the minimum
            "POS.PARCELS": 12.5,  # not a whole number
            "TEL.HOUSEHOLDS_FIBRE_PCT": "1,5",  # Vietnamese decimal comma
            "TEL.MOBILE_SUBSCRIBERS": 1e16,  # beyond what a spreadsheet number holds exactly
            "TEL.BTS_STATIONS": datetime(2026, 10, 1),  # a date
            "DX.HAS_APPROVED_PLAN": "Chưa rõ",
            "POS.SERVICE_POINTS": 420,  # good
        },
        comments={"POS.REVENUE": "ghi chú mà không có số liệu"},
    )
    contents = read_workbook(data, form=FORM, agency="P01", period="2026-10")
    sheet = openpyxl.load_workbook(io.BytesIO(data))[DATA_SHEET]

    def at(code: str) -> str:
        return f"Sheet 'Số liệu', cell H{row_of(sheet, code)}"

    assert sorted((e.location, e.code) for e in contents.errors) == sorted(
        [
            (at("POS.ITEMS"), "wrong-type"),
            (at("POS.LETTERS"), "out-of-range"),
            (at("POS.PARCELS"), "wrong-type"),
            (at("TEL.HOUSEHOLDS_FIBRE_PCT"), "ambiguous-number"),
            (at("TEL.MOBILE_SUBSCRIBERS"), "imprecise-number"),
            (at("TEL.BTS_STATIONS"), "wrong-type"),
            (at("DX.HAS_APPROVED_PLAN"), "wrong-type"),
            (at("POS.REVENUE"), "empty-value"),
        ]
    )
    assert [(v.location, v.indicator, v.value) for v in contents.values] == [
        (at("POS.SERVICE_POINTS"), "POS.SERVICE_POINTS", 420)
    ]


def test_a_row_whose_code_was_changed_is_an_unknown_indicator() -> None:
    book = openpyxl.load_workbook(io.BytesIO(written()))
    sheet = book[DATA_SHEET]
    row = row_of(sheet, "POS.ITEMS")
    sheet.cell(row, 2).value = "POS.SOMETHING_ELSE"
    sheet.cell(row, 8).value = 5
    output = io.BytesIO()
    book.save(output)
    contents = read_workbook(output.getvalue(), form=FORM, agency="P01", period="2026-10")
    assert [(e.location, e.code) for e in contents.errors] == [(f"Sheet 'Số liệu', cell H{row}", "unknown-indicator")]


# ---- refusals ------------------------------------------------------------------


def refusal(data: bytes, expected_form: Form = FORM, agency: str = "P01", period: str = "2026-10") -> SourceError:
    contents = read_workbook(data, form=expected_form, agency=agency, period=period)
    assert contents.values == []
    assert len(contents.errors) == 1
    error = contents.errors[0]
    assert error.fatal
    assert error.location == "workbook"
    return error


def test_refuses_another_template() -> None:
    unit_form = form("UNIT-MIC-VNTA", "2026-10")
    error = refusal(written(form=unit_form), FORM)
    assert error.code == "wrong-template"
    assert "UNIT-MIC-VNTA" in error.message


def test_refuses_another_template_version() -> None:
    old_form = form("UNIFIED-PROVINCIAL", "2025-01")
    assert old_form.version == 1
    error = refusal(written(form=old_form, period="2026-10"), FORM)
    assert error.code == "wrong-template-version"


def test_refuses_another_agency_and_another_period() -> None:
    assert refusal(written(agency="P04")).code == "wrong-agency"
    assert refusal(written(period="2026-09")).code == "wrong-period"


def test_refuses_a_workbook_of_a_form_that_changed_since() -> None:
    items = dict(FORM.indicators)
    changed = replace(FORM, indicators={**items, "POS.ITEMS": replace(items["POS.ITEMS"], maximum=Decimal(10**9))})
    error = refusal(written(), changed)
    assert error.code == "form-changed"
    assert "download the template again" in error.message


def plain_workbook(sheets: dict[str, list[list[str]]], very_hidden: str | None = None) -> bytes:
    output = io.BytesIO()
    book = xlsxwriter.Workbook(output, {"in_memory": True})
    for name, rows in sheets.items():
        sheet = book.add_worksheet(name)
        for index, row in enumerate(rows):
            sheet.write_row(index, 0, row)
        if name == very_hidden:
            sheet.very_hidden()
    book.close()
    return output.getvalue()


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"indicator,value\nPOS.ITEMS,1\n",
        b"PK\x03\x04 broken zip",
        plain_workbook({"Sheet1": [["POS.ITEMS", "1"]]}),
        plain_workbook({DATA_SHEET: [["x"]], META_SHEET: [["format", "something-else"]]}, very_hidden=META_SHEET),
        plain_workbook(
            {DATA_SHEET: [["x"]], META_SHEET: [["format", "reporting-template-workbook"], ["format_version", "1"]]}
        ),
    ],
    ids=["empty", "csv", "broken-zip", "other-workbook", "other-metadata", "incomplete-metadata"],
)
def test_refuses_what_is_not_a_template_workbook(data: bytes) -> None:
    assert refusal(data).code == "not-a-template"


def test_refuses_an_unknown_format_version() -> None:
    book = openpyxl.load_workbook(io.BytesIO(written()))
    book[META_SHEET]["B2"].value = "99"
    output = io.BytesIO()
    book.save(output)
    error = refusal(output.getvalue())
    assert error.code == "unsupported-version"


def test_metadata_alone() -> None:
    metadata = read_workbook_metadata(written())
    assert (metadata.template, metadata.template_version, metadata.agency, metadata.period) == (
        "UNIFIED-PROVINCIAL",
        2,
        "P01",
        "2026-10",
    )


def test_source_value_type() -> None:
    contents = read_workbook(written(current={"POS.ITEMS": 7}, prefill=True), form=FORM, agency="P01", period="2026-10")
    assert contents.rows == (SourceValue(contents.rows[0].location, "P01", "2026-10", "POS.ITEMS", 7),)
