"""A month end on the real stack (web, ingest, relay, projector, reports), as the clerk and the reviewer live it.

The clerk fills the postal group by keyboard (the rest came from another system through the API), sees a
rule error next to a cell as she types, saves; two saves lose their connection (one before it reaches
the server, one after: its answer is lost) and are retried by the page with the same Idempotency-Key,
each value stored exactly once. She submits, recalls, corrects and resubmits; the reviewer returns it
with a reason (refused first without one); the clerk sees the reason on her home page and the form,
corrects and resubmits; the reviewer approves it from the queue. The audit trail shows every step with
its actor, role and reason, and the grants of access. Every page is screenshotted and axe-clean.
"""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import Browser, Page, Request, Route, expect

from domain.identity import Role
from infra.integration_events import VALUE_EVENTS, EventType
from infra.runtime.ports import wait_until
from tests.browser.conftest import LOCALE, VIEWPORT
from tests.browser.helpers import axe_violations, describe, screenshot
from tests.browser.test_sign_in import sign_in
from tests.conftest import Stack, StackFactory
from tests.helpers import auth, form_indicators, open_month, store_events

TEMPLATE = "UNIFIED-PROVINCIAL"
AGENCY = "P01"
DEFAULTS = {"integer": 0, "decimal": "0", "percentage": "0", "boolean": False, "text": "-"}
# The postal group, typed by the clerk in form order (Vietnamese number formats).
TYPED = [
    ("POS.LICENSED_ENTERPRISES", "13"),
    ("POS.SERVICE_POINTS", "120"),
    ("POS.CULTURAL_POST_OFFICES", "100"),
    ("POS.COMMUNES_STAFFED_POINT_PCT", "95,5"),
    ("POS.ITEMS", "3.000"),
    ("POS.LETTERS", "1.800"),
    ("POS.PARCELS", "1.200"),
    ("POS.REVENUE", "1.250,75"),
    ("POS.PUBLIC_SERVICE_REVENUE", "310,5"),
    ("POS.ADMIN_DOSSIERS_BY_POST", "42"),
]
CUT_BEFORE = "POS.ITEMS"  # the connection drops before the request reaches the server
CUT_AFTER = "POS.REVENUE"  # the server stores it, the answer never arrives


def dom(code: str) -> str:
    return code.replace(".", "-2e")


def cell(page: Page, code: str) -> Any:
    return page.locator(f"#cell-{dom(code)}")


def clean(page: Page, name: str) -> None:
    """axe finds no serious or critical violation; the page is kept as a screenshot."""
    violations = axe_violations(page)
    assert violations == [], describe(violations)
    screenshot(page, name)


def prefill(stack: Stack, period: str) -> None:
    """What another system sent through the API: every required indicator outside the postal group; and the
    postal figures of the three months before (the history outliers are judged against)."""
    token = stack.token(Role.AGENCY_REPORTER, AGENCY)
    period_obj = open_month(0)
    values = []
    for value_type, default in DEFAULTS.items():
        for indicator in form_indicators(stack.ingest_url, token, TEMPLATE, period_obj, value_type):
            if indicator["required"] and not indicator["code"].startswith("POS."):
                values.append({"indicator": indicator["code"], "value": default})
    url = f"{stack.ingest_url}/agencies/{AGENCY}/periods/{period}/values"
    assert httpx.post(url, json={"values": values}, headers=auth(token)).status_code == 200
    for back, enterprises in ((1, 12), (2, 12), (3, 13)):
        earlier = open_month(back).code
        history = [{"indicator": "POS.LICENSED_ENTERPRISES", "value": enterprises},
                   {"indicator": "POS.SERVICE_POINTS", "value": 118}]  # fmt: skip
        response = httpx.post(f"{stack.ingest_url}/agencies/{AGENCY}/periods/{earlier}/values",
                              json={"values": history}, headers=auth(token))  # fmt: skip
        assert response.status_code == 200, response.text


def value_events(stack: Stack, period: str, code: str) -> list[Any]:
    return [
        e
        for e in store_events(stack.settings)
        if e.event_type in VALUE_EVENTS and e.agency == AGENCY and e.period == period and e.indicator == code
    ]


