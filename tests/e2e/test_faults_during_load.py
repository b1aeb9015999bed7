"""No crash or fault loses or duplicates a value.

Several concurrent clients send more than 10,000 indicator values (with Idempotency-Keys; a client
that lost its answer retries with the same key, as the API says). Meanwhile a chaos thread, on a
random schedule (seeded; the seed is printed), SIGKILLs the ingest, relay and projector processes
(each at least twice) and restarts them, and, depending on the test:

- restarts the broker with an empty log (as a broker that lost its disk), or
- stops PostgreSQL for a while and starts it again (the API must answer 503, never 500).

Among the good batches, the clients send batches the API must refuse (an unknown indicator among
values that carry marker numbers). At the end:

- the multiset of acknowledged values equals the multiset of value events in the event store,
  of value events on the topic (one distinct message per position, byte-identical duplicates
  allowed: the relay delivers at least once) and in the audit-trail read model; content hashes
  of the four are equal;
- the report view equals the state folded from the store, with revision counts equal to the
  number of value events per indicator (an event applied twice would count twice);
- no marker value of a refused batch is anywhere.

The figures of each run are printed and written to `.local/reliability/<test>.json`
(or $RELIABILITY_FIGURES); docs/RELIABILITY.md quotes the last run.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from domain.identity import Role
from infra.db import connect
from infra.integration_events import VALUE_EVENTS, IntegrationEvent
from infra.kafka import header
from infra.runtime.broker import LocalBroker
from infra.runtime.ports import wait_until
from infra.runtime.postgres import LocalPostgres
from infra.runtime.processes import http_ready
from infra.settings import Settings
from tests.conftest import Stack, StackFactory
from tests.e2e.conftest import on_private_postgres
from tests.e2e.test_projector_crash import expected_report_view
from tests.helpers import auth, form_indicators, open_month, store_events, topic_messages

ROOT = Path(__file__).resolve().parents[2]
AGENCIES = ("P01", "P79", "P48", "P31", "P92")
ROUNDS = 36  # 5 clients x 36 rounds x 62 integer indicators = 11,160 values acknowledged
SPLIT = 2  # each round in 2 batches (of 31 values): more requests, so the faults land mid-load
REFUSED_EVERY = 6  # one batch in six is preceded by a batch the API must refuse
KILLS_EACH = 2  # SIGKILLs per process (ingest, relay, projector)
MARKER = 500_000_000  # values of refused batches start here; acknowledged ones stay far below
Value = tuple[str, str, str, Any]  # agency, period, indicator, value


@dataclass
class Ledger:
    """What the clients sent and what the API answered (thread-safe)."""

    total_batches: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    acknowledged: list[Value] = field(default_factory=list)
    refused: list[Value] = field(default_factory=list)
    batches_acknowledged: int = 0
    batches_refused: int = 0
    values_sent: int = 0
    batches_sent: int = 0
    transport_retries: int = 0
    unavailable: int = 0  # 503 answers (then retried with the same key)
    server_errors: list[str] = field(default_factory=list)  # any other 5xx: a failure

    def progress(self) -> float:
        with self.lock:
            return self.batches_acknowledged / self.total_batches


@dataclass
class Chaos:
    """Faults at random moments of the load: (progress at which to act, action name)."""

    stack: Stack
    ledger: Ledger
    rng: random.Random
    extra: tuple[str, Callable[[], dict[str, Any]]] | None = None
    extra_in_background: bool = False  # a fault that does not interact with the kills (the broker)
    kills: Counter[str] = field(default_factory=Counter)
    background: list[threading.Thread] = field(default_factory=list)
    log: list[dict[str, Any]] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    error: BaseException | None = None

    def schedule(self) -> list[tuple[float, str]]:
        victims = [name for name in ("ingest", "relay", "project") for _ in range(KILLS_EACH)]
        self.rng.shuffle(victims)
        moments = sorted(self.rng.uniform(0.03, 0.75) for _ in victims)
        plan = list(zip(moments, victims, strict=True))
        if self.extra is not None:
            plan.append((self.rng.uniform(0.3, 0.7), self.extra[0]))
        return sorted(plan)

    def run(self, plan: list[tuple[float, str]]) -> None:
        try:
            for moment, action in plan:
                wait_until(lambda m=moment: self.ledger.progress() >= m, 300, interval=0.005, what="load progress")
                at = self.ledger.progress()
                if self.extra is not None and action == self.extra[0]:
                    if self.extra_in_background:
                        self.background.append(threading.Thread(target=self._background, args=(self.extra[1],)))
                        self.background[-1].start()
                    else:
                        self.figures.update(self.extra[1]())
                else:
                    self.stack.services[action].kill()
                    self.kills[action] += 1
                    self.stack.start(action)  # the HTTP service: until it is ready again
                self.log.append({"action": action, "planned_at": round(moment, 3), "progress": round(at, 3)})
        except BaseException as error:  # reported by the test thread
            self.error = error

    def _background(self, action: Callable[[], dict[str, Any]]) -> None:
        try:
            self.figures.update(action())
        except BaseException as error:
            self.error = error


def send(stack: Stack, ledger: Ledger, http: httpx.Client, url: str, body: dict[str, Any], key: str) -> httpx.Response:
    """POST until a definitive answer; a lost answer or a 503 is retried with the same Idempotency-Key."""
    token = http.headers["Authorization"]
    while True:
        try:
            response = http.post(url, json=body, headers={"Authorization": token, "Idempotency-Key": key})
        except httpx.TransportError:
            with ledger.lock:
                ledger.transport_retries += 1
            wait_until(lambda: http_ready(stack.ingest_url), 120, interval=0.1, what="ingest back")
            continue
        if response.status_code == 503:
            assert int(response.headers["retry-after"]) >= 1
            with ledger.lock:
                ledger.unavailable += 1
            # Retry-After says when; readiness says it sooner: wait on the condition, not a clock.
            wait_until(lambda: http_ready(stack.ingest_url), 300, interval=0.2, what="database back")
            continue
        if response.status_code >= 500:
            with ledger.lock:
                ledger.server_errors.append(f"{response.status_code} {response.text[:200]}")
        return response


def client(stack: Stack, ledger: Ledger, agency: str, index: int, codes: list[str], period: str) -> None:
    url = f"{stack.ingest_url}/agencies/{agency}/periods/{period}/values"
    token = stack.token(Role.AGENCY_REPORTER, agency)
    with httpx.Client(timeout=120, headers=auth(token)) as http:
        for round_ in range(ROUNDS):
            if round_ % REFUSED_EVERY == REFUSED_EVERY // 2:
                # Marker values and an unknown indicator: the whole batch must be refused.
                bad = [(code, MARKER + index * 1_000_000 + round_ * 1000 + n) for n, code in enumerate(codes[:10])]
                body = {"values": [{"indicator": c, "value": v} for c, v in bad]}
                body["values"].append({"indicator": "NO.SUCH.INDICATOR", "value": 1})
                with ledger.lock:
                    ledger.batches_sent += 1
                    ledger.values_sent += len(bad)
                response = send(stack, ledger, http, url, body, f"{agency}-refused-{round_}")
                assert response.status_code == 422, response.text
                with ledger.lock:
                    ledger.batches_refused += 1
                    ledger.refused += [(agency, period, c, v) for c, v in bad]
            values = [(code, round_ * 1000 + n) for n, code in enumerate(codes)]
            for part in range(SPLIT):
                good = values[part::SPLIT]
                body = {"values": [{"indicator": c, "value": v} for c, v in good]}
                with ledger.lock:
                    ledger.batches_sent += 1
                    ledger.values_sent += len(good)
                response = send(stack, ledger, http, url, body, f"{agency}-{round_}-{part}")
                assert response.status_code == 200, response.text
                with ledger.lock:
                    ledger.batches_acknowledged += 1
                    ledger.acknowledged += [(agency, period, c, v) for c, v in good]


def check_alive(stack: Stack) -> None:
    """Fail at once, with its log, if a service exited on its own (a wait would only time out)."""
    for name in ("ingest", "relay", "project"):
        service = stack.services[name]
        assert service.alive(), f"{name} exited on its own: {service.log_path.read_text()[-3000:]}"


def digest(values: Iterable[Value]) -> str:
    """A content hash of a multiset of values (order-free)."""
    lines = sorted(json.dumps(list(v), ensure_ascii=False) for v in values)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def as_value(event: IntegrationEvent) -> Value:
    return (event.agency or "", event.period or "", event.indicator or "", event.value)


def run_load(stack: Stack, chaos: Chaos, name: str, seed: int) -> dict[str, Any]:
    """The load with its faults, then every check; returns the figures."""
    started = time.monotonic()
    period = open_month().code
    reader = stack.token(Role.AUDITOR)
    codes = [
        i["code"] for i in form_indicators(stack.ingest_url, reader, "UNIFIED-PROVINCIAL", open_month(), "integer")
    ]
    assert len(codes) * ROUNDS * len(AGENCIES) >= 10_000
    plan = chaos.schedule()
    chaos_thread = threading.Thread(target=chaos.run, args=(plan,))
    threads = [
        threading.Thread(target=client, args=(stack, chaos.ledger, agency, n, codes, period))
        for n, agency in enumerate(AGENCIES)
    ]
    chaos_thread.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    chaos_thread.join()
    for thread in chaos.background:
        thread.join()
    load_seconds = time.monotonic() - started
    ledger = chaos.ledger
    if chaos.error is not None:
        raise chaos.error
    assert ledger.server_errors == [], "no 5xx but 503"
    assert ledger.batches_acknowledged == len(AGENCIES) * ROUNDS * SPLIT, "every client finished"
    assert sum(chaos.kills.values()) == 3 * KILLS_EACH
    assert all(entry["progress"] < 1 for entry in chaos.log), f"every fault during the load: {chaos.log}"

    check_alive(stack)

    # ---- the event store: every acknowledged value exactly once, nothing refused --------------
    events = store_events(stack.settings)
    in_store = [as_value(e) for e in events if e.event_type in VALUE_EVENTS]
    assert Counter(in_store) == Counter(ledger.acknowledged), "the store holds exactly the acknowledged values"
    markers = {v[3] for v in ledger.refused}
    assert not markers & {v[3] for v in in_store}

    # ---- the topic: every stored event, byte for byte ----------------------------------------
    by_position = {e.position: e.to_bytes() for e in events}
    records = topic_messages(stack.settings, set(by_position), timeout=120)
    on_topic: dict[int, set[bytes]] = {}
    for record in records:
        on_topic.setdefault(int(header(record.headers, "notification_id") or 0), set()).add(bytes(record.value))
    assert set(on_topic) == set(by_position), "the topic holds exactly the stored positions"
    assert all(copies == {by_position[p]} for p, copies in on_topic.items()), "each position, identical bytes"
    topic_values = [
        as_value(event)
        for event in (IntegrationEvent.from_bytes(next(iter(copies))) for copies in on_topic.values())
        if event.event_type in VALUE_EVENTS
    ]

    # ---- the read models: each event applied exactly once ------------------------------------
    expected_view = expected_report_view(events)

    def report_view() -> dict[tuple[str, str, str], tuple[object, int, int]]:
        with connect(stack.settings) as conn:
            rows = conn.execute(
                "SELECT agency, period, indicator, value, revision, position FROM rm_report_values"
            ).fetchall()
        return {(r[0], r[1], r[2]): (r[3], r[4], r[5]) for r in rows}

    def audit_trail() -> dict[int, bytes]:
        with connect(stack.settings) as conn:
            rows = conn.execute("SELECT position, canonical FROM rm_audit_trail").fetchall()
        return {int(p): bytes(c) for p, c in rows}

    def converged(read: Callable[[], object], expected: object) -> Callable[[], bool]:
        def check() -> bool:
            check_alive(stack)
            return read() == expected

        return check

    wait_until(converged(report_view, expected_view), 180, interval=0.2, what="report view equals the store")
    wait_until(converged(audit_trail, by_position), 180, interval=0.2, what="audit trail equals the store")
    trail_values = [
        as_value(e) for e in map(IntegrationEvent.from_bytes, audit_trail().values()) if e.event_type in VALUE_EVENTS
    ]
    view_values = {row[0] for row in report_view().values()}
    assert not markers & view_values
    assert not markers & {v[3] for v in topic_values}
    assert not markers & {v[3] for v in trail_values}

    hashes = {
        "acknowledged": digest(ledger.acknowledged),
        "event_store": digest(in_store),
        "topic": digest(topic_values),
        "audit_trail": digest(trail_values),
    }
    assert len(set(hashes.values())) == 1, hashes
    figures = {
        "test": name,
        "seed": seed,
        "clients": len(AGENCIES),
        "values_sent": ledger.values_sent,
        "batches_sent": ledger.batches_sent,
        "values_acknowledged": len(ledger.acknowledged),
        "batches_acknowledged": ledger.batches_acknowledged,
        "values_refused": len(ledger.refused),
        "batches_refused": ledger.batches_refused,
        "client_retries_after_lost_answer": ledger.transport_retries,
        "answers_503": ledger.unavailable,
        "kills": dict(sorted(chaos.kills.items())),
        "faults": chaos.log,
        **chaos.figures,
        "value_events_in_store": len(in_store),
        "value_events_on_topic": len(topic_values),
        "value_events_in_audit_trail": len(trail_values),
        "events_in_store": len(events),
        "topic_records": len(records),
        "topic_duplicates": len(records) - len(on_topic),
        "report_view_rows": len(expected_view),
        "revisions_in_report_view": sum(row[1] for row in expected_view.values()),
        "refused_values_found_anywhere": 0,
        "content_hash": hashes["acknowledged"],
        "load_seconds": round(load_seconds, 1),
        "total_seconds": round(time.monotonic() - started, 1),
    }
    folder = Path(os.environ.get("RELIABILITY_FIGURES", ROOT / ".local" / "reliability"))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(f"\n{name}: {json.dumps(figures)}")
    return figures


def new_seed() -> int:
    return int(os.environ.get("FAULT_SEED") or random.SystemRandom().randrange(1 << 32))


@pytest.mark.slow
def test_kills_and_a_broker_that_lost_its_log_lose_and_duplicate_nothing(
    private_broker: LocalBroker, stack_factory: StackFactory, settings: Settings
) -> None:
    chosen = replace(settings, kafka_bootstrap_servers=private_broker.bootstrap_servers, projector_batch_size=100)
    stack = stack_factory("ingest", "relay", "project", settings_override=chosen)
    seed = new_seed()

    def empty_the_broker() -> dict[str, Any]:
        private_broker.restart()  # the broker comes back with no topic and no message
        return {"broker_restarts_with_an_empty_log": 1}

    ledger = Ledger(total_batches=len(AGENCIES) * ROUNDS * SPLIT)
    chaos = Chaos(stack, ledger, random.Random(seed), ("empty-broker", empty_the_broker), extra_in_background=True)
    figures = run_load(stack, chaos, "kills_and_empty_broker", seed)
    assert figures["broker_restarts_with_an_empty_log"] == 1
    assert figures["client_retries_after_lost_answer"] >= 1, "the ingest kills cut answers"


@pytest.mark.slow
def test_kills_and_a_database_outage_lose_and_duplicate_nothing(
    private_postgres: LocalPostgres, stack_factory: StackFactory, settings: Settings
) -> None:
    chosen = replace(on_private_postgres(settings, private_postgres), projector_batch_size=100)
    stack = stack_factory("ingest", "relay", "project", settings_override=chosen)
    probe = stack.token(Role.AUDITOR)
    seed = new_seed()
    ledger = Ledger(total_batches=len(AGENCIES) * ROUNDS * SPLIT)

    def database_outage() -> dict[str, Any]:
        before = ledger.unavailable
        stopped_at = time.monotonic()
        private_postgres.stop()
        # The API answers 503 with Retry-After while the database is down: a probe, and the clients.
        answer = httpx.get(
            f"{stack.ingest_url}/templates/UNIFIED-PROVINCIAL/form",
            params={"period": open_month().code},
            headers=auth(probe),
            timeout=60,
        )
        assert answer.status_code == 503, answer.text
        assert answer.json()["code"] == "service-unavailable"
        wait_until(lambda: ledger.unavailable > before, 60, interval=0.05, what="a client answered 503")
        private_postgres.start()
        restarted_at = time.monotonic()
        wait_until(lambda: http_ready(stack.ingest_url), 60, interval=0.05, what="ingest ready again")
        acknowledged = ledger.batches_acknowledged
        wait_until(lambda: ledger.batches_acknowledged > acknowledged, 60, interval=0.05, what="a write accepted")
        return {
            "database_outages": 1,
            "database_down_seconds": round(restarted_at - stopped_at, 1),
            "seconds_to_first_write_after_restart": round(time.monotonic() - restarted_at, 1),
        }

    chaos = Chaos(stack, ledger, random.Random(seed), ("database-outage", database_outage))
    figures = run_load(stack, chaos, "kills_and_database_outage", seed)
    assert figures["database_outages"] == 1
    assert figures["answers_503"] >= 1, "the API answered 503 while the database was down"
    assert figures["seconds_to_first_write_after_restart"] < 15, "recovery without restarting anything"
