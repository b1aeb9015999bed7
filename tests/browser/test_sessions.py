"""Sessions and sign-in throttling as a person sees them, on the real stack with short times set through
its settings: an idle session ends, a session ends at its absolute lifetime whatever the activity, signing
out everywhere and a new password end the other sessions, and a throttled sign-in says how long to wait."""

from __future__ import annotations

import re
from dataclasses import replace

from playwright.sync_api import Browser, Page, expect

from domain.identity import Role
from infra.db import connect
from infra.runtime.ports import wait_until
from infra.settings import Settings
from tests.browser.conftest import LOCALE, VIEWPORT
from tests.browser.test_admin import check_page, invalid
from tests.browser.test_sign_in import sign_in
from tests.conftest import Stack, StackFactory
from tests.helpers import store_events

ENDED = "Phiên làm việc đã kết thúc. Vui lòng đăng nhập lại."
EVERYWHERE = "Bạn đã đăng xuất khỏi mọi nơi: mọi phiên làm việc của bạn đã kết thúc."


def session_is(stack: Stack, username: str, condition: str) -> bool:
    """Whether the person's latest session meets an SQL condition (read in the database, so that the
    wait itself sends no request that would keep the session alive)."""
    with connect(stack.settings) as conn:
        row = conn.execute(
            f"SELECT {condition} FROM web_sessions WHERE username = %s ORDER BY created_at DESC LIMIT 1",
            (username,),
        ).fetchone()
    return bool(row and row[0])


def last_seen(stack: Stack, username: str) -> object:
    with connect(stack.settings) as conn:
        row = conn.execute(
            "SELECT last_seen_at FROM web_sessions WHERE username = %s ORDER BY created_at DESC LIMIT 1", (username,)
        ).fetchone()
    assert row is not None
    return row[0]


def ended(page: Page, path: str) -> None:
    """The page sent the person back to sign in, saying the session ended."""
    expect(page).to_have_url(re.compile(rf"/sign-in\?next={re.escape(path)}&ended=session$"))
    expect(page.get_by_role("status")).to_have_text(ENDED)


def test_an_idle_session_ends(page: Page, stack_factory: StackFactory, settings: Settings) -> None:
    stack = stack_factory("web", settings_override=replace(settings, session_idle_minutes=0.1))  # 6 seconds
    password = stack.person("canbo.p01", Role.AGENCY_REPORTER, "P01")
    sign_in(page, stack, "canbo.p01", password)
    seen = last_seen(stack, "canbo.p01")
    page.goto(f"{stack.web_url}/account")
    expect(page.get_by_role("heading", level=1)).to_have_text("Tài khoản của tôi")
    expect(page.locator("main")).to_contain_text("sau 0,1 phút không hoạt động")
    assert last_seen(stack, "canbo.p01") > seen, "each request restarts the idle clock"  # type: ignore[operator]
    wait_until(
        lambda: session_is(stack, "canbo.p01", "last_seen_at + make_interval(secs => idle_seconds) < now()"),
        30,
        interval=0.2,
        what="the session idles past its limit",
    )
    page.reload()
    ended(page, "%2Faccount")
    check_page(page, "sign-in-session-ended")
    sign_in(page, stack, "canbo.p01", password)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Xin chào")


def test_a_session_ends_at_its_lifetime_whatever_the_activity(
    page: Page, stack_factory: StackFactory, settings: Settings
) -> None:
    stack = stack_factory("web", settings_override=replace(settings, session_hours=0.004))  # 14.4 seconds
    password = stack.person("thamdinh", Role.MINISTRY_REVIEWER)
    sign_in(page, stack, "thamdinh", password)
    assert session_is(stack, "thamdinh", "expires_at - created_at = interval '14.4 seconds'")
    assert session_is(stack, "thamdinh", "idle_seconds = 1800"), "the idle limit is the default 30 minutes"

    def active_until_the_end() -> bool:
        # A request from the person while waiting: activity does not extend the absolute end.
        if page.url.endswith("/account"):
            page.reload()
        else:
            page.goto(f"{stack.web_url}/account")
        return session_is(stack, "thamdinh", "expires_at < now()")

    wait_until(active_until_the_end, 40, interval=1, what="the session's absolute end")
    page.reload()
    ended(page, "%2Faccount")


