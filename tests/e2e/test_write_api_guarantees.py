"""The write API over real HTTP: refusals change nothing; concurrency and retries lose and duplicate nothing."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from domain.identity import Role
from infra.db import connect
from tests.conftest import Stack, StackFactory
from tests.helpers import auth, form_indicators, open_month


@pytest.fixture
def ingest(stack_factory: StackFactory) -> Stack:
    return stack_factory("ingest")


def event_count(stack: Stack) -> int:
    with connect(stack.settings) as conn:
        row = conn.execute("SELECT count(*) FROM reporting_events").fetchone()
    return int(row[0]) if row else 0


def values_url(stack: Stack, agency: str, period: str) -> str:
    return f"{stack.ingest_url}/agencies/{agency}/periods/{period}/values"


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"].endswith("/" + code)
    assert body["title"]
    return body


def test_every_refusal_is_a_problem_and_stores_nothing(ingest: Stack) -> None:
    token = ingest.token(Role.AGENCY_REPORTER, "P01")
    reviewer = ingest.token(Role.MINISTRY_REVIEWER)
    period = open_month()
    integer = form_indicators(ingest.ingest_url, token, "UNIFIED-PROVINCIAL", period, "integer")[0]["code"]
    percentage = form_indicators(ingest.ingest_url, token, "UNIFIED-PROVINCIAL", period, "percentage")[0]["code"]
    url = values_url(ingest, "P01", period.code)
    ok = httpx.post(url, json={"values": [{"indicator": integer, "value": 5}]}, headers=auth(token))
    assert ok.status_code == 200, ok.text
    version = ok.json()["version"]

    def post(body: object, headers: dict[str, str] | None = None, target: str = url) -> httpx.Response:
        return httpx.post(target, json=body, headers=headers if headers is not None else auth(token))

    cases: list[tuple[str, Callable[[], httpx.Response], int, str]] = [
        ("unknown indicator", lambda: post({"values": [{"indicator": "NO.SUCH", "value": 1}]}), 422, "invalid-values"),
        ("wrong type", lambda: post({"values": [{"indicator": integer, "value": "many"}]}), 422, "invalid-values"),
        ("out of range", lambda: post({"values": [{"indicator": percentage, "value": 101}]}), 422, "invalid-values"),
        (
            "future period",
            lambda: post({"values": [{"indicator": integer, "value": 1}]}, target=values_url(ingest, "P01", "2099-01")),
            422,
            "period-not-open",
        ),
        (
            "not a month",
            lambda: post({"values": [{"indicator": integer, "value": 1}]}, target=values_url(ingest, "P01", "2025Q1")),
            422,
            "invalid-period",
        ),
        (
            "wrong agency",
            lambda: post(
                {"values": [{"indicator": integer, "value": 1}]}, target=values_url(ingest, "P79", period.code)
            ),
            403,
            "wrong-agency",
        ),
        ("no token", lambda: post({"values": [{"indicator": integer, "value": 1}]}, headers={}), 401, "unauthorized"),
        (
            "bad token",
            lambda: post({"values": [{"indicator": integer, "value": 1}]}, headers=auth("rpt_nope")),
            401,
            "unauthorized",
        ),
        (
            "wrong role",
            lambda: post({"values": [{"indicator": integer, "value": 1}]}, headers=auth(reviewer)),
            403,
            "forbidden",
        ),
        (
            "server field",
            lambda: post({"values": [{"indicator": integer, "value": 1, "actor": "x"}]}),
            422,
            "invalid-request",
        ),
        ("empty batch", lambda: post({"values": []}), 422, "invalid-request"),
        (
            "too many values",
            lambda: post({"values": [{"indicator": integer, "value": 1}] * 1001}),
            413,
            "too-many-values",
        ),
        (
            "body too large",
            lambda: post({"values": [{"indicator": integer, "value": "x" * 2_000_000}]}),
            413,
            "body-too-large",
        ),
        (
            "malformed JSON",
            lambda: httpx.post(url, content=b"{not json", headers={**auth(token), "Content-Type": "application/json"}),
            422,
            "invalid-request",
        ),
        (
            "stale version",
            lambda: post(
                {"values": [{"indicator": integer, "value": 6}]}, headers={**auth(token), "If-Match": str(version - 1)}
            ),
            409,
            "version-conflict",
        ),
    ]
    before = event_count(ingest)
    for name, send, status, code in cases:
        body = assert_problem(send(), status, code)
        if code == "invalid-values":
            (error,) = body["errors"]
            assert error["index"] == 0, name
            assert error["indicator"], name
        if code == "version-conflict":
            assert body["current_version"] == version
        assert event_count(ingest) == before, f"{name} changed the store"

    # A mixed batch: the good value is refused with the bad one, each bad one named by index.
    mixed = post(
        {
            "values": [
                {"indicator": integer, "value": 7},
                {"indicator": "NO.SUCH", "value": 1},
                {"indicator": percentage, "value": -3},
            ]
        }
    )
    body = assert_problem(mixed, 422, "invalid-values")
    assert [(e["index"], e["indicator"], e["reason"]) for e in body["errors"]] == [
        (1, "NO.SUCH", "unknown-indicator"),
        (2, percentage, "out-of-range"),
    ]
    assert event_count(ingest) == before


def test_locked_after_submission_and_corrections_need_a_reason(ingest: Stack) -> None:
    token = ingest.token(Role.AGENCY_REPORTER, "P01")
    reviewer = ingest.token(Role.MINISTRY_REVIEWER)
    period = open_month(2)
    form = httpx.get(
        f"{ingest.ingest_url}/templates/UNIFIED-PROVINCIAL/form", params={"period": period.code}, headers=auth(token)
    ).json()
    # Fill every required indicator with values that pass every rule: zeros and "false".
    defaults = {"integer": 0, "decimal": "0", "percentage": "0", "boolean": False, "text": "-"}
    values = [{"indicator": i["code"], "value": defaults[i["value_type"]]} for i in form["indicators"] if i["required"]]
    url = values_url(ingest, "P01", period.code)
    assert httpx.post(url, json={"values": values}, headers=auth(token)).status_code == 200
    submitted = httpx.post(f"{ingest.ingest_url}/agencies/P01/periods/{period}/submit", headers=auth(token))
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["status"] == "submitted"

    before = event_count(ingest)
    assert_problem(httpx.post(url, json={"values": values[:1]}, headers=auth(token)), 409, "submission-locked")
    approve = f"{ingest.ingest_url}/agencies/P01/periods/{period}/approve"
    assert_problem(httpx.post(approve, headers=auth(token)), 403, "forbidden")
    assert event_count(ingest) == before

    returned = httpx.post(
        f"{ingest.ingest_url}/agencies/P01/periods/{period}/return",
        json={"reason": "thiếu số liệu"},
        headers=auth(reviewer),
    )
    assert returned.status_code == 200, returned.text
    changed = [{"indicator": values[0]["indicator"], "value": 1 if values[0]["value"] == 0 else True}]
    before = event_count(ingest)
    assert_problem(httpx.post(url, json={"values": changed}, headers=auth(token)), 422, "reason-required")
    assert event_count(ingest) == before
    fixed = httpx.post(url, json={"values": changed, "reason": "bổ sung theo yêu cầu"}, headers=auth(token))
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["corrected"] == [values[0]["indicator"]]


def test_twenty_concurrent_writers_lose_no_update(ingest: Stack) -> None:
    token = ingest.token(Role.AGENCY_REPORTER, "P01")
    period = open_month()
    codes = [i["code"] for i in form_indicators(ingest.ingest_url, token, "UNIFIED-PROVINCIAL", period, "integer")]
    url = values_url(ingest, "P01", period.code)

    def writer(n: int) -> httpx.Response:
        # Overlapping batches: each writer sets 5 indicators, shared with its neighbours.
        batch = [{"indicator": codes[(n + k) % len(codes)], "value": 1000 * n + k} for k in range(5)]
        return httpx.post(url, json={"values": batch}, headers=auth(token), timeout=60)

    with ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(writer, range(20)))
    assert [r.status_code for r in responses] == [200] * 20, [r.text for r in responses if r.status_code != 200]

    with connect(ingest.settings) as conn:
        versions = [
            int(row[0])
            for row in conn.execute(
                "SELECT originator_version FROM reporting_events WHERE originator_id ="
                " (SELECT originator_id FROM reporting_events ORDER BY notification_id DESC LIMIT 1)"
                " ORDER BY originator_version"
            ).fetchall()
        ]
    assert versions == list(range(1, len(versions) + 1)), "versions are contiguous"
    changed = sum(len(r.json()["submitted"]) + len(r.json()["corrected"]) for r in responses)
    assert len(versions) == 1 + changed, "every acknowledged change is one event (plus the opening)"

    # The final value of each indicator is the one written by the last acknowledged write to it.
    submission = httpx.get(f"{ingest.ingest_url}/agencies/P01/periods/{period}/submission", headers=auth(token)).json()
    final = {v["indicator"]: v for v in submission["values"]}
    for code, entry in final.items():
        writers = [n for n in range(20) if code in {codes[(n + k) % len(codes)] for k in range(5)}]
        assert entry["value"] in {1000 * n + k for n in writers for k in range(5)}
    assert submission["version"] == len(versions)


def test_fifty_concurrent_retries_with_one_key_store_one_set_of_events(ingest: Stack) -> None:
    token = ingest.token(Role.AGENCY_REPORTER, "P01")
    period = open_month()
    codes = [i["code"] for i in form_indicators(ingest.ingest_url, token, "UNIFIED-PROVINCIAL", period, "integer")][:10]
    body = {"values": [{"indicator": code, "value": n} for n, code in enumerate(codes)]}
    url = values_url(ingest, "P01", period.code)
    before = event_count(ingest)

    def send(_: int) -> httpx.Response:
        return httpx.post(url, json=body, headers={**auth(token), "Idempotency-Key": "form-2025-once"}, timeout=60)

    with ThreadPoolExecutor(50) as pool:
        responses = list(pool.map(send, range(50)))
    assert {r.status_code for r in responses} == {200}
    assert len({r.content for r in responses}) == 1, "identical responses"
    assert event_count(ingest) == before + 1 + len(codes), "one opening event and one event per value, once"
    assert responses[0].json()["submitted"] == codes

    other = httpx.post(
        url,
        json={"values": [{"indicator": codes[0], "value": 99}]},
        headers={**auth(token), "Idempotency-Key": "form-2025-once"},
    )
    assert_problem(other, 422, "idempotency-key-reused")
    assert event_count(ingest) == before + 1 + len(codes)


def test_outliers_against_the_agencys_history_are_warnings(ingest: Stack) -> None:
    token = ingest.token(Role.AGENCY_REPORTER, "P01")
    current = open_month()
    code = form_indicators(ingest.ingest_url, token, "UNIFIED-PROVINCIAL", current, "integer")[0]["code"]
    for months_back, value in ((5, 100), (4, 110), (3, 90), (1, 1000)):
        period = open_month(months_back)
        response = httpx.post(
            values_url(ingest, "P01", period.code),
            json={"values": [{"indicator": code, "value": value}]},
            headers=auth(token),
        )
        assert response.status_code == 200, response.text
    response = httpx.get(f"{ingest.ingest_url}/agencies/P01/periods/{current}/submission", headers=auth(token))
    assert response.status_code == 200, response.text
    read = response.json()
    (warning,) = read["warnings"]
    assert (warning["indicator"], warning["value"], warning["median_of_history"]) == (code, "1000", "100")
    earlier = httpx.get(f"{ingest.ingest_url}/agencies/P01/periods/{open_month(3)}/submission", headers=auth(token))
    assert earlier.json()["warnings"] == []
