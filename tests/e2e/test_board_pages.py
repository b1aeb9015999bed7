"""The boards' and reports' pages over HTTP: who may open which, and bad input answered next to its field."""

from __future__ import annotations

import httpx
import pytest

from domain.identity import Role
from infra.runtime.ports import wait_until
from tests.conftest import Stack, StackFactory
from tests.e2e.web_client import signed_in_client
from tests.helpers import open_month

MINISTRY = {Role.MINISTRY_REVIEWER, Role.AUDITOR, Role.ADMIN}
AUTHORS = {Role.MINISTRY_REVIEWER, Role.ADMIN}
EVERYONE = set(Role)


@pytest.fixture
def pages(stack_factory: StackFactory) -> tuple[Stack, dict[Role, httpx.Client]]:
    stack = stack_factory("relay", "project", "web")
    clients = {}
    for role in Role:
        username = f"nguoi.{role.value.replace('_', '.')}"
        password = stack.person(username, role, "P01" if role is Role.AGENCY_REPORTER else None)
        clients[role] = signed_in_client(stack.web_url, username, password)
    reviewer = clients[Role.MINISTRY_REVIEWER]
    wait_until(  # the projector has applied the seed: the report types are listed
        lambda: reviewer.get("/reports").text.count('data-code="') == 14, 30, interval=0.5, what="the report types"
    )
    return stack, clients


def test_each_page_opens_for_the_roles_it_serves_only(pages: tuple[Stack, dict[Role, httpx.Client]]) -> None:
    _stack, clients = pages
    month = open_month().code
    routes: dict[str, set[Role]] = {
        f"/compliance?from={month}": MINISTRY,
        f"/compliance/board?from={month}": MINISTRY,
        f"/compliance/export.csv?from={month}": MINISTRY,
        f"/compliance/export.xlsx?from={month}": MINISTRY,
        f"/boards?period={month}": MINISTRY,
        f"/boards/live?period={month}": MINISTRY,
        f"/boards/export.xlsx?period={month}": MINISTRY,
        "/boards/agencies/P01": MINISTRY,
        f"/boards/agencies/P01/periods/{month}/indicators/TEL.REVENUE": MINISTRY,
        "/reports": EVERYONE,
        "/reports/DX-HALF-YEAR": EVERYONE,  # agency scope: the agency's own clerk too
        "/reports/DX-HALF-YEAR/table": EVERYONE,
        "/reports/DX-HALF-YEAR/export.csv": EVERYONE,
        "/reports/TEL-QUARTERLY": MINISTRY,  # national: not for an agency's clerk
        "/reports/TEL-QUARTERLY/export.xlsx": MINISTRY,
        "/reports/definitions/new": AUTHORS,
        "/reports/TEL-QUARTERLY/definition": AUTHORS,
    }
    for path, allowed in routes.items():
        for role, client in clients.items():
            status = client.get(path).status_code
            if role in allowed:
                assert status == 200, (path, role, status)
            else:
                assert status in (403, 404), (path, role, status)
    reporter = clients[Role.AGENCY_REPORTER]
    assert reporter.get("/reports/TEL-QUARTERLY").status_code == 404, "a report type it may not produce is not shown"
    assert reporter.get("/boards").status_code == 403


def test_bad_filters_are_answered_next_to_their_field_and_change_nothing(
    pages: tuple[Stack, dict[Role, httpx.Client]],
) -> None:
    _stack, clients = pages
    reviewer = clients[Role.MINISTRY_REVIEWER]
    month = open_month()
    cases = {
        "/compliance?from=2099-01": ("from", "Tháng này chưa bắt đầu."),
        f"/compliance?from={month}&to={month.previous()}": ("to", "Tháng cuối đứng trước tháng đầu."),
        "/compliance?from=2025Q1": ("from", "Hãy chọn một tháng."),
        "/compliance?region=atlantis": ("region", "Không có vùng này."),
        "/compliance?status=lost": ("status", "Không có trạng thái này."),
        "/boards?period=20x5": ("period", "Hãy chọn một kỳ báo cáo."),
        "/boards?period=2099-01": ("period", "Kỳ này chưa bắt đầu."),
        "/boards?indicator=NO.SUCH": ("indicator", "Hãy chọn các chỉ tiêu dạng số trong danh sách."),
        "/boards?indicator=SEC.INCIDENT_SUMMARY": ("indicator", "Hãy chọn các chỉ tiêu dạng số trong danh sách."),
    }
    for path, (field, message) in cases.items():
        answer = reviewer.get(path)
        assert answer.status_code == 422, (path, answer.status_code)
        assert f'id="{field}-error">{message}</p>' in answer.text, path
        if field not in ("indicator",):
            assert f'aria-describedby="{field}-error"' in answer.text, path
    for path in (
        "/boards/agencies/NOPE",
        f"/boards/agencies/P01/periods/{month}/indicators/NO.SUCH",
        "/boards/agencies/P01/periods/2025Q1/indicators/TEL.REVENUE",
        "/reports/NO-SUCH-REPORT",
        "/reports/TEL-QUARTERLY/export.pdf",
    ):
        assert reviewer.get(path).status_code == 404, path


def test_a_definition_posted_without_the_form_token_or_with_bad_fields_is_refused(
    pages: tuple[Stack, dict[Role, httpx.Client]],
) -> None:
    _stack, clients = pages
    reviewer = clients[Role.MINISTRY_REVIEWER]
    body = {
        "code": "X-1",
        "name_vi": "Báo cáo",
        "period_kind": "quarter",
        "scope": "national",
        "indicator": "TEL.REVENUE",
    }
    forged = httpx.post(f"{reviewer.base_url}/reports/definitions/new", data=body, cookies=reviewer.cookies)
    assert forged.status_code == 403, "no CSRF token: refused"
    refused = reviewer.post(
        "/reports/definitions/new",
        data={
            "code": "X-1",
            "name_vi": "Báo cáo",
            "period_kind": "weekly",
            "scope": "national",
            "indicator": "NO.SUCH",
        },
    )
    assert refused.status_code == 422
    assert 'id="period_kind-error">Hãy chọn tần suất lập báo cáo.</p>' in refused.text
    assert "Một số chỉ tiêu đã chọn không có trong danh mục" not in refused.text, "checked only once the fields hold"
    unknown = reviewer.post("/reports/definitions/new", data={**body, "indicator": "NO.SUCH"})
    assert unknown.status_code == 422
    assert 'id="indicators-error">Một số chỉ tiêu đã chọn không có trong danh mục: NO.SUCH.</p>' in unknown.text
    assert reviewer.get("/reports/X-1").status_code == 404, "nothing was defined"
    auditor = clients[Role.AUDITOR]
    assert auditor.post("/reports/definitions/new", data=body).status_code == 403
