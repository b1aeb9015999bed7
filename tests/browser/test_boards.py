"""The leaders' display board, the compliance board and derived reports in a browser, on the real stack.

Values arrive through the write API while the pages are open: the pages change by themselves
(Server-Sent Events, no reload), drill down to a value's history, and download what they show.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from domain.identity import Role
from domain.periods import Period
from infra.runtime.ports import wait_until
from tests.browser.helpers import axe_violations, describe, screenshot
from tests.browser.test_sign_in import sign_in
from tests.conftest import Stack, StackFactory
from tests.helpers import auth, open_month

TEMPLATE = "UNIFIED-PROVINCIAL"
LIVE = 15_000  # ms: a change reaches an open page well within this (target: 2 s)
DEFAULTS: dict[str, object] = {"integer": 0, "decimal": "0", "percentage": "0", "boolean": False, "text": "-"}


def vi_number(text: str) -> Decimal:
    """A number as the Vietnamese pages write it: 1.234.567,5."""
    return Decimal(text.strip().replace(".", "").replace(",", "."))


def _form(stack: Stack, token: str, period: Period) -> list[dict[str, Any]]:
    answer = httpx.get(
        f"{stack.ingest_url}/templates/{TEMPLATE}/form", params={"period": period.code}, headers=auth(token)
    )
    answer.raise_for_status()
    indicators: list[dict[str, Any]] = answer.json()["indicators"]
    return indicators


def _enter(stack: Stack, token: str, agency: str, period: Period, values: dict[str, object], reason: str = "") -> int:
    body: dict[str, Any] = {"values": [{"indicator": code, "value": value} for code, value in values.items()]}
    if reason:
        body["reason"] = reason
    answer = httpx.post(
        f"{stack.ingest_url}/agencies/{agency}/periods/{period}/values", json=body, headers=auth(token), timeout=15
    )
    assert answer.status_code == 200, answer.text
    position: int = answer.json()["position"]
    return position


def _visible_in_rollups(stack: Stack, position: int) -> None:
    """Read-your-writes through the reports API: the roll-ups hold the write at `position`."""
    seen = httpx.get(
        f"{stack.reports_url}/rollups",
        params={"period": open_month().code, "min_position": position, "wait_ms": 10_000},
        headers=auth(stack.token(Role.AUDITOR)),
        timeout=15,
    )
    assert seen.status_code == 200, seen.text


def _live(page: Page) -> None:
    """The page's stream is open: from now on it hears of every change."""
    expect(page.locator("[data-live-state]")).to_have_attribute("data-state", "connected", timeout=LIVE)


def _reviewer(page: Page, stack: Stack) -> None:
    password = stack.person("lanhdao", Role.MINISTRY_REVIEWER)
    sign_in(page, stack, "lanhdao", password)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Xin chào")


