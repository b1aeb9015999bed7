"""The event store: one `eventsourcing` application on PostgreSQL for every aggregate.

One application means one events table, so there is one global order of all events
(submissions, catalogue, templates and agencies alike; see docs/DECISIONS.md, *One event store*).
`PostgresEventStore` is the write side's event-store port on it, with the Idempotency-Key answers.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.application import Application
from eventsourcing.persistence import (
    DataError,
    IntegrityError,
    InterfaceError,
    JSONTranscoder,
    Mapper,
    OperationalError,
    ProgrammingError,
)
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import retry
from psycopg import sql
from psycopg.rows import DictRow, TupleRow
from psycopg_pool import ConnectionPool

from domain.access import PasswordHash, Secret, TokenDigest, TokenRevocation
from infra import metrics
from infra.db import cap_reconnect_backoff, check_connection
from infra.event_store_base import (
    AnswerRecord,
    LibraryEventStore,
    StoredResponse,
    construct_mapper,
    register_transcodings,
)
from infra.group_commit import GroupCommit
from infra.metrics import heartbeat
from infra.pg_arrays import bytea_array, int8_array, text_array, uuid_array
from infra.settings import Settings

log = logging.getLogger("reporting.event_store")

EVENTS_TABLE = "reporting_events"
# The schema's `idempotency_keys.status_code` is not read: the stored body is the answer, and its
# status is the success status of the route that answered it.
UNREAD_STATUS = 0


# Errors of one save's own content (a version or a key taken, a value the database refuses): that
# save fails with the library's error of the same kind, and the others of its transaction go on.
_LIBRARY_ERRORS: tuple[tuple[type[psycopg.Error], type[Exception]], ...] = (
    (psycopg.IntegrityError, IntegrityError),
    (psycopg.DataError, DataError),
    (psycopg.ProgrammingError, ProgrammingError),
)
SAVE_ERRORS = tuple(theirs for theirs, _ in _LIBRARY_ERRORS)


def _library_error(error: psycopg.Error) -> Exception:
    return next(ours(str(error)) for theirs, ours in _LIBRARY_ERRORS if isinstance(error, theirs))


@dataclass(frozen=True)
class Insert:
    """One save's events and what goes with them (`idempotency`, `secrets`: the keyword arguments of the save)."""

    stored_events: Sequence[Any]
    options: dict[str, Any]