def cut_connections(page: Page) -> dict[str, list[str]]:
    """Drop the first save of two cells: one before the server sees it, one after (its answer lost).
    Returns the Idempotency-Key of every save request of those cells, in order."""
    keys: dict[str, list[str]] = {CUT_BEFORE: [], CUT_AFTER: []}

    def before(route: Route, request: Request) -> None:
        keys[CUT_BEFORE].append(request.headers["idempotency-key"])
        if len(keys[CUT_BEFORE]) == 1:
            route.abort("connectionreset")
        else:
            route.continue_()

    def after(route: Route, request: Request) -> None:
        keys[CUT_AFTER].append(request.headers["idempotency-key"])
        if len(keys[CUT_AFTER]) == 1:
            answer = route.fetch()  # the server stores the value...
            assert answer.status == 200
            route.abort("connectionreset")  # ...and the browser never gets the answer
        else:
            route.continue_()

    page.route(f"**/cells/{CUT_BEFORE}", before)
    page.route(f"**/cells/{CUT_AFTER}", after)
    return keys


def new_page(browser: Browser) -> Page:
    return browser.new_context(viewport=VIEWPORT, locale=LOCALE).new_page()


def test_a_month_end(page: Page, browser: Browser, stack_factory: StackFactory) -> None:
    stack = stack_factory("web", "ingest", "relay", "project", "reports")
    clerk_password = stack.person("canbo.p01", Role.AGENCY_REPORTER, AGENCY)
    reviewer_password = stack.person("thamdinh", Role.MINISTRY_REVIEWER)
    period = open_month(0).code
    prefill(stack, period)
    form_url = f"{stack.web_url}/agencies/{AGENCY}/periods/{period}"

    # ---- the clerk's home page: the open month, its deadline, a link to its form
    sign_in(page, stack, "canbo.p01", clerk_password)
    months = page.get_by_role("table", name="Các kỳ báo cáo, kỳ đang mở ở đầu")
    expect(months).to_contain_text("Đang nhập")
    expect(months).to_contain_text("còn ")
    clean(page, "month-end-01-home-clerk")
    months.get_by_role("link").first.click()
    expect(page).to_have_url(form_url)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Báo cáo Tháng")
    expect(page.get_by_text("Tháng trước").first).to_be_visible()
    clean(page, "month-end-02-form")

    # ---- filling the postal group by keyboard; the checks come from the server as she types
    keys = cut_connections(page)
    cell(page, TYPED[0][0]).focus()
    for code, text in TYPED:
        expect(cell(page, code)).to_be_focused()
        if code == "POS.LICENSED_ENTERPRISES":
            page.keyboard.type("1.200")  # a slipped digit: far from her last three months
            expect(page.locator(f"#msg-{dom(code)}")).to_contain_text("Khác xa số liệu 3 tháng trước")
            page.keyboard.press("Control+A")
        if code == "POS.CULTURAL_POST_OFFICES":
            page.keyboard.type("500")  # more commune post offices than service points: a rule error
            message = page.locator(f"#msg-{dom(code)}")
            expect(message).to_contain_text("không vượt quá số điểm phục vụ bưu chính (hiện tại: 500 > 120)")
            expect(cell(page, code)).to_have_attribute("aria-invalid", "true")
            assert f"msg-{dom(code)}" in (cell(page, code).get_attribute("aria-describedby") or "")
            clean(page, "month-end-03-rule-error")
            page.keyboard.press("Control+A")
        page.keyboard.type(text)
        page.keyboard.press("Enter")
    expect(page.locator("#save-status")).to_have_text("Mọi giá trị đã được lưu.", timeout=20_000)
    expect(cell(page, "POS.CULTURAL_POST_OFFICES")).not_to_have_attribute("aria-invalid", "true")
    for code, _ in TYPED:
        expect(page.locator(f"#state-{dom(code)}")).to_have_text("Đã lưu")
    # Each cut save was retried with the key of its edit, and each value is stored exactly once.
    for code in (CUT_BEFORE, CUT_AFTER):
        assert len(keys[code]) == 2, keys
        assert keys[code][0] == keys[code][1], "a retry reuses the edit's Idempotency-Key"
        assert len(value_events(stack, period, code)) == 1, code
    stored = {e.indicator: e.value for e in store_events(stack.settings) if e.period == period and e.indicator}
    assert stored["POS.REVENUE"] == "1250.75"
    assert stored["POS.ITEMS"] == 3000
    assert stored["POS.LICENSED_ENTERPRISES"] == 13
    page.unroute(f"**/cells/{CUT_BEFORE}")
    page.unroute(f"**/cells/{CUT_AFTER}")

    # ---- the history of a cell, read once the audit trail shows her save
    cell(page, "POS.SERVICE_POINTS").focus()
    page.keyboard.press("Alt+L")
    history = page.locator("#history")
    expect(history).to_contain_text("Số điểm phục vụ bưu chính")
    expect(history).to_contain_text("120")
    expect(history).to_contain_text("Người dùng canbo.p01")
    clean(page, "month-end-04-history")

    # ---- submit, after the summary
    summary = page.locator("#summary")
    expect(summary).to_contain_text("Đã nhập đủ chỉ tiêu bắt buộc")
    summary.get_by_role("link", name="Kiểm tra và gửi").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Gửi báo cáo Tháng")
    clean(page, "month-end-05-submit-summary")
    page.get_by_label("Ghi chú gửi cán bộ thẩm định").fill("Số liệu chốt ngày 30/11")
    page.get_by_role("button", name="Gửi báo cáo").click()
    expect(page.locator("#report-status")).to_have_text("Đã gửi, chờ thẩm định")
    expect(page.locator("#banner")).to_contain_text("số liệu bị khóa")
    assert page.locator("[data-cell]").count() == 0, "a submitted report shows no input"
    clean(page, "month-end-06-submitted")

    # ---- recall: refused without a reason, then done; correct with a reason; submit again
    page.get_by_role("button", name="Thu hồi báo cáo").click()
    reason = page.get_by_label("Lý do thu hồi")
    expect(reason).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#recall-reason-error")).to_have_text("Hãy ghi lý do thu hồi báo cáo.")
    reason.fill("Gửi nhầm số điểm phục vụ")
    page.get_by_role("button", name="Thu hồi báo cáo").click()
    expect(page.locator("#report-status")).to_have_text("Đã thu hồi để sửa")
    expect(page.locator("#banner")).to_contain_text("Gửi nhầm số điểm phục vụ")
    clean(page, "month-end-07-recalled")
    # A correction typed before its reason is refused, and sent again once the reason is given.
    cell(page, "POS.SERVICE_POINTS").fill("125")
    cell(page, "POS.SERVICE_POINTS").press("Enter")
    expect(page.locator(f"#state-{dom('POS.SERVICE_POINTS')}")).to_have_text("Chưa lưu")
    expect(page.locator(f"#msg-{dom('POS.SERVICE_POINTS')}")).to_contain_text("hãy ghi lý do sửa")
    page.get_by_label("Lý do sửa số liệu").fill("Số điểm theo báo cáo của Bưu điện tỉnh")
    page.get_by_label("Lý do sửa số liệu").press("Tab")
    expect(page.locator(f"#state-{dom('POS.SERVICE_POINTS')}")).to_have_text("Đã lưu")
    submit_again(page)

    # ---- the reviewer returns it: a reason is required
    caught_up(stack, period)
    reviewer = new_page(browser)
    sign_in(reviewer, stack, "thamdinh", reviewer_password)
    expect(reviewer.get_by_text("1 báo cáo đang chờ thẩm định.")).to_be_visible()
    clean(reviewer, "month-end-08-home-reviewer")
    reviewer.get_by_role("link", name="Thẩm định báo cáo").first.click()
    queue = reviewer.get_by_role("table", name="Báo cáo chờ thẩm định")
    expect(queue).to_contain_text(AGENCY)
    clean(reviewer, "month-end-09-review-queue")
    queue.get_by_role("link").first.click()
    expect(reviewer).to_have_url(form_url)
    expect(reviewer.get_by_text("Bạn đang xem báo cáo")).to_be_visible()
    assert reviewer.locator("[data-cell]").count() == 0, "the reviewer reads, never edits"
    reviewer.locator(f"#history-{dom('POS.SERVICE_POINTS')}").click()
    expect(reviewer.locator("#history")).to_contain_text("Số điểm theo báo cáo của Bưu điện tỉnh")
    clean(reviewer, "month-end-10-review-report")
    reviewer.get_by_role("button", name="Trả lại để sửa").click()
    return_reason = reviewer.get_by_label("Nội dung cần sửa")
    expect(return_reason).to_have_attribute("aria-invalid", "true")
    expect(reviewer.locator("#return-reason-error")).to_contain_text("lý do sẽ được gửi tới đơn vị")
    clean(reviewer, "month-end-11-return-needs-a-reason")
    returned_why = "Số điểm phục vụ chưa khớp với báo cáo của Bưu điện tỉnh (130 điểm)"
    return_reason.fill(returned_why)
    reviewer.get_by_role("button", name="Trả lại để sửa").click()
    expect(reviewer.get_by_role("status")).to_contain_text("Đã trả lại đơn vị")
    expect(reviewer.get_by_text("Không có báo cáo nào chờ thẩm định")).to_be_visible()

    # ---- the clerk sees why, on her home page and on the form; corrects; submits again
    caught_up(stack, period)
    page.goto(stack.web_url + "/")
    attention = page.locator(".attention").first
    expect(attention).to_contain_text("Bị trả lại để sửa")
    expect(attention).to_contain_text(returned_why)
    clean(page, "month-end-12-home-returned")
    attention.get_by_role("link").click()
    expect(page.locator("#banner")).to_contain_text(returned_why)
    clean(page, "month-end-13-form-returned")
    correct(page, "POS.SERVICE_POINTS", "130", "Sửa theo yêu cầu của Bộ")
    submit_again(page)

    # ---- the reviewer approves it from the queue, as a selection
    caught_up(stack, period)
    reviewer.goto(stack.web_url + "/review")
    reviewer.get_by_role("checkbox").first.check()
    reviewer.get_by_role("button", name="Phê duyệt các báo cáo đã chọn").click()
    expect(reviewer.get_by_role("heading", name="Đã phê duyệt 1 báo cáo")).to_be_visible()
    clean(reviewer, "month-end-14-approved-selection")
    page.reload()
    expect(page.locator("#report-status")).to_have_text("Đã phê duyệt")
    expect(page.locator("#banner")).to_contain_text("đề nghị Bộ mở lại báo cáo")
    clean(page, "month-end-15-approved")

    # ---- the audit trail: every step with its actor, role and reason, and the grants of access
    auditor = stack.token(Role.AUDITOR)
    steps = audit(stack, auditor, {"agency": AGENCY, "period": period})
    lifecycle = [
        (e["event_type"], e["actor"], e["role"], e["reason"])
        for e in steps
        if e["event_type"] not in VALUE_EVENTS and e["event_type"] != EventType.SUBMISSION_OPENED
    ]
    clerk, ministry = ("user:canbo.p01", "agency_reporter"), ("user:thamdinh", "ministry_reviewer")
    assert lifecycle == [
        ("ReportSubmitted", *clerk, "Số liệu chốt ngày 30/11"),
        ("ReportRecalled", *clerk, "Gửi nhầm số điểm phục vụ"),
        ("ReportSubmitted", *clerk, None),
        ("ReportReturned", *ministry, returned_why),
        ("ReportSubmitted", *clerk, None),
        ("ReportApproved", *ministry, None),
    ]
    corrections = [
        (e["previous_value"], e["value"], e["reason"]) for e in steps if e["indicator"] == "POS.SERVICE_POINTS"
    ]
    assert corrections == [
        (None, 120, None),
        (120, 125, "Số điểm theo báo cáo của Bưu điện tỉnh"),
        (125, 130, "Sửa theo yêu cầu của Bộ"),
    ]
    grants = audit(stack, auditor, {"event_type": "AccountCreated"})
    assert {(e["data"]["username"], tuple(e["data"]["roles"])) for e in grants} >= {
        ("canbo.p01", ("agency_reporter",)),
        ("thamdinh", ("ministry_reviewer",)),
    }


