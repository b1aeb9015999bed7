"""The write API over real HTTP: refusals change nothing; concurrency and retries lose and duplicate nothing.

Every refusal is checked the same way: the documented status and an RFC 9457 body
(`type`, `title`, `status`, `code`; for a batch, the `index` and `indicator` of
each refused value), and the number of rows of `reporting_events` unchanged.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import httpx
import pytest

from domain.identity import Role
from domain.periods import Period
from domain.submission import submission_id
from infra.db import connect
from infra.integration_events import VALUE_EVENTS, EventType
from infra.settings import Settings
from tests.conftest import Stack, StackFactory
from tests.helpers import auth, form_indicators, open_month, store_events

TEMPLATE = "UNIFIED-PROVINCIAL"


@pytest.fixture
def ingest(stack_factory: StackFactory) -> Stack:
    return stack_factory("ingest")


@pytest.fixture
def ingest_two_workers(stack_factory: StackFactory, settings: Settings) -> Stack:
    """Two worker processes: concurrent requests race across processes (and their aggregate caches) too."""
    return stack_factory("ingest", settings_override=replace(settings, ingest_workers=2))


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


def submission_versions(stack: Stack, agency: str, period: str) -> list[int]:
    with connect(stack.settings) as conn:
        rows = conn.execute(
            "SELECT originator_version FROM reporting_events WHERE originator_id = %s ORDER BY originator_version",
            (submission_id(agency, period),),
        ).fetchall()
    return [int(row[0]) for row in rows]


def test_every_refusal_is_a_problem_and_stores_nothing(ingest: Stack) -> None:
    token = ingest.token(Role.AGENCY_REPORTER, "P01")
    reviewer = ingest.token(Role.MINISTRY_REVIEWER)
    merged_away = ingest.token(Role.AGENCY_REPORTER, "P74")  # Bình Dương, merged into P79 on 2025-07-01
    period = open_month()
    integer = form_indicators(ingest.ingest_url, token, TEMPLATE, period, "integer")[0]["code"]
    percentage = form_indicators(ingest.ingest_url, token, TEMPLATE, period, "percentage")[0]["code"]
    decimal = form_indicators(ingest.ingest_url, token, TEMPLATE, period, "decimal")[0]["code"]
    text = form_indicators(ingest.ingest_url, token, TEMPLATE, period, "text")[0]["code"]
    url = values_url(ingest, "P01", period.code)
    ok = httpx.post(url, json={"values": [{"indicator": integer, "value": 5}]}, headers=auth(token))
    assert ok.status_code == 200, ok.text
    version = ok.json()["version"]
    # A merged-away agency still enters and corrects its own past: June 2025 was its last month.
    june_form = form_indicators(ingest.ingest_url, merged_away, TEMPLATE, Period.parse("2025-06"), "integer")
    june = httpx.post(
        values_url(ingest, "P74", "2025-06"),
        json={"values": [{"indicator": june_form[0]["code"], "value": 1}]},
        headers=auth(merged_away),
    )
    assert june.status_code == 200, june.text

    def post(body: object, headers: dict[str, str] | None = None, target: str = url) -> httpx.Response:
        return httpx.post(target, json=body, headers=headers if headers is not None else auth(token), timeout=30)

    def one(indicator: str, value: object) -> dict[str, Any]:
        return {"values": [{"indicator": indicator, "value": value}]}

    next_month = open_month(0).next()  # its cut-off window has not started
    cases: list[tuple[str, Callable[[], httpx.Response], int, str]] = [
        ("unknown indicator", lambda: post(one("NO.SUCH", 1)), 422, "invalid-values"),
        ("wrong type", lambda: post(one(integer, "many")), 422, "invalid-values"),
        ("boolean for a number", lambda: post(one(integer, True)), 422, "invalid-values"),
        ("out of range", lambda: post(one(percentage, 101)), 422, "invalid-values"),
        ("below the minimum", lambda: post(one(integer, -1)), 422, "invalid-values"),
        ("beyond 64 bits", lambda: post(one(integer, 10**20)), 422, "invalid-values"),
        ("decimal too large", lambda: post(one(decimal, "1e30")), 422, "invalid-values"),
        ("NUL in text", lambda: post(one(text, "a\u0000b")), 422, "invalid-values"),
        (
            "next month",
            lambda: post(one(integer, 1), target=values_url(ingest, "P01", next_month.code)),
            422,
            "period-not-open",
        ),
        (
            "far future",
            lambda: post(one(integer, 1), target=values_url(ingest, "P01", "2099-01")),
            422,
            "period-not-open",
        ),
        (
            "merged-away agency after the merge",
            lambda: post(one(integer, 1), headers=auth(merged_away), target=values_url(ingest, "P74", "2025-08")),
            422,
            "period-not-open",
        ),
        (
            "before the agency existed",
            lambda: post(one(integer, 1), target=values_url(ingest, "P01", "2007-12")),
            422,
            "period-not-open",
        ),
        (
            "not a month",
            lambda: post(one(integer, 1), target=values_url(ingest, "P01", "2025Q1")),
            422,
            "invalid-period",
        ),
        (
            "not a period",
            lambda: post(one(integer, 1), target=values_url(ingest, "P01", "soon")),
            422,
            "invalid-period",
        ),
        (
            "wrong agency",
            lambda: post(one(integer, 1), target=values_url(ingest, "P79", period.code)),
            403,
            "wrong-agency",
        ),
        ("no token", lambda: post(one(integer, 1), headers={}), 401, "unauthorized"),
        ("bad token", lambda: post(one(integer, 1), headers=auth("rpt_nope")), 401, "unauthorized"),
        ("wrong role", lambda: post(one(integer, 1), headers=auth(reviewer)), 403, "forbidden"),
        (
            "server field",
            lambda: post({"values": [{"indicator": integer, "value": 1, "actor": "x"}]}),
            422,
            "invalid-request",
        ),
        ("empty batch", lambda: post({"values": []}), 422, "invalid-request"),
        ("reason too long", lambda: post({**one(integer, 6), "reason": "x" * 2001}), 422, "invalid-request"),
        (
            "too many values",
            lambda: post({"values": [{"indicator": integer, "value": 1}] * 1001}),
            413,
            "too-many-values",
        ),
        ("body too large", lambda: post(one(text, "x" * 2_000_000)), 413, "body-too-large"),
        (
            "malformed JSON",
            lambda: httpx.post(url, content=b"{not json", headers={**auth(token), "Content-Type": "application/json"}),
            422,
            "invalid-request",
        ),
        (
            "stale version",
            lambda: post(one(integer, 6), headers={**auth(token), "If-Match": str(version - 1)}),
            409,
            "version-conflict",
        ),
        (
            "malformed If-Match",
            lambda: post(one(integer, 6), headers={**auth(token), "If-Match": "v1"}),
            400,
            "invalid-if-match",
        ),
        (
            "malformed Idempotency-Key",
            lambda: post(one(integer, 6), headers={**auth(token), "Idempotency-Key": "k" * 201}),
            400,
            "invalid-idempotency-key",
        ),
        (
            "submit an incomplete report",
            lambda: post({}, target=f"{ingest.ingest_url}/agencies/P01/periods/{period}/submit"),
            422,
            "validation-failed",
        ),
        (
            "approve a draft",
            lambda: post(
                {}, headers=auth(reviewer), target=f"{ingest.ingest_url}/agencies/P01/periods/{period}/approve"
            ),
            409,
            "invalid-transition",
        ),
        (
            "no such submission",
            lambda: post(
                {}, headers=auth(reviewer), target=f"{ingest.ingest_url}/agencies/P01/periods/2024-01/approve"
            ),
            404,
            "not-found",
        ),
    ]
    before = event_count(ingest)
    for name, send, status, code in cases:
        body = assert_problem(send(), status, code)
        if code == "invalid-values":
            (error,) = body["errors"]
            assert error["index"] == 0, name
            assert error["indicator"], name
            assert error["reason"] in ("unknown-indicator", "wrong-type", "out-of-range", "invalid-character"), name
        if code == "version-conflict":
            assert body["current_version"] == version
        if code == "validation-failed":
            assert body["failures"], name
        assert event_count(ingest) == before, f"{name} changed the store"

    # A mixed batch: the good value is refused with the bad ones, each bad one named by index and indicator.
    mixed = post(
        {
            "values": [
                {"indicator": integer, "value": 7},
                {"indicator": "NO.SUCH", "value": 1},
                {"indicator": percentage, "value": -3},
                {"indicator": integer, "value": 8},
                {"indicator": decimal, "value": "1,5"},
            ]
        }
    )
    body = assert_problem(mixed, 422, "invalid-values")
    assert [(e["index"], e["indicator"], e["reason"]) for e in body["errors"]] == [
        (1, "NO.SUCH", "unknown-indicator"),
        (2, percentage, "out-of-range"),
        (3, integer, "duplicate-indicator"),
        (4, decimal, "wrong-type"),
    ]
    assert event_count(ingest) == before
    read = httpx.get(f"{ingest.ingest_url}/agencies/P01/periods/{period}/submission", headers=auth(token)).json()
    assert [(v["indicator"], v["value"]) for v in read["values"]] == [(integer, 5)]
    assert read["version"] == version


def test_locked_after_submission_and_approval_and_corrections_need_a_reason(ingest: Stack) -> None:
    token = ingest.token(Role.AGENCY_REPORTER, "P01")
    reviewer = ingest.token(Role.MINISTRY_REVIEWER)
    period = open_month(2)
    form = httpx.get(
        f"{ingest.ingest_url}/templates/{TEMPLATE}/form", params={"period": period.code}, headers=auth(token)
    ).json()
    # Fill every required indicator with values that pass every rule: zeros and "false".
    defaults = {"integer": 0, "decimal": "0", "percentage": "0", "boolean": False, "text": "-"}
    values = [{"indicator": i["code"], "value": defaults[i["value_type"]]} for i in form["indicators"] if i["required"]]
    url = values_url(ingest, "P01", period.code)
    base = f"{ingest.ingest_url}/agencies/P01/periods/{period}"
    assert httpx.post(url, json={"values": values}, headers=auth(token)).status_code == 200
    submitted = httpx.post(f"{base}/submit", headers=auth(token))
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["status"] == "submitted"

    before = event_count(ingest)
    assert_problem(httpx.post(url, json={"values": values[:1]}, headers=auth(token)), 409, "submission-locked")
    assert_problem(httpx.post(f"{base}/submit", headers=auth(token)), 409, "invalid-transition")
    assert_problem(httpx.post(f"{base}/approve", headers=auth(token)), 403, "forbidden")
    assert_problem(httpx.post(f"{base}/return", json={}, headers=auth(reviewer)), 422, "reason-required")
    assert_problem(httpx.post(f"{base}/return", json={"reason": "  "}, headers=auth(reviewer)), 422, "reason-required")
    assert event_count(ingest) == before

    returned = httpx.post(f"{base}/return", json={"reason": "thiếu số liệu"}, headers=auth(reviewer))
    assert returned.status_code == 200, returned.text
    changed = [{"indicator": values[0]["indicator"], "value": 1 if values[0]["value"] == 0 else True}]
    before = event_count(ingest)
    assert_problem(httpx.post(url, json={"values": changed}, headers=auth(token)), 422, "reason-required")
    assert event_count(ingest) == before
    fixed = httpx.post(url, json={"values": changed, "reason": "bổ sung theo yêu cầu"}, headers=auth(token))
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["corrected"] == [values[0]["indicator"]]

    # Submitted again and approved: locked too, until the ministry reopens it.
    assert httpx.post(f"{base}/submit", headers=auth(token)).status_code == 200
    approved = httpx.post(f"{base}/approve", json={}, headers=auth(reviewer))
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    before = event_count(ingest)
    again = [{"indicator": values[0]["indicator"], "value": 2 if values[0]["value"] == 0 else False}]
    locked = httpx.post(url, json={"values": again, "reason": "sửa sau phê duyệt"}, headers=auth(token))
    assert_problem(locked, 409, "submission-locked")
    assert_problem(httpx.post(f"{base}/approve", json={}, headers=auth(reviewer)), 409, "invalid-transition")
    assert_problem(httpx.post(f"{base}/reopen", json={}, headers=auth(reviewer)), 422, "reason-required")
    assert event_count(ingest) == before
    reopened = httpx.post(f"{base}/reopen", json={"reason": "điều chỉnh số liệu"}, headers=auth(reviewer))
    assert reopened.status_code == 200, reopened.text
    relocked = httpx.post(url, json={"values": again, "reason": "sửa sau khi mở lại"}, headers=auth(token))
    assert relocked.status_code == 200, relocked.text


def test_twenty_concurrent_writers_lose_no_update(ingest_two_workers: Stack) -> None:
    stack = ingest_two_workers
    token = stack.token(Role.AGENCY_REPORTER, "P01")
    period = open_month()
    codes = [i["code"] for i in form_indicators(stack.ingest_url, token, TEMPLATE, period, "integer")][:12]
    url = values_url(stack, "P01", period.code)
    writers = 20
    start = threading.Barrier(writers)

    def batch(n: int) -> dict[str, int]:
        # Overlapping batches: each writer sets 5 of 12 indicators, shared with its neighbours,
        # to values no other writer uses, so that every write changes every value it carries.
        return {codes[(n + k) % len(codes)]: 1000 * n + k for k in range(5)}

    def writer(n: int) -> httpx.Response:
        body = {"values": [{"indicator": code, "value": value} for code, value in batch(n).items()]}
        start.wait(timeout=30)  # all at once
        return httpx.post(url, json=body, headers=auth(token), timeout=60)

    with ThreadPoolExecutor(writers) as pool:
        responses = list(pool.map(writer, range(writers)))
    assert [r.status_code for r in responses] == [200] * writers, [r.text for r in responses if r.status_code != 200]
    acknowledged = {n: r.json() for n, r in enumerate(responses)}
    for n, body in acknowledged.items():
        assert sorted(body["submitted"] + body["corrected"]) == sorted(batch(n)), "each write changed all it carried"
        assert body["unchanged"] == []

    # The submission's versions are contiguous: 1 (opened) .. N, one per acknowledged value.
    versions = submission_versions(stack, "P01", period.code)
    assert versions == list(range(1, 1 + 1 + 5 * writers))

    # Every acknowledged write is in the store as its own events, at or below the position it answered.
    events = [e for e in store_events(stack.settings) if e.agency == "P01" and e.period == period.code]
    values = [e for e in events if e.event_type in VALUE_EVENTS]
    by_value = {(e.indicator, e.value): e for e in values}
    assert len(by_value) == len(values) == 5 * writers
    for n, body in acknowledged.items():
        mine = [by_value[item] for item in batch(n).items()]
        assert max(e.position for e in mine) == body["position"], f"writer {n}'s events are those it was answered"
        assert {e.aggregate_version for e in mine} <= set(range(body["version"] - 4, body["version"] + 1))

    # No update lost: each correction carries the value before it, and the final value of each
    # indicator is the one of the last acknowledged write to it (in the order the store took them).
    for code in codes:
        chain = sorted((e for e in values if e.indicator == code), key=lambda e: e.position)
        if not chain:
            continue
        assert chain[0].event_type == EventType.VALUE_SUBMITTED
        for earlier, later in itertools.pairwise(chain):
            assert later.event_type == EventType.VALUE_CORRECTED
            assert later.previous_value == earlier.value
    read = httpx.get(f"{stack.ingest_url}/agencies/P01/periods/{period}/submission", headers=auth(token)).json()
    final = {v["indicator"]: v["value"] for v in read["values"]}
    last_writer: dict[str, int] = {}
    for n in sorted(acknowledged, key=lambda n: acknowledged[n]["position"]):
        for code in batch(n):
            last_writer[code] = n
    assert final == {code: batch(n)[code] for code, n in last_writer.items()}
    assert read["version"] == versions[-1]


def test_if_match_lets_exactly_one_of_concurrent_writers_win(ingest_two_workers: Stack) -> None:
    stack = ingest_two_workers
    token = stack.token(Role.AGENCY_REPORTER, "P01")
    period = open_month()
    code = form_indicators(stack.ingest_url, token, TEMPLATE, period, "integer")[0]["code"]
    url = values_url(stack, "P01", period.code)
    first = httpx.post(url, json={"values": [{"indicator": code, "value": 1}]}, headers=auth(token))
    version = first.json()["version"]
    start = threading.Barrier(10)

    def writer(n: int) -> httpx.Response:
        start.wait(timeout=30)
        body = {"values": [{"indicator": code, "value": 100 + n}]}
        return httpx.post(url, json=body, headers={**auth(token), "If-Match": f'"{version}"'}, timeout=60)

    with ThreadPoolExecutor(10) as pool:
        responses = list(pool.map(writer, range(10)))
    winners = [n for n, r in enumerate(responses) if r.status_code == 200]
    assert len(winners) == 1, [r.text for r in responses]
    for n, response in enumerate(responses):
        if n not in winners:
            assert assert_problem(response, 409, "version-conflict")["current_version"] == version + 1
    assert submission_versions(stack, "P01", period.code) == list(range(1, version + 2))
    read = httpx.get(f"{stack.ingest_url}/agencies/P01/periods/{period}/submission", headers=auth(token)).json()
    assert read["values"] == [
        {"indicator": code, "value": 100 + winners[0], "actor": read["values"][0]["actor"], "version": version + 1}
    ]


def test_fifty_concurrent_retries_with_one_key_store_one_set_of_events(ingest_two_workers: Stack) -> None:
    stack = ingest_two_workers
    token = stack.token(Role.AGENCY_REPORTER, "P01")
    period = open_month()
    codes = [i["code"] for i in form_indicators(stack.ingest_url, token, TEMPLATE, period, "integer")][:10]
    body = {"values": [{"indicator": code, "value": n} for n, code in enumerate(codes)]}
    url = values_url(stack, "P01", period.code)
    before = event_count(stack)
    start = threading.Barrier(50)

    def send(_: int) -> httpx.Response:
        start.wait(timeout=30)
        return httpx.post(url, json=body, headers={**auth(token), "Idempotency-Key": "form-2025-once"}, timeout=60)

    with ThreadPoolExecutor(50) as pool:
        responses = list(pool.map(send, range(50)))
    assert [r.status_code for r in responses] == [200] * 50
    assert len({r.content for r in responses}) == 1, "50 identical responses, byte for byte"
    assert event_count(stack) == before + 1 + len(codes), "one opening event and one event per value, once"
    assert responses[0].json()["submitted"] == codes
    assert submission_versions(stack, "P01", period.code) == list(range(1, 2 + len(codes)))

    # A later retry gets the same bytes; the key with another body is refused and stores nothing.
    again = httpx.post(url, json=body, headers={**auth(token), "Idempotency-Key": "form-2025-once"})
    assert (again.status_code, again.content) == (200, responses[0].content)
    other = httpx.post(
        url,
        json={"values": [{"indicator": codes[0], "value": 99}]},
        headers={**auth(token), "Idempotency-Key": "form-2025-once"},
    )
    assert_problem(other, 422, "idempotency-key-reused")
    assert event_count(stack) == before + 1 + len(codes)


def test_a_retry_with_its_key_answers_as_the_first_did_after_the_state_moved_on(ingest: Stack) -> None:
    """The stored answer is consulted before the command runs again: a retry of any step (values, submit,
    recall, return, approve, reopen) whose command would now be refused or answered otherwise (the report
    moved on) gets the first answer, byte for byte, and stores nothing (it answered 409
    `invalid-transition` or `submission-locked` before)."""
    token = ingest.token(Role.AGENCY_REPORTER, "P01")
    reviewer = ingest.token(Role.MINISTRY_REVIEWER)
    period = open_month(3)
    form = httpx.get(
        f"{ingest.ingest_url}/templates/{TEMPLATE}/form", params={"period": period.code}, headers=auth(token)
    ).json()
    defaults = {"integer": 0, "decimal": "0", "percentage": "0", "boolean": False, "text": "-"}
    values = [{"indicator": i["code"], "value": defaults[i["value_type"]]} for i in form["indicators"] if i["required"]]
    base = f"{ingest.ingest_url}/agencies/P01/periods/{period}"
    first: dict[str, httpx.Response] = {}

    def send(action: str, body: dict[str, Any], key: str, as_token: str) -> httpx.Response:
        target = f"{base}/{action}"
        return httpx.post(target, json=body, headers={**auth(as_token), "Idempotency-Key": key}, timeout=30)

    # Each step once, with its own key; every later step moves the report on.
    steps: list[tuple[str, dict[str, Any], str]] = [
        ("values", {"values": values}, token),
        ("submit", {"reason": "số liệu chốt ngày 14"}, token),
        ("recall", {"reason": "gửi nhầm, cần sửa"}, token),
        ("submit-again", {}, token),
        ("return", {"reason": "thiếu số liệu"}, reviewer),
        ("submit-third", {}, token),
        ("approve", {}, reviewer),
        ("reopen", {"reason": "điều chỉnh số liệu"}, reviewer),
    ]
    for name, body, as_token in steps:
        response = send(name.split("-")[0], body, f"retry-{name}", as_token)
        assert response.status_code == 200, response.text
        first[name] = response
    # Run again now, each would answer otherwise (the report moved on: a transition its status no
    # longer allows, another status and version). With its key, each retry answers as the first did.
    before = event_count(ingest)
    for name, body, as_token in steps:
        retried = send(name.split("-")[0], body, f"retry-{name}", as_token)
        assert (retried.status_code, retried.content) == (200, first[name].content), name
    assert event_count(ingest) == before
    assert_problem(send("approve", {}, "retry-approve-fresh", reviewer), 409, "invalid-transition")
    assert_problem(send("recall", {"reason": "x"}, "retry-recall-fresh", token), 409, "invalid-transition")
    kept = [
        e
        for e in store_events(ingest.settings)
        if e.event_type == EventType.REPORT_SUBMITTED and e.period == period.code
    ]
    assert [e.reason for e in kept] == ["số liệu chốt ngày 14", None, None], "submit keeps its reason"
    # The same key with another request is still refused, and stores nothing.
    for name, _, as_token in steps:
        other = {"reason": "một lý do khác"} if name != "values" else {"values": values[:1]}
        reused = send(name.split("-")[0], other, f"retry-{name}", as_token)
        assert_problem(reused, 422, "idempotency-key-reused")
    assert event_count(ingest) == before


def test_outliers_against_the_agencys_history_are_warnings(ingest: Stack) -> None:
    token = ingest.token(Role.AGENCY_REPORTER, "P01")
    current = open_month()
    code, other = (i["code"] for i in form_indicators(ingest.ingest_url, token, TEMPLATE, current, "integer")[:2])
    for months_back, value in ((5, 100), (4, 110), (3, 90), (2, 105)):
        response = httpx.post(
            values_url(ingest, "P01", open_month(months_back).code),
            json={"values": [{"indicator": code, "value": value}, {"indicator": other, "value": value}]},
            headers=auth(token),
        )
        assert response.status_code == 200, response.text
        assert response.json()["warnings"] == []
    # A slipped digit: accepted (warnings never block) and warned about in the answer.
    entered = httpx.post(
        values_url(ingest, "P01", current.code),
        json={"values": [{"indicator": code, "value": 1000}, {"indicator": other, "value": 101}]},
        headers=auth(token),
    )
    assert entered.status_code == 200, entered.text
    assert entered.json()["submitted"] == [code, other]
    (warning,) = entered.json()["warnings"]
    assert (warning["indicator"], warning["value"], warning["median_of_history"], warning["history_periods"]) == (
        code,
        "1000",
        "102.5",
        4,
    )
    assert warning["tests"] == ["ratio", "z-score"]
    read = httpx.get(f"{ingest.ingest_url}/agencies/P01/periods/{current}/submission", headers=auth(token)).json()
    assert read["warnings"] == [warning]
    # Corrected to a plausible value, the warning goes away (the history is the previous periods only).
    corrected = httpx.post(
        values_url(ingest, "P01", current.code),
        json={"values": [{"indicator": code, "value": 104}]},
        headers=auth(token),
    )
    assert corrected.json()["warnings"] == []
    read = httpx.get(f"{ingest.ingest_url}/agencies/P01/periods/{current}/submission", headers=auth(token)).json()
    assert read["warnings"] == []
    # Another agency's history is not this agency's: P79 has none, so no warning.
    p79 = ingest.token(Role.AGENCY_REPORTER, "P79")
    alone = httpx.post(
        values_url(ingest, "P79", current.code),
        json={"values": [{"indicator": code, "value": 1000}]},
        headers=auth(p79),
    )
    assert alone.json()["warnings"] == []
