"""The auditors' console on the real stack (web, write and read APIs, relay, projector, checkpointer).

- the audit trail: filters, keyset paging both ways, read-your-writes, downloads, a clerk's own trail;
- time travel: a report and a roll-up as of a moment before a correction show the earlier value;
- the signed checkpoints, newest first, paged, with the key's fingerprint;
- verification in the browser: an honest proof passes; a tampered proof, a tampered checkpoint and a
  wrong verifier key each fail, saying which check failed and why;
- axe finds no serious violation on any page; a screenshot of each.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from openpyxl import load_workbook
from playwright.sync_api import Page, Route, expect

from domain.identity import Role
from infra.runtime.ports import wait_until
from services.audit.signing import SigningKey
from tests.browser.helpers import axe_violations, describe, screenshot
from tests.browser.test_sign_in import sign_in
from tests.conftest import Stack, StackFactory
from tests.helpers import auth, form_indicators, open_month

SERVICES = ("ingest", "relay", "project", "reports", "web", "checkpoint")
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


@dataclass
class Console:
    """A running stack, a signed-in auditor's page, and the API credentials to make history with."""

    stack: Stack
    page: Page
    clerk: str  # P01's API token
    admin: str
    codes: list[str]  # integer indicators of P01's form

    @property
    def period(self) -> str:
        return open_month().code

    def enter(self, values: dict[str, int], reason: str | None = None) -> int:
        """Values for P01 through the write API; the position of the last event."""
        body: dict[str, Any] = {"values": [{"indicator": k, "value": v} for k, v in values.items()]}
        if reason:
            body["reason"] = reason
        response = httpx.post(
            f"{self.stack.ingest_url}/agencies/P01/periods/{self.period}/values",
            json=body,
            headers=auth(self.clerk),
            timeout=30,
        )
        assert response.status_code == 200, response.text
        position: int = response.json()["position"]
        return position

    def checkpoint(self) -> dict[str, Any]:
        """A checkpoint signed now, covering every event stored so far."""
        response = httpx.post(
            f"{self.stack.reports_url}/audit/checkpoints",
            params={"wait_ms": 10_000},
            headers=auth(self.admin),
            timeout=15,
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def trail(self, min_position: int, **params: Any) -> list[dict[str, Any]]:
        """The reports API's trail (the same read model the page shows), once it holds `min_position`."""
        response = httpx.get(
            f"{self.stack.reports_url}/audit/events",
            params={"limit": 500, "min_position": min_position, "wait_ms": 10_000, **params},
            headers=auth(self.admin),
            timeout=15,
        )
        assert response.status_code == 200, response.text
        events: list[dict[str, Any]] = response.json()["events"]
        return events

    def open(self, path: str) -> None:
        self.page.goto(self.stack.web_url + path)

    def accessible(self, name: str) -> None:
        violations = axe_violations(self.page)
        assert violations == [], describe(violations)
        screenshot(self.page, name)


def start(stack_factory: StackFactory, page: Page, role: Role = Role.AUDITOR, agency: str | None = None) -> Console:
    stack = stack_factory(*SERVICES)
    username = "kiemtoan" if agency is None else f"canbo.{agency.lower()}"
    password = stack.person(username, role, agency)
    clerk, admin = stack.token(Role.AGENCY_REPORTER, "P01"), stack.token(Role.ADMIN)
    codes = [i["code"] for i in form_indicators(stack.ingest_url, clerk, "UNIFIED-PROVINCIAL", open_month(), "integer")]
    sign_in(page, stack, username, password)
    try:
        expect(page.get_by_role("heading", level=1)).to_contain_text("Xin chào")
    except AssertionError as failed:  # say what the web app logged
        raise AssertionError(stack.services["web"].log_path.read_text()[-3000:]) from failed
    return Console(stack, page, clerk, admin, codes)


def rows(page: Page) -> list[int]:
    """The positions of the trail rows shown."""
    return [int(p) for p in page.locator("table.trail tbody tr").evaluate_all("rs => rs.map(r => r.dataset.position)")]


def test_the_trail_filters_pages_reads_its_writes_and_downloads(stack_factory: StackFactory, page: Page) -> None:
    console = start(stack_factory, page)
    first, second = console.codes[0], console.codes[1]
    console.enter({code: 1000 + n for n, code in enumerate(console.codes[:30])})
    corrected = console.enter({first: 1234567}, reason="Sửa theo biên bản kiểm tra")

    # Linked from the change just made: the page waits for it and marks its row.
    console.open(f"/audit/events?agency=P01&min_position={corrected}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Nhật ký kiểm toán")
    mine = page.locator(f"#event-{corrected}")
    expect(mine).to_contain_text("thay đổi vừa thực hiện")
    expect(mine).to_contain_text("Sửa giá trị")
    expect(mine.locator(".value-change .before")).to_have_text("1.000")  # Vietnamese grouping
    expect(mine.locator(".value-change .after")).to_have_text("1.234.567")
    expect(mine).to_contain_text("Sửa theo biên bản kiểm tra")
    expect(mine).to_contain_text("Cán bộ nhập liệu của đơn vị")
    console.accessible("audit-trail")

    # Filters: the indicator and an event type, through the form.
    page.get_by_label("Mã chỉ tiêu").fill(first)
    page.get_by_text("Loại sự kiện").click()
    page.get_by_label("Sửa giá trị").check()
    page.get_by_role("button", name="Xem").click()
    expect(page.locator("table.trail tbody tr")).to_have_count(1)
    assert rows(page) == [corrected]
    page.get_by_label("Sửa giá trị").uncheck()
    page.get_by_role("button", name="Xem").click()
    expect(page.locator("table.trail tbody tr")).to_have_count(2)
    expect(page.locator("table.trail tbody tr").first).to_contain_text("Nhập giá trị")

    # Keyset paging both ways over P01's events, 25 a page, from the newest.
    expected = [e["position"] for e in console.trail(corrected, agency="P01")]
    assert len(expected) > 25
    console.open("/audit/events?agency=P01&limit=25")
    expect(page.locator("table.trail tbody tr")).to_have_count(25)
    newest = rows(page)
    assert newest == expected[-25:]
    page.get_by_role("link", name="‹ Trước đó").click()
    expect(page.locator("table.trail tbody tr")).to_have_count(len(expected) - 25)
    assert rows(page) == expected[: len(expected) - 25]
    expect(page.get_by_text("‹ Trước đó")).to_have_attribute("aria-disabled", "true")
    page.get_by_role("link", name="Sau đó ›").click()
    expect(page.locator("table.trail tbody tr")).to_have_count(25)
    assert rows(page) == newest

    # The downloads hold exactly the filtered trail, the same files as the reports API's.
    console.open(f"/audit/events?agency=P01&indicator={second}")
    with page.expect_download() as download_csv:
        page.get_by_role("link", name="CSV").click()
    text = Path(download_csv.value.path()).read_text(encoding="utf-8-sig")
    table = list(csv.DictReader(io.StringIO(text)))
    assert [(r["indicator"], r["value"]) for r in table] == [(second, "1001")]
    api_csv = httpx.get(
        f"{console.stack.reports_url}/audit/events.csv",
        params={"agency": "P01", "indicator": second},
        headers=auth(console.admin),
    )
    assert api_csv.content == Path(download_csv.value.path()).read_bytes()
    with page.expect_download() as download_xlsx:
        page.get_by_role("link", name="XLSX").click()
    sheet = load_workbook(io.BytesIO(Path(download_xlsx.value.path()).read_bytes()), read_only=True).active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][:3] == ("position", "occurred_at", "event_type")
    assert [(r[6], r[8]) for r in values[1:]] == [(second, 1001)]

    # A wrong filter: said next to the field, and nothing is listed.
    page.get_by_label("Kỳ báo cáo").fill("2026-13")
    page.get_by_role("button", name="Xem").click()
    field = page.get_by_label("Kỳ báo cáo")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#period-error")).to_have_text(
        "Hãy nhập kỳ báo cáo dạng 2026-10 (tháng), 2026Q3 (quý), 2026S1 (6 tháng) hoặc 2026 (năm)."
    )
    assert "period-error" in (field.get_attribute("aria-describedby") or "")
    expect(page.locator("table.trail")).to_have_count(0)
    console.accessible("audit-trail-invalid-filter")


