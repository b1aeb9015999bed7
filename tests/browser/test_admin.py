"""The administrators' pages on the real stack: people created, re-roled, renamed, disabled, enabled and
given a new password; a token issued with its secret shown once, then revoked; each refusal next to its
field; each change an event the audit trail shows."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Browser, Page, expect

from domain.identity import Role
from infra.db import connect
from infra.runtime.ports import wait_until
from tests.browser.conftest import LOCALE, VIEWPORT
from tests.browser.helpers import axe_violations, describe, screenshot
from tests.browser.test_sign_in import sign_in
from tests.conftest import Stack, StackFactory
from tests.helpers import auth, open_month

NEW_PASSWORD = "mật-khẩu-mới-của-lan-2026"
USERNAME_RULE = "Tên đăng nhập có từ 3 đến 64 ký tự: a-z, 0-9, “.”, “_” hoặc “-”, bắt đầu bằng chữ cái hoặc chữ số."


def check_page(page: Page, name: str) -> None:
    """No serious or critical accessibility violation, and a screenshot for people to look at."""
    violations = axe_violations(page)
    assert violations == [], describe(violations)
    screenshot(page, name)


def invalid(page: Page, field: str, message: str) -> None:
    """The field is marked invalid and its message is next to it (and tied to it)."""
    control = page.locator(f"#{field}")
    expect(control).to_have_attribute("aria-invalid", "true")
    expect(page.locator(f"#{field}-error")).to_have_text(message)
    assert f"{field}-error" in (control.get_attribute("aria-describedby") or "")


def projected(stack: Stack, username: str) -> None:
    """Wait until the access read model holds the account (the projector runs beside the test)."""

    def found() -> bool:
        with connect(stack.settings) as conn:
            return (
                conn.execute("SELECT 1 FROM rm_access_people WHERE username = %s", (username,)).fetchone() is not None
            )

    wait_until(found, 30, what=f"{username} in the access read model")


def test_an_administrator_manages_a_person(page: Page, browser: Browser, stack_factory: StackFactory) -> None:
    stack = stack_factory("web", "relay", "project")
    admin_password = stack.person("quantri", Role.ADMIN)
    projected(stack, "quantri")
    sign_in(page, stack, "quantri", admin_password)
    page.get_by_role("navigation", name="Danh mục chính").get_by_role("link", name="Người dùng").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Người dùng")
    expect(page.get_by_role("row", name=re.compile("quantri"))).to_be_visible()

    # Every field wrong: each says why, next to itself; nothing is created.
    page.get_by_role("link", name="Thêm người dùng").click()
    page.get_by_label("Tên đăng nhập").fill("Cán bộ!")
    page.get_by_label("Mật khẩu ban đầu", exact=True).fill("ngắn")
    page.get_by_label("Nhập lại mật khẩu ban đầu").fill("ngắn")
    page.get_by_label("Nhập lại mật khẩu ban đầu").press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("Biểu mẫu chưa được lưu")
    invalid(page, "username", USERNAME_RULE)
    invalid(page, "display_name", "Tên hiển thị có từ 1 đến 200 ký tự in được.")
    invalid(page, "agency", "Hãy chọn đơn vị, hoặc chọn Bộ.")
    expect(page.locator("#roles-error")).to_have_text("Hãy chọn ít nhất một vai trò.")
    invalid(page, "password", "Mật khẩu có từ 10 đến 200 ký tự.")
    expect(page.get_by_label("Tên đăng nhập")).to_have_value("Cán bộ!"), "what was typed stays"
    check_page(page, "admin-person-new-errors")

    # A clerk of the ministry is refused next to the roles; then the right account is created.
    page.get_by_label("Tên đăng nhập").fill("canbo.lan")
    page.get_by_label("Tên hiển thị").fill("Nguyễn Thị Lan")
    page.get_by_label("Đơn vị", exact=True).select_option("P01")
    page.get_by_label("Kiểm toán viên").check()
    page.get_by_label("Mật khẩu ban đầu", exact=True).fill("mật-khẩu-ban-đầu-2026")
    page.get_by_label("Nhập lại mật khẩu ban đầu").fill("mật-khẩu-ban-đầu-2026")
    page.get_by_role("button", name="Tạo tài khoản").click()
    expect(page.locator("#roles-error")).to_have_text("Tài khoản của đơn vị chỉ có vai trò cán bộ nhập liệu.")
    page.get_by_label("Kiểm toán viên").uncheck()
    page.get_by_label("Cán bộ nhập liệu của đơn vị").check()
    page.get_by_label("Mật khẩu ban đầu", exact=True).fill("mật-khẩu-ban-đầu-2026")
    page.get_by_label("Nhập lại mật khẩu ban đầu").fill("mật-khẩu-ban-đầu-2026")
    page.get_by_role("button", name="Tạo tài khoản").click()
    expect(page).to_have_url(re.compile(r"/admin/people/canbo\.lan\?done=created$"))
    expect(page.get_by_role("status")).to_have_text("Đã tạo tài khoản.")
    expect(page.locator("dl.facts")).to_contain_text("P01 — ")
    expect(page.locator("dl.facts")).to_contain_text("Cán bộ nhập liệu của đơn vị")

    # The username is taken now.
    page.goto(f"{stack.web_url}/admin/people/new")
    page.get_by_label("Tên đăng nhập").fill("canbo.lan")
    page.get_by_role("button", name="Tạo tài khoản").click()
    invalid(page, "username", "Tên đăng nhập này đã có người dùng: hãy chọn tên khác.")

    # The clerk signs in elsewhere.
    clerk = browser.new_context(viewport=VIEWPORT, locale=LOCALE).new_page()
    sign_in(clerk, stack, "canbo.lan", "mật-khẩu-ban-đầu-2026")
    expect(clerk.get_by_role("heading", level=1)).to_contain_text("Nguyễn Thị Lan")

    page.goto(f"{stack.web_url}/admin/people/canbo.lan")
    page.get_by_label("Tên hiển thị mới").fill("Nguyễn Thị Lan Anh")
    page.get_by_role("button", name="Đổi tên").click()
    expect(page.get_by_role("status")).to_have_text("Đã đổi tên hiển thị.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Nguyễn Thị Lan Anh")
    check_page(page, "admin-person")

    # Disabling needs a reason; the clerk's open session ends at once.
    page.get_by_role("button", name="Khoá tài khoản").click()
    invalid(page, "reason", "Hãy nêu lý do: lý do được lưu trong nhật ký kiểm toán.")
    page.get_by_label("Lý do", exact=True).fill("Chuyển công tác")
    page.get_by_role("button", name="Khoá tài khoản").click()
    expect(page.get_by_role("status")).to_contain_text("Đã khoá tài khoản")
    expect(page.locator("dl.facts")).to_contain_text("Đã khoá — Chuyển công tác")
    clerk.reload()
    expect(clerk).to_have_url(re.compile(r"/sign-in\?next=%2F&ended=session$"))
    expect(clerk.get_by_role("status")).to_have_text("Phiên làm việc đã kết thúc. Vui lòng đăng nhập lại.")
    sign_in(clerk, stack, "canbo.lan", "mật-khẩu-ban-đầu-2026")
    expect(clerk.get_by_role("alert")).to_have_text("Tên đăng nhập hoặc mật khẩu không đúng.")

    page.get_by_label("Lý do", exact=True).fill("Trở lại đơn vị")
    page.get_by_role("button", name="Mở khoá tài khoản").click()
    expect(page.get_by_role("status")).to_have_text("Đã mở khoá tài khoản.")
    sign_in(clerk, stack, "canbo.lan", "mật-khẩu-ban-đầu-2026")
    expect(clerk.get_by_role("heading", level=1)).to_contain_text("Nguyễn Thị Lan Anh")

    # A reset password: the two must match; then the old one no longer works and the session ended.
    page.get_by_label("Mật khẩu mới", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Nhập lại mật khẩu mới").fill("khác-hẳn-mật-khẩu-kia")
    page.get_by_role("button", name="Đặt lại mật khẩu").click()
    invalid(page, "password_again", "Hai mật khẩu nhập vào không giống nhau.")
    page.get_by_label("Mật khẩu mới", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Nhập lại mật khẩu mới").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Đặt lại mật khẩu").click()
    expect(page.get_by_role("status")).to_contain_text("Đã đặt lại mật khẩu")
    clerk.reload()
    expect(clerk).to_have_url(re.compile(r"ended=session$"))
    sign_in(clerk, stack, "canbo.lan", NEW_PASSWORD)
    expect(clerk.get_by_role("heading", level=1)).to_contain_text("Nguyễn Thị Lan Anh")
    clerk.context.close()

    # An administrator cannot take their own administrator role, nor disable themself.
    page.goto(f"{stack.web_url}/admin/people/quantri")
    expect(page.get_by_text("Bạn không thể tự khoá tài khoản của mình")).to_be_visible()
    page.get_by_label("Kiểm toán viên").check()
    page.get_by_label("Quản trị viên").uncheck()
    page.get_by_role("button", name="Lưu vai trò").click()
    expect(page.locator("#roles-error")).to_have_text(
        "Quản trị viên không thể tự thu hồi vai trò quản trị của chính mình."
    )

    # The list finds the person without accents, and by filters.
    page.goto(f"{stack.web_url}/admin/people")
    page.get_by_label("Tên đăng nhập hoặc họ tên").fill("nguyen thi")
    page.get_by_label("Tên đăng nhập hoặc họ tên").press("Enter")
    rows = page.locator("table.data tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("canbo.lan")
    expect(rows.first).to_contain_text("Đặt mật khẩu")
    page.get_by_role("link", name="Xoá bộ lọc").click()
    expect(rows).to_have_count(2)
    check_page(page, "admin-people")
    page.get_by_label("Đơn vị", exact=True).select_option("ministry")
    page.get_by_role("button", name="Lọc").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("quantri")


def test_an_administrator_issues_a_token_and_revokes_it(
    page: Page, browser: Browser, stack_factory: StackFactory
) -> None:
    stack = stack_factory("web", "ingest", "relay", "project", "reports")
    admin_password = stack.person("quantri", Role.ADMIN)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=stack.web_url)
    sign_in(page, stack, "quantri", admin_password)
    page.get_by_role("navigation", name="Danh mục chính").get_by_role("link", name="Token API").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Token API")
    page.get_by_role("link", name="Cấp token").click()

    page.get_by_role("button", name="Cấp token").click()
    invalid(page, "label", "Nhãn của token (hệ thống nào giữ token) có từ 1 đến 200 ký tự in được.")
    invalid(page, "role", "Hãy chọn vai trò của token.")
    invalid(page, "agency", "Hãy chọn đơn vị, hoặc chọn Bộ.")
    page.get_by_label("Nhãn").fill("DHIS2 của Sở Hà Nội")
    page.get_by_label("Vai trò", exact=True).select_option("agency_reporter")
    page.get_by_label("Đơn vị", exact=True).select_option("ministry")
    page.get_by_role("button", name="Cấp token").click()
    invalid(page, "role", "Token của cán bộ nhập liệu phải ghi rõ đơn vị.")
    check_page(page, "admin-token-new-errors")
    page.get_by_label("Đơn vị", exact=True).select_option("P01")
    page.get_by_role("button", name="Cấp token").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Đã cấp token")
    secret = page.get_by_label("Mã bí mật").input_value()
    assert secret.startswith("rpt_")
    page.get_by_role("button", name="Sao chép").click()
    expect(page.locator("#copy-status")).to_have_text("Đã sao chép.")
    assert page.evaluate("navigator.clipboard.readText()") == secret
    check_page(page, "admin-token-issued")
    name = page.locator("dd.token-name").inner_text()

    form = f"{stack.ingest_url}/templates/UNIFIED-PROVINCIAL/form"
    period = {"period": open_month().code}
    assert httpx.get(form, params=period, headers=auth(secret)).status_code == 200

    # The token's page never shows the secret again.
    page.get_by_role("link", name="Trang của token").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("DHIS2 của Sở Hà Nội")
    assert secret not in page.content()
    expect(page.locator("dl.facts")).to_contain_text("Còn hiệu lực")
    page.get_by_role("button", name="Thu hồi token").click()
    invalid(page, "reason", "Hãy nêu lý do: lý do được lưu trong nhật ký kiểm toán.")
    page.get_by_label("Lý do", exact=True).fill("Sở đổi sang hệ thống mới")
    page.get_by_role("button", name="Thu hồi token").click()
    expect(page.get_by_role("status")).to_contain_text("Đã thu hồi token")
    expect(page.locator("dl.facts")).to_contain_text("Đã thu hồi")
    expect(page.locator("dl.facts")).to_contain_text("Sở đổi sang hệ thống mới")
    check_page(page, "admin-token")
    assert httpx.get(form, params=period, headers=auth(secret)).status_code == 401

    page.goto(f"{stack.web_url}/admin/tokens?status=revoked")
    expect(page.locator("table.data tbody tr")).to_have_count(1)
    expect(page.locator("table.data tbody tr").first).to_contain_text(name)
    check_page(page, "admin-tokens")

    # A form sent twice (a double click) issues one token, and the second answer shows no secret.
    _issue_twice(page, stack)

    # The audit trail shows who gave and took access, and never the secret.
    auditor = stack.token(Role.AUDITOR)
    trail = f"{stack.reports_url}/audit/events"

    def granted() -> list[str]:
        events = httpx.get(trail, params={"actor": "user:quantri"}, headers=auth(auditor)).json()["events"]
        return [e["event_type"] for e in events]

    wait_until(lambda: "ApiTokenRevoked" in granted(), 30, what="the audit trail shows the revocation")
    assert granted().count("ApiTokenIssued") == 2
    everything = httpx.get(trail, params={"limit": 1000}, headers=auth(auditor)).text
    assert secret not in everything


def _issue_twice(page: Page, stack: Stack) -> None:
    page.goto(f"{stack.web_url}/admin/tokens/new")
    fields = {
        "csrf_token": page.locator("input[name=csrf_token]").first.input_value(),
        "form_key": page.locator("input[name=form_key]").input_value(),
        "label": "Cổng dữ liệu của Bộ",
        "role": "auditor",
        "agency": "ministry",
        "valid_until": "",
    }
    first = page.request.post(f"{stack.web_url}/admin/tokens", form=fields)
    again = page.request.post(f"{stack.web_url}/admin/tokens", form=fields)
    assert (first.status, again.status) == (201, 201)
    assert 'id="secret"' in first.text()
    assert 'id="secret"' not in again.text()
    assert "mã bí mật không hiển thị lại" in again.text()
    page.goto(f"{stack.web_url}/admin/tokens?q=cong+du+lieu")
    expect(page.locator("table.data tbody tr")).to_have_count(1)