def correct(page: Page, code: str, text: str, reason: str) -> None:
    """A correction after a first submission: the reason first, then the value (saved on Enter)."""
    page.get_by_label("Lý do sửa số liệu").fill(reason)
    cell(page, code).fill(text)
    cell(page, code).press("Enter")
    expect(page.locator(f"#state-{dom(code)}")).to_have_text("Đã lưu")


def submit_again(page: Page) -> None:
    page.locator("#summary").get_by_role("link", name="Kiểm tra và gửi").click()
    page.get_by_role("button", name="Gửi báo cáo").click()
    expect(page.locator("#report-status")).to_have_text("Đã gửi, chờ thẩm định")


def caught_up(stack: Stack, period: str) -> None:
    """The read models the home pages and the queue read (compliance) show every event stored so far."""
    last = max(e.position for e in store_events(stack.settings))
    response = httpx.get(
        f"{stack.reports_url}/compliance",
        params={"period": period, "min_position": last, "wait_ms": 10_000},
        headers=auth(stack.token(Role.AUDITOR)),
        timeout=15,
    )
    assert response.status_code == 200, response.text


def audit(stack: Stack, token: str, params: dict[str, str]) -> list[dict[str, Any]]:
    """Every event of the reports API's audit trail matching `params`, once it holds the whole log."""
    last = max(e.position for e in store_events(stack.settings))

    def caught_up() -> bool:
        response = httpx.get(f"{stack.reports_url}/audit/events", params={"limit": 1}, headers=auth(token))
        return response.status_code == 200 and response.json()["position"] >= last

    wait_until(caught_up, 30, what="the audit trail holds the whole log")
    events: list[dict[str, Any]] = []
    after = 0
    while True:
        page = httpx.get(
            f"{stack.reports_url}/audit/events", params={**params, "after": after, "limit": 1000}, headers=auth(token)
        ).json()
        events += page["events"]
        if page["next_after"] is None:
            return events
        after = page["next_after"]
