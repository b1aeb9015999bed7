"""A stop (SIGTERM) finishes what is in flight: the write API's requests, the projector's current batch.

Each test holds a lock the process needs, so that its work is provably in flight when the signal
comes; then it lets go, and the work completes before the process exits with 0.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import httpx
import psycopg

from domain.identity import Role
from infra.db import connect
from infra.runtime.ports import port_answers, wait_until
from infra.runtime.processes import Service
from infra.settings import Settings
from tests.conftest import StackFactory
from tests.helpers import auth, form_indicators, log_lines, open_month


@contextmanager
def locked(settings: Settings, table: str, mode: str) -> Iterator[psycopg.Connection[Any]]:
    """`table` locked in `mode` by a transaction of the test's until the block ends (then committed)."""
    with connect(settings) as conn, conn.transaction():
        conn.execute(f"LOCK TABLE {table} IN {mode} MODE")
        yield conn


def waiting_on_lock(settings: Settings, fragment: str) -> bool:
    """Whether a session of the service waits for a lock, running a statement that mentions `fragment`."""
    with connect(settings) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE %s",
            (f"%{fragment}%",),
        ).fetchone()
    return row is not None and int(row[0]) > 0


def exit_code(service: Service, timeout: float = 30) -> int:
    assert service.process is not None
    try:
        return service.process.wait(timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"{service.name} did not exit within {timeout} s") from None


def test_a_stopping_write_api_finishes_the_requests_in_flight(stack_factory: StackFactory, settings: Settings) -> None:
    stack = stack_factory("ingest", settings_override=replace(settings, postgres_lock_timeout=60))
    token = stack.token(Role.AGENCY_REPORTER, "P01")
    period = open_month()
    codes = [i["code"] for i in form_indicators(stack.ingest_url, token, "UNIFIED-PROVINCIAL", period, "integer")[:3]]
    answers: list[httpx.Response] = []

    def post() -> None:
        body = {"values": [{"indicator": code, "value": 42} for code in codes]}
        url = f"{stack.ingest_url}/agencies/P01/periods/{period}/values"
        answers.append(httpx.post(url, json=body, headers=auth(token), timeout=60))

    ingest = stack.services["ingest"]
    with locked(stack.settings, "reporting_events", "EXCLUSIVE"):
        writer = threading.Thread(target=post)
        writer.start()
        wait_until(lambda: waiting_on_lock(stack.settings, "reporting_events"), 30, what="the write waiting")
        assert ingest.process is not None
        ingest.process.send_signal(signal.SIGTERM)
        # It stops taking new connections at once, while the request in flight still waits.
        wait_until(lambda: not port_answers("127.0.0.1", stack.settings.ingest_port), 10, what="no new connections")
        assert ingest.alive(), "still finishing the request in flight"
    writer.join(60)
    # uvicorn raises the signal again once it has finished, so that its parent sees how it ended.
    assert exit_code(ingest) == -signal.SIGTERM
    (answer,) = answers
    assert answer.status_code == 200, answer.text
    assert answer.json()["submitted"] == codes
    with connect(stack.settings) as conn:
        stored = conn.execute(
            "SELECT count(*) FROM reporting_events WHERE notification_id <= %s", (answer.json()["position"],)
        )
        assert stored.fetchone() is not None


def test_a_stopping_projector_commits_its_batch_and_starts_no_other(
    stack_factory: StackFactory, settings: Settings
) -> None:
    stack = stack_factory("ingest", "relay", "project")
    token = stack.token(Role.AGENCY_REPORTER, "P01")
    period = open_month()
    codes = [i["code"] for i in form_indicators(stack.ingest_url, token, "UNIFIED-PROVINCIAL", period, "integer")[:4]]
    url = f"{stack.ingest_url}/agencies/P01/periods/{period}/values"
    project = stack.services["project"]

    def position_applied() -> int:
        with connect(stack.settings) as conn:
            row = conn.execute(
                "SELECT coalesce(max(position), 0) FROM projector_positions WHERE projection = 'report_view'"
            ).fetchone()
        return int(row[0]) if row else 0

    def published(position: int) -> bool:
        with connect(stack.settings) as conn:
            row = conn.execute("SELECT position FROM relay_positions WHERE partition = -1").fetchone()
        return row is not None and int(row[0]) >= position

    # The seed first, so that the next batch holds our values only.
    seed_end = _store_end(stack.settings)
    wait_until(lambda: position_applied() >= seed_end, 60, what="the seed applied")

    first_id = f"in-flight-{uuid.uuid4()}"
    with locked(stack.settings, "rm_report_values", "ACCESS EXCLUSIVE"):
        first = httpx.post(
            url,
            json={"values": [{"indicator": c, "value": 1} for c in codes[:2]]},
            headers={**auth(token), "X-Request-ID": first_id},
        )
        assert first.status_code == 200
        wait_until(lambda: waiting_on_lock(stack.settings, "rm_report_values"), 30, what="the batch waiting")
        # Published while that batch waits: the projector must not start on it after the stop.
        second = httpx.post(
            url, json={"values": [{"indicator": c, "value": 2} for c in codes[2:]]}, headers=auth(token)
        )
        assert second.status_code == 200
        wait_until(lambda: published(second.json()["position"]), 30, what="the second batch published")
        assert project.process is not None
        project.process.send_signal(signal.SIGTERM)
        assert project.alive(), "finishing its batch"
    assert exit_code(project) == 0
    applied = position_applied()
    assert first.json()["position"] <= applied < second.json()["position"], "the batch in flight, and no other"
    with connect(stack.settings) as conn:
        rows = conn.execute(
            "SELECT indicator, value FROM rm_report_values WHERE agency = 'P01' AND period = %s", (period.code,)
        ).fetchall()
    assert dict(rows) == {codes[0]: 1, codes[1]: 1}
    lines = [x for x in log_lines(project.log_path) if x.get("message") == "batch applied"]
    assert first_id in lines[-1]["request_ids"], "the last batch it applied was the one in flight"


def _store_end(settings: Settings) -> int:
    with connect(settings) as conn:
        row = conn.execute("SELECT coalesce(max(notification_id), 0) FROM reporting_events").fetchone()
    return int(row[0]) if row else 0