class ReportingRecorder(PostgresApplicationRecorder):
    """The library's recorder, with three changes at the insert.

    1. Group commit: the saves of concurrent requests of a process go into one transaction (one
       table lock, one commit), each in its own savepoint, so that a clash of one (a version
       already taken, a key already answered) fails that one only; each save returns only once
       the transaction holding it is committed (`infra/group_commit.py`).
    2. The Idempotency-Key record is written in the same transaction (and savepoint) as the
       events, so a retried request either finds its record (and the events exist) or finds
       nothing (and nothing was stored): never one without the other.
    3. Events go in as four arrays of plain types, built in PostgreSQL's binary format
       (`infra/pg_arrays.py`), instead of one array of a composite type, which psycopg can only
       send as escaped text (see docs/PERFORMANCE.md).
    """

    INSERT_ARRAYS = (
        f"INSERT INTO {EVENTS_TABLE} (originator_id, originator_version, topic, state)"
        " SELECT * FROM unnest(%s::uuid[], %s::int8[], %s::text[], %s::bytea[])"
        " RETURNING notification_id"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.group_commit: GroupCommit[Insert, Sequence[int]] = GroupCommit(
            self.write_group,
            size=lambda insert: len(insert.stored_events),
            written=metrics.group_committed,
        )

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(self, stored_events: Sequence[Any], **kwargs: Any) -> Sequence[int] | None:
        if not stored_events:
            return []
        return self.group_commit.submit(Insert(stored_events, kwargs))

    def write_group(self, inserts: Sequence[Insert]) -> list[Sequence[int] | BaseException]:
        """Several saves in one transaction under the table lock, each in a savepoint of its own.

        A save that clashes, or that holds a value the database refuses, is rolled back to its
        savepoint and gets that error as its outcome; the others are committed. Any other error
        (the connection, the lock's timeout) fails the transaction, hence every save in it.
        """
        outcomes: list[Sequence[int] | BaseException] = []
        with (
            self.datastore.get_connection() as conn,
            conn.pipeline() as pipeline,
            conn.transaction(),
            conn.cursor() as curs,
        ):
            # The table lock keeps commit order equal to notification order (docs/DECISIONS.md, *One event store*).
            self._lock_table(curs)
            self._notify_channel(curs)
            for insert in inserts:
                try:
                    with conn.transaction():
                        self._insert_stored_events(curs, insert.stored_events)
                        pipeline.sync()  # a clash raises here, inside this save's savepoint
                        ids = self._fetch_ids_after_insert_events(curs, insert.stored_events, **insert.options)
                except SAVE_ERRORS as error:
                    outcomes.append(_library_error(error))
                else:
                    outcomes.append(ids or [])
        return outcomes

    def _insert_stored_events(
        self,
        curs: psycopg.Cursor[DictRow],
        stored_events: Sequence[Any],
        **kwargs: Any,
    ) -> None:
        curs.execute(
            self.INSERT_ARRAYS,
            (
                uuid_array([e.originator_id for e in stored_events]),
                int8_array([e.originator_version for e in stored_events]),
                text_array([e.topic for e in stored_events]),
                bytea_array([e.state for e in stored_events]),
            ),
            binary=True,
        )

    def _fetch_ids_after_insert_events(
        self,
        curs: psycopg.Cursor[DictRow],
        stored_events: Sequence[Any],
        **kwargs: Any,
    ) -> Sequence[int] | None:
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        record: AnswerRecord | None = kwargs.get("idempotency")
        if record is not None and ids:
            # A plain INSERT: a duplicate key is a database error that rolls this save back.
            curs.execute(
                "INSERT INTO idempotency_keys (subject, key, fingerprint, status_code, response)"
                " VALUES (%s, %s, %s, %s, %s) RETURNING 1",
                (record.subject, record.key, record.fingerprint, UNREAD_STATUS, record.render(ids)),
            )
            curs.fetchone()  # forces the pipeline to sync, so a clash raises here
        for secret in kwargs.get("secrets") or ():
            _store_secret(curs, secret)
        return ids


def _store_secret(curs: psycopg.Cursor[DictRow], secret: Secret) -> None:
    """A secret's row beside the events, in their transaction (docs/DECISIONS.md, *Identity*)."""
    if isinstance(secret, PasswordHash):
        curs.execute(
            "INSERT INTO account_credentials (username, password_hash) VALUES (%s, %s)"
            " ON CONFLICT (username) DO UPDATE SET password_hash = EXCLUDED.password_hash, updated_at = now()",
            (secret.username, secret.password_hash),
        )
    elif isinstance(secret, TokenDigest):
        curs.execute(
            "INSERT INTO api_tokens (token_hash, subject, role, agency, label, created_at, expires_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (
                secret.digest,
                secret.token,
                secret.role.value,
                secret.agency,
                secret.label,
                secret.issued_at,
                secret.expires_at,
            ),
        )
    elif isinstance(secret, TokenRevocation):
        curs.execute(
            "UPDATE api_tokens SET revoked_at = %s, revoked_by = %s WHERE subject = %s AND revoked_at IS NULL",
            (secret.revoked_at, secret.revoked_by, secret.token),
        )
    else:
        raise TypeError(f"no table for {type(secret).__name__}")


