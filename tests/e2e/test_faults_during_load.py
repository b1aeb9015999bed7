"""Kill the relay and the projector, and empty the broker, in the middle of a load:
every acknowledged value ends in the store, on the topic and in the read model exactly once."""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from domain.identity import Role
from infra.db import connect
from infra.runtime.broker import LocalBroker
from infra.runtime.ports import free_port, wait_until
from infra.runtime.processes import http_ready
from infra.settings import Settings
from tests.conftest import StackFactory
from tests.e2e.test_projector_crash import expected_report_view
from tests.helpers import auth, form_indicators, open_month, store_events, topic_messages

AGENCIES = ("P01", "P79", "P48", "P31", "P92")
ROUNDS = 35  # 5 agencies x 35 batches x 62 integer indicators = 10,850 values


@pytest.fixture
def private_broker() -> Iterator[LocalBroker]:
    """A broker of this test alone: it is emptied in the middle of the test."""
    folder = Path(tempfile.mkdtemp(prefix="reporting-broker-"))
    with LocalBroker(free_port(), log_path=folder / "broker.log") as broker:
        yield broker


@pytest.mark.slow
def test_relay_projector_kills_and_an_empty_broker_lose_and_duplicate_nothing(
    stack_factory: StackFactory, settings: Settings, private_broker: LocalBroker
) -> None:
    chosen = replace(settings, kafka_bootstrap_servers=private_broker.bootstrap_servers, projector_batch_size=100)
    stack = stack_factory("ingest", "relay", "project", settings_override=chosen)
    period = open_month()
    acknowledged: list[int] = []
    refused: list[str] = []
    retries: list[str] = []
    values_acknowledged: list[int] = []
    lock = threading.Lock()

    def client(agency: str) -> None:
        token = stack.token(Role.AGENCY_REPORTER, agency)
        codes = [i["code"] for i in form_indicators(stack.ingest_url, token, "UNIFIED-PROVINCIAL", period, "integer")]
        with httpx.Client(timeout=60) as http:
            for round_ in range(ROUNDS):
                body = {"values": [{"indicator": c, "value": round_ * 1000 + n} for n, c in enumerate(codes)]}
                headers = {**auth(token), "Idempotency-Key": f"{agency}-{round_}"}
                # A client that lost its answer (ingest killed) retries with the same key.
                for _attempt in range(20):
                    try:
                        response = http.post(
                            f"{stack.ingest_url}/agencies/{agency}/periods/{period}/values", json=body, headers=headers
                        )
                    except httpx.TransportError:
                        with lock:
                            retries.append(agency)
                        wait_until(lambda: http_ready(stack.ingest_url), 60, what="ingest back")
                        continue
                    with lock:
                        if response.status_code == 200:
                            acknowledged.append(response.json()["position"])
                            values_acknowledged.append(len(codes))
                        else:
                            refused.append(response.text)
                    break

    threads = [threading.Thread(target=client, args=(agency,)) for agency in AGENCIES]
    for thread in threads:
        thread.start()
    kills = 0
    wait_until(lambda: len(acknowledged) >= 15, 60, what="load under way")
    stack.services["relay"].kill()
    stack.services["project"].kill()
    kills += 2
    stack.start("relay")
    wait_until(lambda: len(acknowledged) >= 40, 60, what="more load")
    stack.services["ingest"].kill()
    kills += 1
    stack.start("ingest")
    wait_until(lambda: len(acknowledged) >= 70, 60, what="more load")
    private_broker.restart()  # the broker loses its whole log
    stack.start("project")
    wait_until(lambda: len(acknowledged) >= 100, 60, what="more load")
    stack.services["relay"].kill()
    stack.services["project"].kill()
    kills += 2
    stack.start("relay")
    stack.start("project")
    for thread in threads:
        thread.join()
    assert refused == []
    assert len(acknowledged) == len(AGENCIES) * ROUNDS
    assert sum(values_acknowledged) >= 10_000

    events = store_events(stack.settings)
    stored_positions = [e.position for e in events]
    assert set(acknowledged) <= set(stored_positions), "every acknowledged write is in the store"
    expected = expected_report_view(events)

    def read_model() -> dict[tuple[str, str, str], tuple[object, int, int]]:
        with connect(stack.settings) as conn:
            rows = conn.execute(
                "SELECT agency, period, indicator, value, revision, position FROM rm_report_values"
            ).fetchall()
        return {(r[0], r[1], r[2]): (r[3], r[4], r[5]) for r in rows}

    wait_until(lambda: read_model() == expected, 120, interval=0.2, what="read model equals the store")
    # The topic holds every stored event (republished after the broker lost its log).
    records = topic_messages(stack.settings, set(stored_positions), timeout=60)
    assert {int(dict(r.headers)["notification_id"]) for r in records} == set(stored_positions)
    value_events = sum(1 for e in events if e.event_type.startswith("IndicatorValue"))
    assert value_events == sum(values_acknowledged), "one event per acknowledged value"
    print(
        f"\nfault run: {sum(values_acknowledged)} values in {len(acknowledged)} batches acknowledged, "
        f"{len(retries)} client retries after the ingest kill, {value_events} value events in the store, "
        f"{len(expected)} read-model rows, {len(events)} events in the store and on the topic, "
        f"{kills} SIGKILLs (relay x2, projector x2, ingest x1), 1 broker restart with an empty log"
    )