def test_signing_out_everywhere_and_a_new_password_end_the_other_sessions(
    page: Page, browser: Browser, stack_factory: StackFactory
) -> None:
    stack = stack_factory("web")
    password = stack.person("canbo.p01", Role.AGENCY_REPORTER, "P01")
    other = browser.new_context(viewport=VIEWPORT, locale=LOCALE).new_page()
    for each in (page, other):
        sign_in(each, stack, "canbo.p01", password)
    page.goto(f"{stack.web_url}/account")
    sessions = page.locator("table.sessions tbody tr")
    expect(sessions).to_have_count(2)
    expect(sessions.filter(has_text="(phiên này)")).to_have_count(1)
    expect(sessions.first).to_contain_text("Chrome · Linux")
    expect(page.locator("dl.facts")).to_contain_text("Cán bộ nhập liệu của đơn vị")
    check_page(page, "account")

    # A new password: the current one must be right, the new one given twice; the other session ends.
    page.get_by_label("Mật khẩu hiện tại").fill("không phải mật khẩu")
    page.get_by_label("Mật khẩu mới", exact=True).fill("mật-khẩu-mới-2026-của-tôi")
    page.get_by_label("Nhập lại mật khẩu mới").fill("mật-khẩu-mới-2026-của-tôi")
    page.get_by_role("button", name="Đổi mật khẩu").click()
    invalid(page, "current", "Mật khẩu hiện tại không đúng.")
    page.get_by_label("Mật khẩu hiện tại").fill(password)
    page.get_by_label("Mật khẩu mới", exact=True).fill("mật-khẩu-mới-2026-của-tôi")
    page.get_by_label("Nhập lại mật khẩu mới").fill("một-mật-khẩu-khác-hẳn")
    page.get_by_role("button", name="Đổi mật khẩu").click()
    invalid(page, "new_again", "Hai mật khẩu nhập vào không giống nhau.")
    check_page(page, "account-password-errors")
    page.get_by_label("Mật khẩu hiện tại").fill(password)
    page.get_by_label("Mật khẩu mới", exact=True).fill("mật-khẩu-mới-2026-của-tôi")
    page.get_by_label("Nhập lại mật khẩu mới").fill("mật-khẩu-mới-2026-của-tôi")
    page.get_by_role("button", name="Đổi mật khẩu").click()
    expect(page.get_by_role("status")).to_have_text("Đã đổi mật khẩu; các phiên làm việc khác của bạn đã kết thúc.")
    expect(sessions).to_have_count(1)
    other.reload()
    ended(other, "%2F")

    # Signing out everywhere ends this session too, and is recorded.
    sign_in(other, stack, "canbo.p01", "mật-khẩu-mới-2026-của-tôi")
    expect(other.get_by_role("heading", level=1)).to_contain_text("Xin chào")
    page.get_by_role("button", name="Đăng xuất khỏi mọi nơi").click()
    expect(page.get_by_role("status")).to_have_text(
        "Bạn đã đăng xuất khỏi mọi nơi: mọi phiên làm việc của bạn đã kết thúc."
    )
    page.goto(f"{stack.web_url}/account")
    expect(page).to_have_url(re.compile(r"/sign-in\?next=%2Faccount$"))
    other.reload()
    ended(other, "%2F")
    other.context.close()
    kinds = [e.event_type.value for e in store_events(stack.settings) if e.data.get("username") == "canbo.p01"]
    assert kinds == ["AccountCreated", "AccountPasswordSet", "AccountPasswordSet", "AccountSignedOutEverywhere"]


def test_a_throttled_sign_in_says_how_long_to_wait(page: Page, stack_factory: StackFactory, settings: Settings) -> None:
    stack = stack_factory("web", settings_override=replace(settings, signin_failures_limit=3, signin_window_minutes=10))
    password = stack.person("kiemtoan", Role.AUDITOR)
    for attempt in range(3):
        sign_in(page, stack, "kiemtoan", f"sai lần {attempt}")
        expect(page.get_by_role("alert")).to_have_text("Tên đăng nhập hoặc mật khẩu không đúng.")
    with page.expect_response(lambda r: r.url.endswith("/sign-in") and r.request.method == "POST") as refused:
        sign_in(page, stack, "kiemtoan", password)  # even the right password waits
    assert refused.value.status == 429
    expect(page.get_by_role("alert")).to_have_text("Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau 10 phút.")
    expect(page.get_by_label("Tên đăng nhập")).to_have_value("kiemtoan")
    check_page(page, "sign-in-throttled")
