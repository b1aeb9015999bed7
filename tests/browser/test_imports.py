"""A clerk imports a month from the template workbook: download it, fill it in a spreadsheet (openpyxl stands
in for Excel), upload it, see the dry run's errors by cell, fix one, upload again, import for real,
and see the values on the month's report (the report-view read model, as the reports API reads it)."""

from __future__ import annotations

import re
from pathlib import Path

import openpyxl
from playwright.sync_api import Page, expect

from domain.identity import Role
from tests.browser.helpers import axe_violations, describe, screenshot
from tests.browser.test_sign_in import sign_in
from tests.conftest import StackFactory
from tests.helpers import open_month

SUBSCRIBERS = "TEL.MOBILE_SUBSCRIBERS"
FIBRE = "TEL.HOUSEHOLDS_FIBRE_PCT"  # a percentage: 0 to 100


def fill(path: Path, values: dict[str, object]) -> Path:
    book = openpyxl.load_workbook(path)
    sheet = book["Số liệu"]
    for row in sheet.iter_rows(min_row=6):
        if row[1].value in values:
            row[7].value = values[str(row[1].value)]
    out = path.with_name(f"filled-{len(values)}-{abs(hash(tuple(values.values())))}.xlsx")
    book.save(out)
    return out


def test_a_clerk_imports_the_template_workbook(page: Page, stack_factory: StackFactory, tmp_path: Path) -> None:
    stack = stack_factory("web", "import-worker", "relay", "project")
    password = stack.person("canbo.p01", Role.AGENCY_REPORTER, "P01")
    period = open_month()
    sign_in(page, stack, "canbo.p01", password)
    page.get_by_role("link", name="Nhập số liệu từ tệp").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Nhập số liệu từ tệp")
    page.goto(f"{stack.web_url}/agencies/P01/periods/{period}/import")
    assert axe_violations(page) == [], describe(axe_violations(page))
    screenshot(page, "import-month")

    with page.expect_download() as downloading:
        page.get_by_role("link", name="Biểu mẫu Excel (.xlsx)").click()
    template = tmp_path / "bieu-mau.xlsx"
    downloading.value.save_as(template)
    assert openpyxl.load_workbook(template)["Số liệu"]["B5"].value == "Mã chỉ tiêu"

    # A value out of range: the dry run lists it by its cell, and stores nothing.
    page.locator("#file").set_input_files(fill(template, {SUBSCRIBERS: 8450123, FIBRE: 120}))
    page.get_by_role("button", name="Kiểm tra tệp").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Kiểm tra tệp")
    refused = page.get_by_role("table", name="Các giá trị bị từ chối")
    expect(refused).to_be_visible(timeout=20_000)
    row = refused.get_by_role("row").filter(has_text=FIBRE)
    expect(row).to_contain_text("Số liệu")
    expect(row).to_contain_text(re.compile(r"ô H\d+"))
    expect(row).to_contain_text("ngoài ngưỡng cho phép")
    expect(page.locator("#count-rejected")).to_have_text("1")
    expect(page.get_by_text("Đây là lần kiểm tra: chưa ghi nhận giá trị nào.")).to_be_visible()
    expect(page.get_by_role("button", name="Nhập chính thức")).to_have_count(0)  # all or nothing: refused
    assert axe_violations(page) == [], describe(axe_violations(page))
    screenshot(page, "import-dry-run-errors")

    # Fixed, uploaded again: the check passes; imported for real.
    page.get_by_role("link", name="Tải tệp khác").click()
    page.locator("#file").set_input_files(fill(template, {SUBSCRIBERS: 8450123, FIBRE: 93.5}))
    page.get_by_role("button", name="Kiểm tra tệp").click()
    expect(page.get_by_text("Mọi giá trị đều có thể nhập.")).to_be_visible(timeout=20_000)
    expect(page.locator("#count-new")).to_have_text("2")
    page.get_by_role("button", name="Nhập chính thức").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Nhập số liệu từ tệp")
    expect(page.get_by_text("Mọi giá trị đã được ghi nhận hoặc đã đúng như trước.")).to_be_visible(timeout=20_000)
    expect(page.locator("#count-new")).to_have_text("2")
    assert axe_violations(page) == [], describe(axe_violations(page))
    screenshot(page, "import-done")

    page.get_by_role("link", name="Xem số liệu của kỳ").click()
    recorded = page.get_by_role("table", name="Số liệu đã ghi nhận của kỳ")
    expect(recorded.get_by_role("row").filter(has_text=SUBSCRIBERS)).to_contain_text("8.450.123")
    expect(recorded.get_by_role("row").filter(has_text=FIBRE)).to_contain_text("93,5")
    expect(page.get_by_role("table").last.get_by_role("row")).to_have_count(4)  # header, 2 checks, 1 import
    screenshot(page, "import-month-after")

    # The same values in the month's entry form, where the clerk would otherwise have typed them.
    page.goto(f"{stack.web_url}/agencies/P01/periods/{period}")
    expect(page.locator(f'input[name="v.{SUBSCRIBERS}"]')).to_have_value("8.450.123")
    expect(page.locator(f'input[name="v.{FIBRE}"]')).to_have_value("93,5")
    expect(page.get_by_role("link", name="Nhập số liệu từ tệp").last).to_have_attribute(
        "href", f"/agencies/P01/periods/{period}/import"
    )


def test_the_upload_form_says_what_is_missing_next_to_the_field(page: Page, stack_factory: StackFactory) -> None:
    stack = stack_factory("web")
    password = stack.person("canbo.p01", Role.AGENCY_REPORTER, "P01")
    sign_in(page, stack, "canbo.p01", password)
    page.goto(f"{stack.web_url}/agencies/P01/periods/{open_month()}/import")
    page.get_by_role("button", name="Kiểm tra tệp").click()
    field = page.locator("#file")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#file-error")).to_have_text("Hãy chọn tệp cần nhập.")
    expect(page.get_by_role("alert")).to_contain_text("Hãy chọn tệp cần nhập.")
    assert axe_violations(page) == [], describe(axe_violations(page))
    # Another agency's month is not this clerk's to import.
    response = page.goto(f"{stack.web_url}/agencies/P79/periods/{open_month()}/import")
    assert response is not None
    assert response.status == 403