class ReportingApplication(Application[UUID]):
    """The event store of the whole system (docs/DECISIONS.md, *One event store*)."""

    name = "Reporting"  # the library derives the table name from it: reporting_events

    def __init__(self, settings: Settings, *, cache_size: int = 10_000) -> None:
        cap_reconnect_backoff()  # the library's pool recovers from an outage as fast as ours
        env = settings.event_store_env()
        env["APPLICATION_RECORDER_TOPIC"] = f"{ReportingRecorder.__module__}:ReportingRecorder"
        env["AGGREGATE_CACHE_MAXSIZE"] = str(cache_size)
        super().__init__(env)
        # The library's pool pings every connection it hands out (POSTGRES_PRE_PING): ours pings
        # only a connection the server has closed (psycopg_pool has no setter for its check).
        library_pool(self)._check = check_connection

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        register_transcodings(transcoder)

    def construct_mapper(self) -> Mapper[UUID]:
        return construct_mapper(self)

    def close(self) -> None:
        self.factory.close()


def library_pool(app: ReportingApplication) -> ConnectionPool[psycopg.Connection[DictRow]]:
    """The event store library's own connection pool (its use is exported as metrics)."""
    recorder = app.recorder
    assert isinstance(recorder, ReportingRecorder)
    return recorder.datastore.pool


def open_event_store(
    settings: Settings, stop: threading.Event, *, cache_size: int = 10_000
) -> ReportingApplication | None:
    """The event store for a worker process, waiting while the database does not answer.

    The library connects as the application is built: a worker (re)started during a database
    outage would otherwise exit at once. None when `stop` is set first.
    """
    while not stop.is_set():
        try:
            return ReportingApplication(settings, cache_size=cache_size)
        except (OperationalError, InterfaceError) as error:
            log.warning("event store unavailable, retrying: %s", error)
            heartbeat()  # waiting out an outage is not being stuck
            stop.wait(1.0)
    return None


class PostgresEventStore(LibraryEventStore):
    """The write side's event store: `ReportingApplication`, and the answers and versions on `pool`.

    It connects when opened (`open`), as a service starts, not when it is built.
    """

    def __init__(
        self, settings: Settings, pool: ConnectionPool[psycopg.Connection[TupleRow]], *, cache_size: int = 10_000
    ) -> None:
        super().__init__()
        self.settings = settings
        self.pool = pool
        self.cache_size = cache_size

    def open(self) -> None:
        if self._app is None:
            self._app = ReportingApplication(self.settings, cache_size=self.cache_size)

    @property
    def app(self) -> ReportingApplication:
        """The library's application itself (benchmarks save many aggregates at once through it)."""
        app = self.application
        assert isinstance(app, ReportingApplication)
        return app

    def close(self) -> None:
        if self._app is not None:
            self._app.close()
            self._app = None

    def query_versions(self, aggregate_ids: Sequence[UUID]) -> dict[UUID, int]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT originator_id, max(originator_version) FROM {EVENTS_TABLE}"
                " WHERE originator_id = ANY(%s) GROUP BY originator_id",
                (list(aggregate_ids),),
            ).fetchall()
        return {UUID(str(row[0])): int(row[1]) for row in rows}

    def topic_states(self, topic: str, after: int) -> list[tuple[int, bytes]]:
        # The topic as a literal, so that the planner can use a partial index on it
        # (infra/migrations/0080_imports.sql): rare event types are found without a scan.
        query = sql.SQL(
            "SELECT notification_id, state FROM {table} WHERE topic = {topic} AND notification_id > %s"
            " ORDER BY notification_id"
        ).format(table=sql.Identifier(EVENTS_TABLE), topic=sql.Literal(topic))
        with self.pool.connection() as conn:
            return [(int(row[0]), bytes(row[1])) for row in conn.execute(query, (after,)).fetchall()]

    def password_hash(self, username: str) -> str | None:
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT password_hash FROM account_credentials WHERE username = %s", (username,)
            ).fetchone()
        return None if row is None else str(row[0])

    def answer(self, subject: str, key: str) -> StoredResponse | None:
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT fingerprint, response FROM idempotency_keys WHERE subject = %s AND key = %s",
                (subject, key),
            ).fetchone()
        return None if row is None else StoredResponse(bytes(row[0]), bytes(row[1]))

    def store_answer(self, subject: str, key: str, fingerprint: bytes, body: bytes) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                "INSERT INTO idempotency_keys (subject, key, fingerprint, status_code, response)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (subject, key, fingerprint, UNREAD_STATUS, body),
            )
