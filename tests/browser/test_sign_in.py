"""Signing in to the web app on the real stack: the person's home page, a refusal that names nothing."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from domain.identity import Role
from tests.browser.helpers import axe_violations, screenshot
from tests.conftest import Stack, StackFactory


def sign_in(page: Page, stack: Stack, username: str, password: str) -> None:
    page.goto(f"{stack.web_url}/sign-in")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(password)
    page.get_by_role("button", name="Đăng nhập").click()


def test_a_clerk_signs_in_and_out(page: Page, stack_factory: StackFactory) -> None:
    stack = stack_factory("web")
    password = stack.person("canbo.p01", Role.AGENCY_REPORTER, "P01")
    page.goto(stack.web_url + "/")
    expect(page).to_have_url(f"{stack.web_url}/sign-in?next=%2F")
    assert axe_violations(page) == []
    screenshot(page, "sign-in")
    sign_in(page, stack, "canbo.p01", password)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Xin chào, Người dùng canbo.p01")
    assert page.context.cookies()[0]["httpOnly"]
    screenshot(page, "home-clerk")
    page.get_by_role("button", name="Đăng xuất").click()
    expect(page.get_by_role("status")).to_have_text("Bạn đã đăng xuất.")
    page.goto(stack.web_url + "/")
    expect(page).to_have_url(f"{stack.web_url}/sign-in?next=%2F")


def test_a_wrong_password_and_an_unknown_name_get_the_same_message(page: Page, stack_factory: StackFactory) -> None:
    stack = stack_factory("web")
    stack.person("thamdinh", Role.MINISTRY_REVIEWER)
    messages = []
    for username in ("thamdinh", "khongtontai"):
        sign_in(page, stack, username, "sai-mat-khau-roi")
        alert = page.get_by_role("alert")
        expect(alert).to_be_visible()
        messages.append(alert.inner_text())
        expect(page.get_by_label("Tên đăng nhập")).to_have_attribute("aria-invalid", "true")
    assert messages == ["Tên đăng nhập hoặc mật khẩu không đúng."] * 2
    assert axe_violations(page) == []
    screenshot(page, "sign-in-refused")


def test_the_english_switch(page: Page, stack_factory: StackFactory) -> None:
    stack = stack_factory("web")
    page.goto(f"{stack.web_url}/sign-in")
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    expect(page.locator("html")).to_have_attribute("lang", "en")
