"""SIGKILL the projector in the middle of a stream: the read model ends equal to the store."""

from __future__ import annotations

import random
from dataclasses import replace

import httpx

from domain.identity import Role
from infra.db import connect
from infra.integration_events import VALUE_EVENTS
from infra.runtime.ports import wait_until
from tests.conftest import StackFactory
from tests.helpers import auth, form_indicators, open_month, store_events

AGENCIES = ("P01", "P79", "P48", "P31", "P92", "P75")


def expected_report_view(settings_events: list) -> dict[tuple[str, str, str], tuple[object, int, int]]:
    """(agency, period, indicator) -> (value, revision, position), straight from the store."""
    expected: dict[tuple[str, str, str], tuple[object, int, int]] = {}
    for event in settings_events:
        if event.event_type in VALUE_EVENTS:
            key = (event.agency, event.period, event.indicator)
            revision = expected[key][1] + 1 if key in expected else 1
            expected[key] = (event.value, revision, event.position)
    return expected


def test_killed_projector_resumes_without_loss_or_duplicates(stack_factory: StackFactory, settings) -> None:  # type: ignore[no-untyped-def]
    # Small batches: many commits, so the kill lands between and inside them.
    stack = stack_factory("ingest", "relay", settings_override=replace(settings, projector_batch_size=50))
    rng = random.Random(7)
    period = open_month()
    for agency in AGENCIES:
        token = stack.token(Role.AGENCY_REPORTER, agency)
        codes = [i["code"] for i in form_indicators(stack.ingest_url, token, "UNIFIED-PROVINCIAL", period, "integer")]
        for round_ in range(8):  # first values, then seven rounds of corrections
            batch = [{"indicator": code, "value": rng.randint(0, 10_000)} for code in codes]
            response = httpx.post(
                f"{stack.ingest_url}/agencies/{agency}/periods/{period}/values",
                json={"values": batch, "reason": None if round_ == 0 else "sửa số liệu"},
                headers=auth(token),
                timeout=30,
            )
            assert response.status_code == 200, response.text

    events = store_events(stack.settings)
    expected = expected_report_view(events)
    value_events = sum(1 for e in events if e.event_type.startswith("IndicatorValue"))
    assert value_events >= 2000

    def applied() -> int:
        with connect(stack.settings) as conn:
            row = conn.execute("SELECT coalesce(sum(revision), 0) FROM rm_report_values").fetchone()
        return int(row[0]) if row else 0

    stack.start("project")
    wait_until(lambda: applied() > value_events // 4, 60, interval=0.01, what="projector part-way")
    stack.services["project"].kill()
    at_kill = applied()
    assert 0 < at_kill < value_events, "the kill must land in the middle of the stream"

    stack.start("project")
    wait_until(lambda: applied() == value_events, 120, what="projector caught up")

    with connect(stack.settings) as conn:
        rows = conn.execute(
            "SELECT agency, period, indicator, value, revision, position FROM rm_report_values"
        ).fetchall()
    actual = {(r[0], r[1], r[2]): (r[3], r[4], r[5]) for r in rows}
    assert actual == expected
