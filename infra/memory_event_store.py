"""An in-memory event store for unit tests: the library's POPO persistence behind the same port.

Same guarantees as the PostgreSQL store where the handlers can tell: one order of all events
(positions from 1), a clash on an aggregate version or an Idempotency-Key stores nothing and
raises `IntegrityError`, and a save's answer is stored with its events or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import ApplicationRecorder, IntegrityError, JSONTranscoder, Mapper, StoredEvent
from eventsourcing.popo import POPOApplicationRecorder

from domain.access import PasswordHash, Secret, TokenDigest, TokenRevocation
from infra.event_store_base import (
    AnswerRecord,
    LibraryEventStore,
    StoredResponse,
    construct_mapper,
    register_transcodings,
)


@dataclass
class StoredToken:
    """A token's row as the PostgreSQL table `api_tokens` holds it."""

    row: TokenDigest
    revocation: TokenRevocation | None = None


class MemoryRecorder(POPOApplicationRecorder):
    """The library's in-memory recorder, with the Idempotency-Key answers stored under its lock."""

    def __init__(self) -> None:
        super().__init__()
        self.answers: dict[tuple[str, str], StoredResponse] = {}
        self.password_hashes: dict[str, str] = {}
        self.tokens: dict[str, StoredToken] = {}  # by the token's public name

    def _insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        record: AnswerRecord | None = kwargs.get("idempotency")
        secrets: Sequence[Secret] = kwargs.get("secrets") or ()
        with self._database_lock:
            self._assert_uniqueness(stored_events, **kwargs)
            body = None
            if record is not None and stored_events:
                if (record.subject, record.key) in self.answers:
                    raise IntegrityError(f"Idempotency-Key {record.key!r} already answered")
                # Rendered before anything is stored: if rendering fails, nothing is.
                first = len(self._stored_events) + 1
                body = record.render(range(first, first + len(stored_events)))
            for secret in secrets:  # a clash stores nothing, as PostgreSQL's unique keys do
                self._check_secret(secret)
            ids = self._update_table(stored_events, **kwargs)
            if record is not None and body is not None:
                self.answers[record.subject, record.key] = StoredResponse(record.fingerprint, body)
            for secret in secrets:
                self._store_secret(secret)
            return ids

    def _check_secret(self, secret: Secret) -> None:
        if isinstance(secret, TokenDigest) and (
            secret.token in self.tokens or any(t.row.digest == secret.digest for t in self.tokens.values())
        ):
            raise IntegrityError(f"token {secret.token} exists")

    def _store_secret(self, secret: Secret) -> None:
        if isinstance(secret, PasswordHash):
            self.password_hashes[secret.username] = secret.password_hash
        elif isinstance(secret, TokenDigest):
            self.tokens[secret.token] = StoredToken(secret)
        elif isinstance(secret, TokenRevocation):
            stored = self.tokens.get(secret.token)
            if stored is not None and stored.revocation is None:
                stored.revocation = secret
        else:
            raise TypeError(f"no table for {type(secret).__name__}")

    def answer(self, subject: str, key: str) -> StoredResponse | None:
        with self._database_lock:
            return self.answers.get((subject, key))

    def password_hash(self, username: str) -> str | None:
        with self._database_lock:
            return self.password_hashes.get(username)

    def store_answer(self, subject: str, key: str, answer: StoredResponse) -> None:
        with self._database_lock:
            self.answers.setdefault((subject, key), answer)


class MemoryApplication(Application[UUID]):
    name = "Reporting"

    def __init__(self) -> None:
        # Explicit, so that PostgreSQL settings in the process environment are not picked up.
        super().__init__({"PERSISTENCE_MODULE": "eventsourcing.popo", "AGGREGATE_CACHE_MAXSIZE": "1000"})

    def construct_recorder(self) -> ApplicationRecorder:
        return MemoryRecorder()

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        register_transcodings(transcoder)

    def construct_mapper(self) -> Mapper[UUID]:
        return construct_mapper(self)


class InMemoryEventStore(LibraryEventStore):
    def __init__(self) -> None:
        super().__init__()
        self._app = MemoryApplication()

    @property
    def recorder(self) -> MemoryRecorder:
        recorder = self.application.recorder
        assert isinstance(recorder, MemoryRecorder)
        return recorder

    def event_count(self) -> int:
        """How many events are stored (what a test checks a refusal did not change)."""
        return self.recorder.max_notification_id() or 0

    def query_versions(self, aggregate_ids: Sequence[UUID]) -> dict[UUID, int]:
        found = {}
        for aggregate_id in aggregate_ids:
            last = self.recorder.select_events(aggregate_id, desc=True, limit=1)
            if last:
                found[aggregate_id] = last[0].originator_version
        return found

    def answer(self, subject: str, key: str) -> StoredResponse | None:
        return self.recorder.answer(subject, key)

    def password_hash(self, username: str) -> str | None:
        return self.recorder.password_hash(username)

    def store_answer(self, subject: str, key: str, fingerprint: bytes, body: bytes) -> None:
        self.recorder.store_answer(subject, key, StoredResponse(fingerprint, body))

    def close(self) -> None:
        self.application.close()
