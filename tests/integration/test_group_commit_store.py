"""Group commit in the event store: saves of concurrent requests in one transaction, each atomic on its own."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import DataError, IntegrityError, StoredEvent
from prometheus_client import REGISTRY

from infra.db import connect
from infra.event_store import EVENTS_TABLE, Insert, ReportingApplication, ReportingRecorder
from infra.runtime.ports import wait_until
from infra.settings import Settings
from services.ingest.application.ports import PendingAnswer

TOPIC = "tests.integration.test_group_commit_store:Thing.Event"


@pytest.fixture
def app(settings: Settings) -> Iterator[ReportingApplication]:
    application = ReportingApplication(settings, cache_size=0)
    yield application
    application.close()


def _recorder(app: ReportingApplication) -> ReportingRecorder:
    assert isinstance(app.recorder, ReportingRecorder)
    return app.recorder


def _events(originator: UUID, versions: range) -> list[StoredEvent]:
    return [StoredEvent(originator, v, TOPIC, b'{"n": %d}' % v) for v in versions]


def _answer(key: str) -> PendingAnswer:
    return PendingAnswer("tester", key, b"fingerprint", lambda ids: b"%d events" % len(ids))


def _stored(settings: Settings, originators: list[UUID]) -> dict[UUID, int]:
    with connect(settings) as conn:
        rows = conn.execute(
            f"SELECT originator_id, count(*) FROM {EVENTS_TABLE} WHERE originator_id = ANY(%s) GROUP BY 1",
            (originators,),
        ).fetchall()
    return {UUID(str(row[0])): int(row[1]) for row in rows}


def _keys(settings: Settings) -> dict[str, bytes]:
    with connect(settings) as conn:
        rows = conn.execute("SELECT key, response FROM idempotency_keys WHERE subject = 'tester'").fetchall()
    return {str(row[0]): bytes(row[1]) for row in rows}


def test_a_clash_in_a_group_rolls_back_that_save_only(app: ReportingApplication, settings: Settings) -> None:
    taken, first, second = uuid4(), uuid4(), uuid4()
    app.recorder.insert_events(_events(taken, range(1, 3)))
    outcomes = _recorder(app).write_group(
        [
            Insert(_events(first, range(1, 4)), {"idempotency": _answer("k1")}),
            Insert(_events(taken, range(2, 4)), {"idempotency": _answer("k2")}),  # version 2 is taken
            Insert(_events(second, range(1, 3)), {"idempotency": _answer("k1")}),  # key k1 is taken (just now)
            Insert(_events(second, range(1, 3)), {"idempotency": _answer("k3")}),
        ]
    )
    assert isinstance(outcomes[1], IntegrityError)
    assert isinstance(outcomes[2], IntegrityError)
    first_ids, last_ids = outcomes[0], outcomes[3]
    assert not isinstance(first_ids, BaseException)
    assert not isinstance(last_ids, BaseException)
    assert (len(first_ids), len(last_ids)) == (3, 2)
    assert max(first_ids) < min(last_ids), "in order"
    assert _stored(settings, [taken, first, second]) == {taken: 2, first: 3, second: 2}
    assert _keys(settings) == {"k1": b"3 events", "k3": b"2 events"}, "each answer with its own events only"


def test_a_value_the_database_refuses_fails_that_save_only(app: ReportingApplication, settings: Settings) -> None:
    refused, kept = uuid4(), uuid4()
    outcomes = _recorder(app).write_group(
        [
            Insert([StoredEvent(refused, 1, "nul\x00in:Topic", b"{}")], {}),  # text may not hold NUL
            Insert(_events(kept, range(1, 3)), {"idempotency": _answer("k4")}),
        ]
    )
    assert isinstance(outcomes[0], DataError)
    assert not isinstance(outcomes[1], BaseException)
    assert len(outcomes[1]) == 2
    assert _stored(settings, [refused, kept]) == {kept: 2}
    assert _keys(settings) == {"k4": b"2 events"}


def test_saves_waiting_for_the_table_lock_are_written_in_one_transaction(
    app: ReportingApplication, settings: Settings
) -> None:
    group = _recorder(app).group_commit
    commits, saves = _counted()
    originators = [uuid4() for _ in range(12)]
    errors: list[BaseException] = []

    def save(originator: UUID) -> None:
        try:
            app.recorder.insert_events(_events(originator, range(1, 6)))
        except BaseException as error:
            errors.append(error)

    with connect(settings) as holder:
        with holder.transaction():
            holder.execute(f"LOCK TABLE {EVENTS_TABLE} IN EXCLUSIVE MODE")  # the first group waits for it
            threads = [threading.Thread(target=save, args=(o,)) for o in originators]
            threads[0].start()
            wait_until(lambda: group._writing, 10, interval=0.005, what="the first save writing")
            for thread in threads[1:]:
                thread.start()
            wait_until(lambda: len(group._waiting) == 11, 10, interval=0.005, what="eleven saves waiting")
            assert _stored(settings, originators) == {}, "nothing committed while the lock is held"
        for thread in threads:
            thread.join(20)
    assert errors == []
    assert _stored(settings, originators) == dict.fromkeys(originators, 5)
    assert (group.groups, group.requests) == (2, 12), "the eleven that waited were written together"
    assert _counted() == (commits + 2, saves + 12), "and the metrics say so"


def _counted() -> tuple[float, float]:
    commits = REGISTRY.get_sample_value("reporting_event_store_commits_total") or 0.0
    return commits, REGISTRY.get_sample_value("reporting_event_store_saves_total") or 0.0
