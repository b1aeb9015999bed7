"""What the write application needs from the outside world, as small interfaces.

Adapters (`infra/event_store.py` on PostgreSQL, `infra/memory_event_store.py` in memory,
`infra/clock.py`) implement them; the composition root (`entrypoints/bootstrap.py`) picks them.
Data crossing a port is plain values, the domain's aggregates, or the types declared here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.access import Secret
from domain.periods import Period
from domain.values import Value


class StoredAnswer(Protocol):
    """The answer stored for an Idempotency-Key: the request it answered, and its body."""

    @property
    def fingerprint(self) -> bytes: ...

    @property
    def body(self) -> bytes: ...


@dataclass(frozen=True)
class PendingAnswer:
    """An answer to store with the events of a save, rendered from their positions once they have them."""

    subject: str
    key: str
    fingerprint: bytes
    render: Callable[[Sequence[int]], bytes]


class EventStore(Protocol):
    """Aggregates and the Idempotency-Key answers, in one store (so that both are saved atomically)."""

    def get(self, aggregate_id: UUID, *, read_only: bool = False) -> Aggregate | None:
        """The aggregate at its latest version, None when it does not exist.

        `read_only` may give the store's cached object itself: the caller must never change it.
        """
        ...

    def save(
        self, aggregate: Aggregate, answer: PendingAnswer | None = None, secrets: Sequence[Secret] = ()
    ) -> Sequence[int]:
        """Store the aggregate's pending events, the answer and the secrets in one transaction; their positions.

        Raises `eventsourcing.persistence.IntegrityError`, storing nothing, when another writer
        took one of the aggregate's new versions or the answer's key first.
        """
        ...

    def save_all(self, aggregates: Sequence[Aggregate], answer: PendingAnswer | None = None) -> Sequence[int]:
        """Several aggregates' pending events and the answer in one transaction (an all-or-nothing import);
        `IntegrityError` as `save`."""
        ...

    def versions(self, aggregate_ids: Sequence[UUID]) -> Mapping[UUID, int]:
        """The current version of each of these aggregates that exists."""
        ...

    def cached(self, aggregate_id: UUID) -> Aggregate | None:
        """The store's cached copy of the aggregate, perhaps not its latest version (a hint of what a command
        will read, never a ground for a decision); None when none is cached. The caller must never change it."""
        ...

    def versions_read_together(self) -> AbstractContextManager[Callable[[Sequence[UUID]], None]]:
        """A scope for one attempt of a command; the function it gives reads the versions of the aggregates
        the attempt will read, in one query.

        Until the next save in the scope, `versions` of those aggregates and `get` of one of them are
        answered from what that query read: a cached aggregate at the version read, or None for one
        that had no event then. A writer that changes one since is caught by the save's version check,
        as it would be a moment after any read. Outside the scope, or for other aggregates, every
        call reads the store.
        """
        ...

    def answer(self, subject: str, key: str) -> StoredAnswer | None:
        """The answer stored for the key, if any."""
        ...

    def store_answer(self, subject: str, key: str, fingerprint: bytes, body: bytes) -> None:
        """Store an answer of a request that stored no event; the first answer of a key stays."""
        ...

    def password_hash(self, username: str) -> str | None:
        """The stored hash of a person's password; None when none was set."""
        ...


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether the password matches; with no hash, False after the same work as a real check."""
        ...


class SignInThrottle(Protocol):
    """Failed sign-ins counted per key (the username tried, the client's address)."""

    def wait_seconds(self, keys: Sequence[str]) -> float:
        """0 while every key is under its limit; otherwise how long until a new attempt is counted."""
        ...

    def failed(self, keys: Sequence[str]) -> None: ...

    def succeeded(self, keys: Sequence[str]) -> None: ...


class ValueHistory(Protocol):
    """The agency's own history, for outlier warnings."""

    def previous_values(self, agency: str, period: Period) -> Mapping[str, Sequence[Value]]:
        """Per indicator, the agency's values of the periods before `period`, most recent first."""
        ...

    def previous_ids(self, agency: str, period: Period) -> Sequence[UUID]:
        """The submissions `previous_values` reads."""
        ...


class ElectronicCodes(Protocol):
    """The agencies' electronic identifier codes (QCVN 102:2016) as the event store holds them now."""

    def codes(self) -> Mapping[str, str]:
        """Agency code -> its electronic identifier code, for every agency that has one."""
        ...


def agency_of(codes: Mapping[str, str], electronic_code: str) -> str | None:
    """The agency holding an electronic identifier code; None when no agency, or more than one, holds it."""
    holders = [agency for agency, code in codes.items() if code == electronic_code]
    return holders[0] if len(holders) == 1 else None
