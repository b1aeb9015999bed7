"""The ministry's side on the real stack: the review queue's filters and order, a bulk approval where one
report was recalled meanwhile, and an auditor reading a report (in English too), read-only.
"""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from domain.identity import Role
from tests.browser.test_month_end import TEMPLATE, caught_up, clean
from tests.browser.test_sign_in import sign_in
from tests.conftest import Stack, StackFactory
from tests.helpers import auth, form_indicators, open_month

DEFAULTS = {"integer": 0, "decimal": "0", "percentage": "0", "boolean": False, "text": "-"}
# Hà Nội (Red River Delta), Hồ Chí Minh City (Southeast), Đà Nẵng (North Central and Central Coast).
AGENCIES = ("P01", "P79", "P48")


def submit_through_the_api(stack: Stack, agency: str, period: str) -> str:
    token = stack.token(Role.AGENCY_REPORTER, agency)
    values = [
        {"indicator": i["code"], "value": DEFAULTS[value_type]}
        for value_type in DEFAULTS
        for i in form_indicators(stack.ingest_url, token, TEMPLATE, open_month(0), value_type)
        if i["required"]
    ]
    values.append({"indicator": "POS.ITEMS", "value": 3000 + len(agency)})
    base = f"{stack.ingest_url}/agencies/{agency}/periods/{period}"
    unique = {v["indicator"]: v for v in values}
    assert httpx.post(f"{base}/values", json={"values": list(unique.values())}, headers=auth(token)).status_code == 200
    assert httpx.post(f"{base}/submit", json={}, headers=auth(token)).status_code == 200
    return token


def test_the_queue_filters_orders_and_approves_a_selection(page: Page, stack_factory: StackFactory) -> None:
    stack = stack_factory("web", "ingest", "relay", "project", "reports")
    password = stack.person("thamdinh", Role.MINISTRY_REVIEWER)
    period = open_month(0).code
    tokens = {agency: submit_through_the_api(stack, agency, period) for agency in AGENCIES}
    caught_up(stack, period)

    sign_in(page, stack, "thamdinh", password)
    page.goto(f"{stack.web_url}/review")
    rows = page.get_by_role("table", name="Báo cáo chờ thẩm định").locator("tbody tr")
    expect(rows).to_have_count(3)
    codes = [rows.nth(n).locator(".code").inner_text() for n in range(3)]
    assert codes == list(AGENCIES), "the longest waiting first"
    page.get_by_label("Vùng").select_option(label="Đông Nam Bộ")
    page.get_by_role("button", name="Xem").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("P79")
    clean(page, "review-queue-filtered")

    page.get_by_label("Vùng").select_option(value="")
    page.get_by_role("button", name="Xem").click()
    expect(rows).to_have_count(3)
    for n in (0, 2):  # P01 and P48
        rows.nth(n).get_by_role("checkbox").check()
    # Meanwhile P48 recalls its report through the API: it is no longer awaiting review.
    recall = f"{stack.ingest_url}/agencies/P48/periods/{period}/recall"
    assert httpx.post(recall, json={"reason": "gửi nhầm"}, headers=auth(tokens["P48"])).status_code == 200
    page.get_by_role("button", name="Phê duyệt các báo cáo đã chọn").click()
    expect(page.get_by_role("heading", name="Đã phê duyệt 1 báo cáo")).to_be_visible()
    refused = page.get_by_role("heading", name="1 báo cáo không phê duyệt được")
    expect(refused).to_be_visible()
    expect(page.get_by_text("Báo cáo không còn chờ thẩm định: Đã thu hồi để sửa.")).to_be_visible()
    clean(page, "review-bulk-summary")
    page.get_by_role("link", name="Quay lại danh sách chờ thẩm định").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("P79")


def test_an_auditor_reads_a_report_read_only_in_both_languages(page: Page, stack_factory: StackFactory) -> None:
    stack = stack_factory("web", "ingest", "relay", "project", "reports")
    password = stack.person("kiemtoan", Role.AUDITOR)
    period = open_month(0).code
    submit_through_the_api(stack, "P01", period)
    caught_up(stack, period)
    sign_in(page, stack, "kiemtoan", password)
    page.get_by_label("Mã đơn vị").fill("P01")
    page.get_by_role("button", name="Mở").click()
    expect(page).to_have_url(f"{stack.web_url}/agencies/P01/periods/{period}")
    expect(page.get_by_text("Bạn đang xem báo cáo")).to_be_visible()
    assert page.locator("[data-cell]").count() == 0
    expect(page.locator("#cell-POS-2eITEMS")).to_have_text("3.003")
    expect(page.locator("#review")).to_have_count(0)
    clean(page, "report-read-only-auditor")
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Report for")
    expect(page.locator("#cell-POS-2eITEMS")).to_have_text("3,003")
    expect(page.locator("#report-status")).to_have_text("Submitted, awaiting review")
    clean(page, "report-read-only-english")
