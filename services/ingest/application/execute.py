"""The one way a command is executed: load an aggregate, change it, save its events.

Every command gets the same guarantees:
- an Idempotency-Key's stored answer is consulted first: a retry of a request that was answered
  gets that answer again, whatever happened since, and runs nothing;
- one atomic save: the events and the key's answer together, or neither;
- optimistic concurrency: a version clash is retried on fresh state, or is a `Conflict` when the
  client named the version it based its change on;
- nothing is stored when the domain refuses (it raises before anything is saved).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from domain.access import Secret
from domain.errors import Conflict
from services.ingest.application.idempotency import Idempotency, first_answer
from services.ingest.application.outcomes import Outcome, Replayed
from services.ingest.application.ports import EventStore, PendingAnswer

MAX_ATTEMPTS = 20

A = TypeVar("A", bound=Aggregate)
R = TypeVar("R")
O = TypeVar("O", bound=Outcome)  # noqa: E741


def replayed(store: EventStore, idempotency: Idempotency | None) -> Replayed | None:
    """The first answer to this request's key, if it was answered (refused if it answered another request)."""
    if idempotency is None:
        return None
    answer = first_answer(idempotency, store.answer(idempotency.subject, idempotency.key))
    return None if answer is None else Replayed(answer)


def execute(
    store: EventStore,
    load: Callable[[], A],
    change: Callable[[A], R],
    outcome: Callable[[A, R, Sequence[int]], O],
    *,
    idempotency: Idempotency | None = None,
    expected_version: int | None = None,
    secrets: Sequence[Secret] | Callable[[A], Sequence[Secret]] = (),
    reads: Callable[[], Sequence[UUID]] | None = None,
) -> O | Replayed:
    """Run `change` on what `load` gives and save it; `outcome` describes it, given the new events' positions.

    `secrets` (a password's hash, a token's digest) are stored in the same transaction as the events,
    if there are events; given as a function, they are taken from the changed aggregate. `reads`
    names the aggregates an attempt reads: their versions are read in one query before each load
    (`EventStore.versions_read_together`).
    """
    if reads is None:
        return _execute(store, load, change, outcome, idempotency, expected_version, secrets)
    with store.versions_read_together() as read_versions:

        def load_read_together() -> A:
            read_versions(reads())
            return load()

        return _execute(store, load_read_together, change, outcome, idempotency, expected_version, secrets)


def _execute(
    store: EventStore,
    load: Callable[[], A],
    change: Callable[[A], R],
    outcome: Callable[[A, R, Sequence[int]], O],
    idempotency: Idempotency | None,
    expected_version: int | None,
    secrets: Sequence[Secret] | Callable[[A], Sequence[Secret]],
) -> O | Replayed:
    if (first := replayed(store, idempotency)) is not None:
        return first
    for _attempt in range(MAX_ATTEMPTS):
        aggregate = load()
        if expected_version is not None and aggregate.version != expected_version:
            raise Conflict(f"the version is {aggregate.version}, not {expected_version}", aggregate.version)
        result = change(aggregate)
        if not aggregate.pending_events:
            done = outcome(aggregate, result, ())
            if idempotency is None:
                return done
            store.store_answer(idempotency.subject, idempotency.key, idempotency.fingerprint, done.body())
            first = replayed(store, idempotency)  # a concurrent twin may have answered first
            return done if first is None or first.body() == done.body() else first
        pending = None
        if idempotency is not None:
            pending = PendingAnswer(
                idempotency.subject, idempotency.key, idempotency.fingerprint, _answer(outcome, aggregate, result)
            )
        try:
            positions = store.save(aggregate, pending, secrets(aggregate) if callable(secrets) else secrets)
        except IntegrityError:
            # Either another request with the same key won, or another writer changed the
            # aggregate: answer as the first did, or retry on fresh state, or refuse.
            if (first := replayed(store, idempotency)) is not None:
                return first
            if expected_version is not None:
                current = load().version
                raise Conflict(f"the version is now {current}", current) from None
            continue
        return outcome(aggregate, result, positions)
    raise Conflict("too many concurrent writers; retry", load().version)


def _answer(outcome: Callable[[A, R, Sequence[int]], O], aggregate: A, result: R) -> Callable[[Sequence[int]], bytes]:
    """The answer's body once the positions are known (the store renders it inside its transaction)."""
    return lambda positions: outcome(aggregate, result, positions).body()