def test_a_clerk_reads_only_their_own_agencys_trail(stack_factory: StackFactory, page: Page) -> None:
    console = start(stack_factory, page, Role.AGENCY_REPORTER, "P01")
    other = console.stack.token(Role.AGENCY_REPORTER, "P79")
    position = console.enter({console.codes[0]: 5})
    response = httpx.post(
        f"{console.stack.ingest_url}/agencies/P79/periods/{console.period}/values",
        json={"values": [{"indicator": console.codes[0], "value": 6}]},
        headers=auth(other),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    console.open(f"/audit/events?min_position={response.json()['position']}")
    expect(page.locator(f"#event-{position}")).to_be_visible()
    agencies = page.locator("table.trail tbody tr td:nth-child(4)").all_inner_texts()
    assert agencies
    assert all(text.startswith("P01") for text in agencies)
    expect(page.get_by_label("Đơn vị", exact=True)).to_have_value("P01")
    console.open("/audit/events?agency=P79")
    expect(page.get_by_role("heading", level=1)).to_have_text("Không có quyền")
    console.open("/audit/as-of/rollups")
    expect(page.get_by_role("heading", level=1)).to_have_text("Không có quyền")
    tabs = page.request.get(console.stack.web_url + "/audit").text()
    assert "/audit/as-of/rollups" not in tabs  # the tab it may not open is not offered


def _instant_after(event: dict[str, Any]) -> datetime:
    """The first whole second after an event's time (an auditor types seconds)."""
    at = datetime.fromisoformat(event["occurred_at"].replace("Z", "+00:00"))
    return at.replace(microsecond=0) + timedelta(seconds=1)


def test_a_report_and_a_rollup_as_of_a_moment_show_the_value_before_its_correction(
    stack_factory: StackFactory, page: Page
) -> None:
    console = start(stack_factory, page)
    changed, kept, later = console.codes[:3]
    before = console.enter({changed: 100, kept: 200})
    entered = next(e for e in console.trail(before, agency="P01") if e["position"] == before)
    moment = _instant_after(entered)
    wait_until(lambda: datetime.now(UTC) > moment + timedelta(milliseconds=100), 5, what="the next second")
    console.enter({changed: 150}, reason="Số liệu đã được rà soát lại")
    console.enter({later: 7})

    # By position, through the form.
    console.open("/audit/as-of/report")
    page.get_by_label("Đơn vị", exact=True).select_option("P01")
    page.get_by_label("Kỳ báo cáo").fill(console.period)
    page.get_by_label("Tại một vị trí trong nhật ký").check()
    page.get_by_role("textbox", name="Vị trí trong nhật ký").fill(str(before))
    page.get_by_role("button", name="So sánh").click()
    row = page.locator(f'table.compare tr[data-indicator="{changed}"]')
    expect(row.locator(".then-value")).to_have_text("100")
    expect(row.locator(".now-value")).to_have_text("150")
    expect(row.locator(".change-label")).to_have_text("đã thay đổi")
    expect(page.locator(f'table.compare tr[data-indicator="{kept}"] .change-label')).to_have_text("không đổi")
    expect(page.locator(f'table.compare tr[data-indicator="{later}"] .change-label')).to_have_text("mới có sau đó")
    expect(page.locator(".summary")).to_contain_text("1 đã thay đổi")
    expect(page.locator(".summary")).to_contain_text("1 mới có sau đó")
    console.accessible("audit-as-of-report")
    page.emulate_media(media="print")  # on paper: the comparison without the form and the menus
    expect(page.locator("form.filters")).to_be_hidden()
    expect(page.locator(".audit-tabs")).to_be_hidden()
    expect(row.locator(".change-label")).to_be_visible()
    screenshot(page, "audit-as-of-report-print")
    page.emulate_media(media="screen")

    # By instant (Vietnam time, to the second): the same earlier value; only the differences.
    console.open("/audit/as-of/report")
    page.get_by_label("Đơn vị", exact=True).select_option("P01")
    page.get_by_label("Kỳ báo cáo").fill(console.period)
    page.get_by_role("textbox", name="Thời điểm (giờ Việt Nam)").fill(
        moment.astimezone(VIETNAM).strftime("%Y-%m-%dT%H:%M:%S")
    )
    page.get_by_label("Chỉ hiện các khác biệt").check()
    page.get_by_role("button", name="So sánh").click()
    expect(page.locator(".moment-card.then")).to_contain_text(f"Nhật ký đến vị trí {before:,}".replace(",", "."))
    expect(page.locator("table.compare tbody tr")).to_have_count(2)
    expect(row.locator(".then-value")).to_have_text("100")
    expect(row.locator(".now-value")).to_have_text("150")

    # The trail's "report then" link of the first value lands on the same view.
    console.open(f"/audit/events?agency=P01&indicator={changed}")
    page.locator("table.trail tbody tr").first.get_by_role("link", name=re.compile("^Báo cáo khi đó")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Báo cáo tại một thời điểm")
    expect(row.locator(".then-value")).to_have_text("100")

    # The national roll-up of the indicator, then and today.
    console.open(f"/audit/as-of/rollups?period={console.period}&indicator={changed}&when=position&position={before}")
    figure = page.locator(f'table.compare tr[data-indicator="{changed}"]')
    expect(figure.locator(".then-value")).to_have_text("100")
    expect(figure.locator(".now-value")).to_contain_text("150")
    expect(figure.locator(".now-value")).to_contain_text("(đã thay đổi)")
    expect(figure.locator(".change-label")).to_have_text("đã thay đổi")
    console.accessible("audit-as-of-rollups")

    # A position the trail does not hold yet: said next to the field.
    console.open(f"/audit/as-of/report?agency=P01&period={console.period}&when=position&position=999999999")
    expect(page.get_by_role("textbox", name="Vị trí trong nhật ký")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#position-error")).to_contain_text("Nhật ký kiểm toán mới có dữ liệu đến vị trí")


def test_the_checkpoints_newest_first_with_the_keys_fingerprint(stack_factory: StackFactory, page: Page) -> None:
    console = start(stack_factory, page)
    sizes = []
    for n in range(3):
        console.enter({console.codes[n]: n + 1})
        sizes.append(console.checkpoint()["tree_size"])
    keys = httpx.get(f"{console.stack.reports_url}/audit/public-key", headers=auth(console.admin)).json()["keys"]
    fingerprint = hashlib.sha256(base64.b64decode(keys[0]["public_key"])).hexdigest()
    grouped = " ".join(fingerprint[i : i + 4] for i in range(0, 64, 4))

    console.open("/audit/checkpoints?limit=2")
    expect(page.get_by_role("heading", level=1)).to_have_text("Điểm kiểm tra đã ký")
    shown = page.locator("table.checkpoints td.tree-size")
    expect(shown).to_have_count(2)
    newest = [int(t.replace(".", "")) for t in shown.all_inner_texts()]
    assert newest == sorted(sizes, reverse=True)[:2]
    first_row = page.locator("table.checkpoints tbody tr").first
    expect(first_row.locator("code.fingerprint")).to_have_text(grouped)
    expect(first_row.locator("code.key-id")).to_have_text(keys[0]["key_id"])
    console.accessible("audit-checkpoints")

    page.get_by_role("link", name="Cũ hơn ›").click()
    expect(shown.first).to_have_text(f"{sizes[0]}")
    page.get_by_role("link", name="‹ Mới hơn").click()
    assert [int(t.replace(".", "")) for t in shown.all_inner_texts()] == newest

    with page.expect_download() as note:
        first_row.get_by_role("link", name=re.compile("^Bản ký")).click()
    text = Path(note.value.path()).read_text(encoding="utf-8")
    assert text.split("\n")[1] == str(newest[0])
    assert "\n\n\u2014 " in text

    console.open("/audit")
    expect(page.locator("code.fingerprint").first).to_have_text(grouped)
    console.accessible("audit-console")


def _open_verification(console: Console) -> dict[str, Any]:
    """An event, a checkpoint covering it, and the event's verification page; the checkpoint."""
    position = console.enter({console.codes[0]: 42, console.codes[1]: 43})
    checkpoint = console.checkpoint()
    console.open(f"/audit/verify?position={position}")
    expect(console.page.get_by_role("heading", level=1)).to_have_text("Kiểm chứng một sự kiện ngay trên trình duyệt")
    expect(console.page.locator("dl.event-facts")).to_contain_text("43")  # the last event entered
    return checkpoint


def verify(page: Page) -> None:
    page.get_by_role("button", name="Kiểm chứng trên trình duyệt này").click()
    expect(page.locator("#verdict")).not_to_have_text("Đang kiểm chứng…")
    expect(page.locator("#verdict")).not_to_be_empty()


def failed_checks(page: Page) -> dict[str, str]:
    items = page.locator("#checks li.check-fail:not([hidden])")
    return {li.get_attribute("data-check") or "": li.inner_text() for li in items.all()}


def test_verification_in_the_browser_passes_on_an_honest_proof(stack_factory: StackFactory, page: Page) -> None:
    console = start(stack_factory, page)
    _open_verification(console)
    page.locator("#verify-button").focus()  # from the keyboard
    page.keyboard.press("Enter")
    expect(page.locator("#verify-result")).to_be_focused()
    expect(page.locator("#verdict")).not_to_have_text("Đang kiểm chứng…")
    expect(page.locator("#verdict")).to_have_text(re.compile("^Đã kiểm chứng: sự kiện nằm trong nhật ký"))
    passed = page.locator("#checks li.check-ok:not([hidden])")
    names = {li.get_attribute("data-check") for li in passed.all()}
    assert names == {
        "fetch", "verifier-key", "note", "key-id", "signature", "latest", "tree-size", "leaf-index", "leaf-hash",
        "inclusion", "checkpoint-fields", "event-json", "event",
    }  # fmt: skip
    assert failed_checks(page) == {}
    expect(page.locator('#checks li[data-check="inclusion"]')).to_contain_text(
        "Đường dẫn kiểm chứng đi từ sự kiện tới đúng mã băm gốc đã ký của điểm kiểm tra."
    )
    fingerprint = page.locator("#published-fingerprint").inner_text()
    expect(page.locator("#key-used")).to_contain_text("khóa do máy chủ này công bố: reporting/")
    expect(page.locator("#key-used")).to_contain_text(fingerprint)
    console.accessible("audit-verify-passed")

    # The auditor's own copy of the key: the same verdict, and the page says it is the published key.
    page.get_by_label("Khóa xác minh tôi đang giữ").check()
    page.get_by_label(re.compile("^Dán khóa")).fill(page.locator("#published-vkey").inner_text())
    verify(page)
    expect(page.locator("#verdict")).to_have_text(re.compile("^Đã kiểm chứng"))
    expect(page.locator("#key-used")).to_contain_text("khóa bạn đã dán")
    expect(page.locator("#key-used")).to_contain_text("(trùng với khóa máy chủ này công bố)")


def _tamper(page: Page, pattern: str, change: Callable[[dict[str, Any]], None]) -> None:
    """Answer `pattern` with the real answer, changed."""

    def handle(route: Route) -> None:
        response = route.fetch()
        body = response.json()
        change(body)
        route.fulfill(response=response, body=orjson.dumps(body), content_type="application/json")

    page.route(pattern, handle)


def _flip_path_byte(proof: dict[str, Any]) -> None:
    raw = bytearray(base64.b64decode(proof["proof"][0]))
    raw[5] ^= 0x01
    proof["proof"][0] = base64.b64encode(bytes(raw)).decode()


def _alter_note(note: str) -> str:
    lines = note.split("\n")
    position = int(lines[4].removeprefix("last-position "))
    lines[4] = f"last-position {position + 1}"  # still well formed: only the signature catches it
    return "\n".join(lines)


def test_verification_in_the_browser_fails_on_a_tampered_proof_saying_why(
    stack_factory: StackFactory, page: Page
) -> None:
    console = start(stack_factory, page)
    checkpoint = _open_verification(console)

    # One byte of the audit path changed on its way to the browser.
    _tamper(page, "**/audit/proofs/inclusion.json*", _flip_path_byte)
    verify(page)
    expect(page.locator("#verdict")).to_have_text(re.compile("^Kiểm chứng KHÔNG thành công"))
    expect(page.locator("#verdict")).to_contain_text("Đường dẫn kiểm chứng RFC 6962")
    problems = failed_checks(page)
    assert set(problems) == {"inclusion"}, problems
    assert "Đường dẫn kiểm chứng không dẫn tới mã băm gốc đã ký" in problems["inclusion"]
    assert "root computed from the audit path differs from the checkpoint's root" in problems["inclusion"]
    console.accessible("audit-verify-tampered-proof")
    page.unroute("**/audit/proofs/inclusion.json*")

    # The checkpoint altered, in both answers alike: only the signature can tell.
    def note_in_proof(proof: dict[str, Any]) -> None:
        proof["checkpoint"]["note"] = _alter_note(proof["checkpoint"]["note"])

    def note_in_latest(latest: dict[str, Any]) -> None:
        latest["note"] = _alter_note(latest["note"])

    _tamper(page, "**/audit/proofs/inclusion.json*", note_in_proof)
    _tamper(page, "**/audit/checkpoints/latest.json", note_in_latest)
    verify(page)
    problems = failed_checks(page)
    assert set(problems) == {"signature"}, problems
    assert "Chữ ký không hợp lệ: điểm kiểm tra đã bị sửa đổi" in problems["signature"]
    assert "signature does not verify with key" in problems["signature"]
    page.unroute("**/audit/proofs/inclusion.json*")
    page.unroute("**/audit/checkpoints/latest.json")

    # An honest answer checked with another key of the same name: the pasted key is said to differ.
    impostor = SigningKey(Ed25519PrivateKey.generate(), checkpoint["origin"]).verifier.vkey()
    page.get_by_label("Khóa xác minh tôi đang giữ").check()
    page.get_by_label(re.compile("^Dán khóa")).fill(impostor)
    verify(page)
    problems = failed_checks(page)
    assert set(problems) == {"key-id", "signature"}, problems
    assert "Điểm kiểm tra ghi một khóa khác với khóa xác minh." in problems["key-id"]
    expect(page.locator("#key-used")).to_contain_text("(khác với khóa máy chủ này công bố)")
    console.accessible("audit-verify-wrong-key")

    # In English, a failure says the same in English.
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Verify an event in your browser")
    _tamper(page, "**/audit/proofs/inclusion.json*", _flip_path_byte)
    page.get_by_role("button", name="Verify in this browser").click()
    expect(page.locator("#verdict")).to_have_text(re.compile("^Verification FAILED. What failed: RFC 6962 audit path"))
    expect(page.locator('#checks li[data-check="inclusion"]')).to_contain_text(
        "The audit path does not lead to the signed root: the event or the proof was altered."
    )


def test_the_console_pages_in_english(stack_factory: StackFactory, page: Page) -> None:
    stack = stack_factory("web")
    sign_in(page, stack, "kiemtoan", stack.person("kiemtoan", Role.AUDITOR))
    page.goto(stack.web_url + "/audit")
    page.get_by_role("button", name="English").click()
    for path, title in [
        ("/audit", "Auditors' console"),
        ("/audit/events", "Audit trail"),
        ("/audit/as-of/report", "Report as of a moment"),
        ("/audit/as-of/rollups", "Roll-up as of a moment"),
        ("/audit/checkpoints", "Signed checkpoints"),
    ]:
        page.goto(stack.web_url + path)
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.get_by_role("heading", level=1)).to_have_text(title)
        violations = axe_violations(page)
        assert violations == [], describe(violations)
    screenshot(page, "audit-checkpoints-english")