def test_an_open_board_changes_by_itself_and_downloads_the_numbers_it_shows(
    page: Page, stack_factory: StackFactory, tmp_path: Path
) -> None:
    stack = stack_factory("ingest", "relay", "project", "web")
    _reviewer(page, stack)
    token = stack.token(Role.AGENCY_REPORTER, "P01")
    period = open_month()
    integers = [i["code"] for i in _form(stack, token, period) if i["value_type"] == "integer"]
    first, second = integers[0], integers[1]
    page.goto(f"{stack.web_url}/boards?period={period}&indicator={first}&indicator={second}&focus={first}")
    tile = page.locator(f'li.tile[data-indicator="{first}"] [data-figure]')
    expect(tile).to_have_text("—")
    _live(page)
    page.evaluate("window.sameDocument = true")  # gone if the page reloaded

    _enter(stack, token, "P01", period, {first: 4321, second: 1_250_000})
    expect(tile).to_have_text("4.321", timeout=LIVE)
    assert page.evaluate("window.sameDocument === true"), "the board changed without a reload"
    expect(page.locator(f'li.tile[data-indicator="{second}"] [data-figure]')).to_have_text("1.250.000")
    expect(page.locator(f'li.tile[data-indicator="{first}"] [data-reported]')).to_contain_text("1/")
    trend_cell = page.locator(f'#trend-table tr[data-period="{period}"] [data-column="value"]')
    expect(trend_cell).to_have_text("4.321")
    expect(page.locator('#regions-table tr[data-region="red_river_delta"] [data-column="value"]')).to_have_text("4.321")
    expect(page.locator('#agencies-table tr[data-agency="P01"] [data-column="value"]')).to_have_text("4.321")
    # A second value, then a correction: the board follows each.
    _enter(stack, token, "P01", period, {first: 5000})
    expect(tile).to_have_text("5.000", timeout=LIVE)
    assert page.evaluate("window.sameDocument === true")
    expect(page.locator("[data-chart='trend-chart'] svg")).to_be_attached()  # the SVG renderer
    assert axe_violations(page) == [], describe(axe_violations(page))
    screenshot(page, "board")

    # The workbook holds the numbers the page shows.
    shown = {
        code: vi_number(page.locator(f'li.tile[data-indicator="{code}"] [data-figure]').inner_text())
        for code in (first, second)
    }
    trend_shown = {
        row.get_attribute("data-period"): row.locator('[data-column="value"]').inner_text()
        for row in page.locator("#trend-table tbody tr").all()
    }
    with page.expect_download() as download:
        page.get_by_role("link", name="Excel (.xlsx)").click()
    path = tmp_path / "board.xlsx"
    download.value.save_as(path)
    workbook = load_workbook(path, read_only=True)
    assert workbook.sheetnames == ["Chỉ tiêu chính", "Xu hướng", "Các vùng", "Các đơn vị"]
    key_figures = list(workbook["Chỉ tiêu chính"].iter_rows(values_only=True))
    assert key_figures[0][:5] == ("Mã chỉ tiêu", "Chỉ tiêu", "Đơn vị tính", "Kỳ báo cáo", "Số liệu")
    assert {row[0]: Decimal(str(row[4])) for row in key_figures[1:]} == shown
    trend = {row[0]: row[1] for row in list(workbook["Xu hướng"].iter_rows(values_only=True))[1:]}
    assert set(trend) == set(trend_shown)
    for code, text in trend_shown.items():
        assert (text == "—" and trend[code] is None) or vi_number(text) == Decimal(str(trend[code]))
    agencies = {row[1]: row[3] for row in list(workbook["Các đơn vị"].iter_rows(values_only=True))[1:]}
    assert agencies["P01"] == 5000


def test_drill_down_from_the_nation_to_a_value_and_its_audit_trail(page: Page, stack_factory: StackFactory) -> None:
    stack = stack_factory("ingest", "relay", "project", "reports", "web")
    _reviewer(page, stack)
    token = stack.token(Role.AGENCY_REPORTER, "P01")
    period = open_month()
    indicator = next(i for i in _form(stack, token, period) if i["value_type"] == "integer")
    code = indicator["code"]
    _enter(stack, token, "P01", period, {code: 1200})
    corrected = _enter(stack, token, "P01", period, {code: 1350})
    _visible_in_rollups(stack, corrected)

    page.goto(f"{stack.web_url}/boards?period={period}&indicator={code}&focus={code}")
    expect(page.locator('#agencies-table tr[data-agency="P01"] [data-column="value"]')).to_have_text("1.350")
    page.locator("#region-red_river_delta").click()  # national -> region
    expect(page.get_by_role("heading", level=1)).to_have_text("Bảng điều hành: Đồng bằng sông Hồng")
    expect(page.locator("nav.breadcrumb [aria-current=page]")).to_have_text("Đồng bằng sông Hồng")
    assert page.locator("#regions-table").count() == 0, "no region ranking inside a region"
    assert axe_violations(page) == [], describe(axe_violations(page))
    screenshot(page, "board-region")

    page.locator("#agency-P01").click()  # region -> agency
    expect(page.get_by_role("heading", level=1)).to_have_text("Sở Khoa học và Công nghệ Hà Nội")
    form_link = page.get_by_role("link", name="Mở biểu mẫu báo cáo tháng này của đơn vị")
    expect(form_link).to_have_attribute("href", f"/agencies/P01/periods/{period}")
    row = page.locator(f'#report-table tr[data-indicator="{code}"]')
    expect(row.locator('[data-column="value"]')).to_have_text("1.350")
    assert axe_violations(page) == [], describe(axe_violations(page))
    screenshot(page, "board-agency")

    row.get_by_role("link").click()  # the agency's report -> one value's history
    expect(page.get_by_role("heading", level=1)).to_have_text(indicator["name_vi"])
    expect(page.locator("[data-current]")).to_have_text("1.350")
    history = page.locator("#history-table tbody tr")
    expect(history).to_have_count(2)
    expect(history.nth(0).locator("td").nth(1)).to_have_text("Sửa")
    expect(history.nth(0).locator('[data-column="value"]')).to_have_text("1.350")
    expect(history.nth(0).locator("td").nth(3)).to_have_text("1.200")
    expect(history.nth(1).locator("td").nth(1)).to_have_text("Nhập mới")
    assert history.nth(0).get_attribute("data-position") == str(corrected)
    audit = page.locator("#audit-link")
    expect(audit).to_have_attribute("href", f"/audit/events?agency=P01&period={period}&indicator={code}")
    assert axe_violations(page) == [], describe(axe_violations(page))
    screenshot(page, "board-value-history")

    # The audit trail the link leads to holds the same events (the reports API's trail, by position).
    trail = httpx.get(
        f"{stack.reports_url}/audit/events",
        params={"agency": "P01", "period": period.code, "indicator": code, "min_position": corrected},
        headers=auth(stack.token(Role.AUDITOR)),
        timeout=15,
    )
    assert trail.status_code == 200, trail.text
    events = trail.json()["events"]
    shown = [int(r.get_attribute("data-position") or 0) for r in history.all()]
    assert sorted(shown) == [e["position"] for e in events]
    assert [e["value"] for e in events] == [1200, 1350]


