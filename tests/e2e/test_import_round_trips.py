"""Round trips: what this system exports (DHIS2 JSON and CSV, ADX, its CSV, the national feed's report
figures, the prefilled template workbook) imports back as it is: every value unchanged, no event stored."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from domain.identity import Role
from domain.periods import Period
from infra.db import connect
from tests.conftest import Stack, StackFactory
from tests.helpers import auth, form_indicators

PERIOD = "2026-10"
TEMPLATE = "UNIFIED-PROVINCIAL"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SAMPLES: dict[str, Any] = {
    "integer": 8450123,
    "decimal": "12345.678",
    "percentage": "93.5",
    "boolean": True,
    "text": 'Đã triển khai, "đang" mở rộng =1+1',
}


def events(stack: Stack) -> int:
    with connect(stack.settings) as conn:
        row = conn.execute("SELECT count(*) FROM reporting_events").fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture
def entered(stack_factory: StackFactory) -> tuple[Stack, str, int, int]:
    """P01's October: values of every type through the JSON API, visible in the report view."""
    stack = stack_factory("ingest", "relay", "project", "reports", "import-worker")
    token = stack.token(Role.AGENCY_REPORTER, "P01")
    values = []
    for value_type, sample in SAMPLES.items():
        for indicator in form_indicators(stack.ingest_url, token, TEMPLATE, Period.parse(PERIOD), value_type)[:3]:
            values.append({"indicator": indicator["code"], "value": sample})
    response = httpx.post(
        f"{stack.ingest_url}/agencies/P01/periods/{PERIOD}/values", json={"values": values}, headers=auth(token)
    )
    assert response.status_code == 200, response.text
    return stack, token, len(values), int(response.json()["position"])


def export(stack: Stack, token: str, path: str, position: int, **params: str) -> httpx.Response:
    response = httpx.get(
        f"{stack.reports_url}{path}",
        params={**params, "min_position": str(position), "wait_ms": "10000"},
        headers=auth(token),
        timeout=20,
    )
    assert response.status_code == 200, response.text
    return response


def reimport(stack: Stack, token: str, content: bytes, media_type: str, **params: str) -> dict[str, Any]:
    response = httpx.post(
        f"{stack.ingest_url}/imports",
        content=content,
        params={**params, "wait_ms": "10000"},
        headers={**auth(token), "Content-Type": media_type},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    summary: dict[str, Any] = response.json()["summary"]
    return summary


def test_every_export_imports_back_unchanged(entered: tuple[Stack, str, int, int]) -> None:
    stack, token, count, position = entered
    before = events(stack)
    files: list[tuple[str, bytes, str, dict[str, str]]] = []
    for fmt, media_type in (
        ("dhis2-json", "application/json"),
        ("dhis2-csv", "text/csv"),
        ("adx", "application/adx+xml"),
    ):
        response = export(stack, token, "/exports/values", position, period=PERIOD, format=fmt)
        assert response.headers["x-skipped-values"] == "0"
        files.append((fmt, response.content, media_type, {"format": fmt}))
    ours = export(stack, token, "/exports/values", position, period=PERIOD, format="csv")
    files.append(("csv", ours.content, "text/csv", {}))
    figures = export(stack, token, "/national-feed/report-figures", position, period=PERIOD)
    assert [r["agencyId"] for r in figures.json()["reports"]] == ["000.00.00.H24"]
    files.append(("national", figures.content, "application/json", {"format": "national-report-figures"}))
    workbook = httpx.get(
        f"{stack.ingest_url}/agencies/P01/periods/{PERIOD}/template.xlsx",
        params={"prefill": "true"},
        headers=auth(token),
    )
    files.append(("workbook", workbook.content, XLSX, {"period": PERIOD}))
    csv = httpx.get(f"{stack.ingest_url}/agencies/P01/periods/{PERIOD}/values.csv", headers=auth(token))
    files.append(("form csv", csv.content, "text/csv", {"period": PERIOD}))
    for name, content, media_type, params in files:
        summary = reimport(stack, token, content, media_type, **params)
        assert (summary["outcome"], summary["stored"], summary["unchanged"], summary["rejected"]) == (
            "imported",
            0,
            count,
            0,
        ), name
    assert events(stack) == before, "nothing was stored"


def test_exports_follow_the_readers_rights(entered: tuple[Stack, str, int, int]) -> None:
    stack, _, count, position = entered
    other = stack.token(Role.AGENCY_REPORTER, "P79")
    refused = httpx.get(
        f"{stack.reports_url}/exports/values", params={"period": PERIOD, "agency": "P01"}, headers=auth(other)
    )
    assert refused.status_code == 403
    assert refused.json()["code"] == "wrong-agency"
    own = export(stack, other, "/exports/values", position, period=PERIOD, format="csv")
    assert "P01" not in own.text
    reviewer = stack.token(Role.MINISTRY_REVIEWER)
    national = export(stack, reviewer, "/exports/values", position, period=PERIOD, format="csv")
    assert national.text.count("\r\nP01,") == count
    status = export(stack, reviewer, "/national-feed/report-status", position, period=PERIOD)
    (p01,) = [s for s in status.json()["statuses"] if s["agencyId"] == "000.00.00.H24"]
    assert (p01["status"], p01["submittedOn"]) == ("draft", None)
    regime = httpx.get(f"{stack.ingest_url}/national-feed/reporting-regime", headers=auth(other))
    assert regime.status_code == 200
    forms = httpx.get(
        f"{stack.ingest_url}/national-feed/report-form",
        params={"template": TEMPLATE, "period": PERIOD},
        headers=auth(other),
    )
    assert forms.json()["forms"][0]["formCode"] == TEMPLATE
    periods = httpx.get(
        f"{stack.ingest_url}/national-feed/reporting-period-catalogue", params={"year": 2026}, headers=auth(other)
    )
    assert len(periods.json()["periods"]) == 12 + 4 + 2 + 1
    catalogue = httpx.get(f"{stack.ingest_url}/national-feed/indicator-catalogue", headers=auth(other))
    assert len(catalogue.json()["indicators"]) > 50
