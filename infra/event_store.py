"""The event store: one `eventsourcing` application on PostgreSQL for every aggregate.

One application means one events table, so there is one global order of all
events (submissions, catalogue, templates and agencies alike; decision 1).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.application import Application
from eventsourcing.persistence import InterfaceError, JSONTranscoder, OperationalError, Transcoding
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.rows import DictRow

from infra.db import cap_reconnect_backoff
from infra.settings import Settings

log = logging.getLogger("reporting.event_store")

EVENTS_TABLE = "reporting_events"
IDEMPOTENCY_CONSTRAINT = "idempotency_keys_pkey"


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


@dataclass(frozen=True)
class IdempotencyRecord:
    """The response to remember for an Idempotency-Key, rendered from the new positions."""

    subject: str
    key: str
    fingerprint: bytes
    status_code: int
    render: Callable[[Sequence[int]], bytes]


class ReportingRecorder(PostgresApplicationRecorder):
    """The library's recorder, with two changes at the insert.

    1. The Idempotency-Key record is written in the same transaction as the
       events, so a retried request either finds its record (and the events
       exist) or finds nothing (and nothing was stored): never one without the other.
    2. Events go in as four arrays of plain types, sent in binary, instead of
       one array of a composite type, which psycopg can only send as escaped
       text: the same single INSERT under the same table lock, at a fraction
       of the client CPU (see docs/PERFORMANCE.md).
    """

    INSERT_ARRAYS = (
        f"INSERT INTO {EVENTS_TABLE} (originator_id, originator_version, topic, state)"
        " SELECT * FROM unnest(%s::uuid[], %s::int8[], %s::text[], %s::bytea[])"
        " RETURNING notification_id"
    )

    def _insert_stored_events(
        self,
        curs: psycopg.Cursor[DictRow],
        stored_events: Sequence[Any],
        **kwargs: Any,
    ) -> None:
        # The table lock keeps commit order equal to notification order (decision 1).
        self._lock_table(curs)
        self._notify_channel(curs)
        curs.execute(
            self.INSERT_ARRAYS,
            (
                [e.originator_id for e in stored_events],
                [e.originator_version for e in stored_events],
                [e.topic for e in stored_events],
                [e.state for e in stored_events],
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
        record: IdempotencyRecord | None = kwargs.get("idempotency")
        if record is not None and ids:
            # A plain INSERT: a duplicate key is a database error that aborts the
            # transaction, so the events above are rolled back with it.
            curs.execute(
                "INSERT INTO idempotency_keys (subject, key, fingerprint, status_code, response)"
                " VALUES (%s, %s, %s, %s, %s) RETURNING 1",
                (record.subject, record.key, record.fingerprint, record.status_code, record.render(ids)),
            )
            curs.fetchone()  # forces the pipeline to sync, so a clash raises here
        return ids


class ReportingApplication(Application[UUID]):
    """The event store of the whole system (fixed decision 1)."""

    name = "Reporting"  # the library derives the table name from it: reporting_events

    def __init__(self, settings: Settings, *, cache_size: int = 10_000) -> None:
        cap_reconnect_backoff()  # the library's pool recovers from an outage as fast as ours
        env = settings.event_store_env()
        env["APPLICATION_RECORDER_TOPIC"] = f"{ReportingRecorder.__module__}:ReportingRecorder"
        env["AGGREGATE_CACHE_MAXSIZE"] = str(cache_size)
        super().__init__(env)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def close(self) -> None:
        self.factory.close()


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
            stop.wait(1.0)
    return None