def _submit_report(stack: Stack, token: str, agency: str, period: Period) -> None:
    required = {i["code"]: DEFAULTS[i["value_type"]] for i in _form(stack, token, period) if i["required"]}
    _enter(stack, token, agency, period, required)
    answer = httpx.post(f"{stack.ingest_url}/agencies/{agency}/periods/{period}/submit", headers=auth(token))
    assert answer.status_code == 200, answer.text


def test_the_compliance_board_follows_a_submission_and_exports_what_it_shows(
    page: Page, stack_factory: StackFactory, tmp_path: Path
) -> None:
    stack = stack_factory("ingest", "relay", "project", "web")
    _reviewer(page, stack)
    period = open_month()
    page.goto(f"{stack.web_url}/compliance?from={period}&to={period}")
    status = page.locator('#board-table tr[data-agency="P01"] [data-column="status"]')
    expect(status).to_have_text("Chưa nhập số liệu")
    national = page.locator('#rates tr[data-scope="national"]')
    expected = int(national.locator('[data-column="expected"]').inner_text())
    expect(national.locator('[data-column="reported"]')).to_have_text("0")
    _live(page)
    page.evaluate("window.sameDocument = true")

    _submit_report(stack, stack.token(Role.AGENCY_REPORTER, "P01"), "P01", period)
    expect(status).to_have_text("Đã gửi muộn", timeout=LIVE)  # the month's deadline has passed
    assert page.evaluate("window.sameDocument === true")
    expect(national.locator('[data-column="reported"]')).to_have_text("1")
    expect(page.locator('#rates tr[data-scope="region:red_river_delta"] [data-column="reported"]')).to_have_text("1")
    row = page.locator('#board-table tr[data-agency="P01"]')
    assert row.locator('[data-column="first"]').inner_text() != "—"
    expect(row.locator('[data-column="times"]')).to_have_text("1")
    assert axe_violations(page) == [], describe(axe_violations(page))
    screenshot(page, "compliance")

    # Filters from the keyboard: a region, then the search field, then Enter.
    page.get_by_label("Vùng").select_option("red_river_delta")
    page.get_by_label("Mã hoặc tên đơn vị").fill("Hà")
    page.get_by_label("Mã hoặc tên đơn vị").press("Enter")
    expect(page).to_have_url(re.compile(r"region=red_river_delta.*q=H%C3%A0"))
    names = page.locator("#board-table tbody tr td:nth-child(2)").all_inner_texts()
    assert names
    assert all("Hà" in name for name in names)
    # Sorting by a column header: days late, the most first.
    page.get_by_label("Mã hoặc tên đơn vị").fill("")
    page.get_by_role("button", name="Xem").click()
    page.locator("#sort-days_late").click()
    expect(page.locator("th[aria-sort=descending]")).to_contain_text("Số ngày trễ")
    late = [int(t) for t in page.locator('#board-table [data-column="days_late"]').all_inner_texts()]
    assert late == sorted(late, reverse=True)
    shown_codes = page.locator("#board-table tbody tr").evaluate_all("rows => rows.map(r => r.dataset.agency)")

    with page.expect_download() as download:
        page.get_by_role("link", name="Excel (.xlsx)").click()
    path = tmp_path / "compliance.xlsx"
    download.value.save_as(path)
    workbook = load_workbook(path, read_only=True)
    rows = list(workbook["Tình hình báo cáo"].iter_rows(values_only=True))
    assert rows[0][:6] == ("Mã", "Đơn vị", "Vùng", "Loại đơn vị", "Kỳ báo cáo", "Trạng thái")
    assert [r[0] for r in rows[1:]] == shown_codes, "the rows shown, in the order shown"
    assert {r[0]: r[5] for r in rows[1:]}["P01"] == "Đã gửi muộn"
    rates = list(workbook["Tỷ lệ"].iter_rows(values_only=True))
    in_region = int(page.locator("#rates tr.total [data-column='expected']").inner_text())
    assert rates[1][:5] == ("Đồng bằng sông Hồng", period.code, in_region, 1, 0)

    # Across months: a rate per month, and the chart drawn as SVG.
    page.goto(f"{stack.web_url}/compliance?from={period.previous()}&to={period}")
    expect(page.locator("[data-chart='rates-chart'] svg")).to_be_attached()
    assert int(page.locator('#rates tr[data-scope="national"] [data-column="expected"]').inner_text()) == 2 * expected
    assert axe_violations(page) == [], describe(axe_violations(page))
    screenshot(page, "compliance-months")


def test_derived_reports_are_listed_produced_and_defined_in_a_form_that_checks_each_field(
    page: Page, stack_factory: StackFactory, tmp_path: Path
) -> None:
    stack = stack_factory("ingest", "relay", "project", "reports", "web")
    _reviewer(page, stack)
    token = stack.token(Role.AGENCY_REPORTER, "P01")
    period = open_month()
    entered = _enter(stack, token, "P01", period, {"TEL.MOBILE_SUBSCRIBERS": 9_100_000, "POS.REVENUE": 125})
    _visible_in_rollups(stack, entered)
    page.get_by_role("link", name="Báo cáo tổng hợp").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Báo cáo tổng hợp")
    expect(page.locator("#definitions tbody tr")).to_have_count(14)
    assert axe_violations(page) == [], describe(axe_violations(page))
    screenshot(page, "reports")

    page.get_by_role("link", name="Định nghĩa loại báo cáo mới").click()
    page.get_by_label("Mã").fill("bad code!")
    page.get_by_role("button", name="Lưu loại báo cáo").click()
    expect(page.locator("#code")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#code-error")).to_contain_text("chữ cái Latinh")
    expect(page.locator("#name_vi-error")).to_have_text("Hãy đặt tên tiếng Việt cho báo cáo.")
    expect(page.locator("#period_kind-error")).to_have_text("Hãy chọn tần suất lập báo cáo.")
    expect(page.locator("#indicators-error")).to_have_text("Hãy chọn ít nhất một chỉ tiêu.")
    expect(page.locator("#name_vi")).to_have_attribute("aria-describedby", "name_vi-error")
    expect(page.get_by_label("Mã")).to_have_value("bad code!")  # what was typed is kept
    assert axe_violations(page) == [], describe(axe_violations(page))
    screenshot(page, "report-definition-errors")

    page.get_by_label("Mã").fill("SECTOR-TWO-MONTHLY")
    page.get_by_label("Tên tiếng Việt").fill("Báo cáo tháng thuê bao và doanh thu")
    page.get_by_label("Hằng tháng").check()
    page.get_by_label("Toàn quốc").check()
    page.locator("#indicator-TEL\\.MOBILE_SUBSCRIBERS").check()
    page.locator("#indicator-POS\\.REVENUE").check()
    page.get_by_role("button", name="Lưu loại báo cáo").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Báo cáo tháng thuê bao và doanh thu")
    expect(page.get_by_role("status").filter(has_text="Đã lưu loại báo cáo")).to_be_visible()
    page.get_by_label("Kỳ báo cáo").select_option(period.code)
    page.get_by_role("button", name="Xem").click()
    cell = page.locator('#report-table tr[data-row="TEL.MOBILE_SUBSCRIBERS"] [data-value]')
    expect(cell).to_have_text("9.100.000", timeout=LIVE)
    assert axe_violations(page) == [], describe(axe_violations(page))
    screenshot(page, "report")
    with page.expect_download() as download:
        page.get_by_role("link", name="Excel (.xlsx)").click()
    path = tmp_path / "report.xlsx"
    download.value.save_as(path)
    rows = list(load_workbook(path, read_only=True).active.iter_rows(values_only=True))
    values = {r[0]: r[5] for r in rows[1:]}
    assert values == {"TEL.MOBILE_SUBSCRIBERS": 9_100_000, "POS.REVENUE": 125}

    # The same code again is refused next to the code.
    page.goto(f"{stack.web_url}/reports/definitions/new")
    page.get_by_label("Mã").fill("SECTOR-TWO-MONTHLY")
    page.get_by_label("Tên tiếng Việt").fill("Trùng mã")
    page.get_by_label("Hằng quý").check()
    page.get_by_label("Toàn quốc").check()
    page.locator("#indicator-POS\\.REVENUE").check()
    page.get_by_role("button", name="Lưu loại báo cáo").click()
    expect(page.locator("#code-error")).to_have_text("Đã có loại báo cáo mang mã này.")


def test_a_board_can_be_paused_read_in_english_and_printed(page: Page, stack_factory: StackFactory) -> None:
    stack = stack_factory("ingest", "relay", "project", "reports", "web")
    _reviewer(page, stack)
    token = stack.token(Role.AGENCY_REPORTER, "P01")
    period = open_month()
    code = next(i["code"] for i in _form(stack, token, period) if i["value_type"] == "integer")
    page.goto(f"{stack.web_url}/boards?period={period}&indicator={code}&focus={code}")
    tile = page.locator(f'li.tile[data-indicator="{code}"] [data-figure]')
    _live(page)
    page.evaluate(
        """() => { window.cancelled = 0;
        document.addEventListener("htmx:beforeRequest", (e) => { if (e.defaultPrevented) window.cancelled++; }); }"""
    )
    pause = page.get_by_role("button", name="Tạm dừng tự cập nhật")
    pause.press("Enter")  # from the keyboard
    expect(pause).to_have_attribute("aria-pressed", "true")
    position = _enter(stack, token, "P01", period, {code: 777})
    # The change came, and was not fetched (page.wait_for_function would need 'unsafe-eval').
    wait_until(lambda: page.evaluate("window.cancelled") > 0, LIVE / 1000, what="a fetch held back")
    expect(tile).to_have_text("—")
    pause.click()
    expect(pause).to_have_attribute("aria-pressed", "false")
    expect(tile).to_have_text("777", timeout=LIVE)  # resuming fetches what was missed
    visible = httpx.get(
        f"{stack.reports_url}/rollups",
        params={"indicator": code, "period": period.code, "min_position": position},
        headers=auth(stack.token(Role.AUDITOR)),
        timeout=15,
    )
    assert visible.json()["figures"][0]["value"] == 777, "the board shows what the reports API answers"

    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Display board")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(tile).to_have_text("777")
    assert axe_violations(page) == [], describe(axe_violations(page))
    screenshot(page, "board-en")

    page.emulate_media(media="print")
    expect(page.locator(".site-nav")).to_be_hidden()
    expect(page.locator("form.filters")).to_be_hidden()
    expect(page.locator("#trend-table")).to_be_visible()
    expect(page.locator("[data-chart='trend-chart'] svg")).to_be_visible()
    screenshot(page, "board-print")


def test_people_without_a_ministry_role_do_not_see_the_boards(page: Page, stack_factory: StackFactory) -> None:
    stack = stack_factory("relay", "project", "web")
    password = stack.person("canbo.p01", Role.AGENCY_REPORTER, "P01")
    sign_in(page, stack, "canbo.p01", password)
    nav = page.get_by_role("navigation", name="Danh mục chính")
    expect(nav.get_by_role("link", name="Báo cáo tổng hợp")).to_be_visible()
    assert nav.get_by_role("link", name="Bảng điều hành").count() == 0
    for path in ("/boards", "/compliance", "/boards/agencies/P01", "/reports/definitions/new"):
        response = page.goto(stack.web_url + path)
        assert response is not None
        assert response.status == 403, path
    rows = page.locator("#definitions tbody tr")

    def listed() -> bool:
        page.goto(stack.web_url + "/reports")  # until the projector has applied the seed's definitions
        return rows.count() == 4

    wait_until(listed, 30, interval=0.5, what="the report types listed")
    codes = rows.evaluate_all("rows => rows.map(r => r.dataset.code)")
    assert set(codes) == {"DX-HALF-YEAR", "DX-PUBLIC-SERVICES-MONTHLY", "SEC-INCIDENTS-MONTHLY", "PUBLISHING-HALF-YEAR"}
    assert axe_violations(page) == [], describe(axe_violations(page))
