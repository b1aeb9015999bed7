"""One active instance of a process (the relay, the checkpointer): a PostgreSQL advisory lock and a retry loop.

The lock is held by the session: when its holder dies or loses the database, the session ends, the
lock is released and a standby takes over. Any failure of the broker or the database starts the
work over, from what PostgreSQL recorded, after a short pause.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg
from eventsourcing.persistence import PersistenceError
from kafka.errors import KafkaError
from psycopg.rows import TupleRow

from infra.db import connect
from infra.metrics import heartbeat
from infra.settings import Settings

log = logging.getLogger("reporting.exclusive")

RETRY_SECONDS = 1.0
RETRYABLE: tuple[type[BaseException], ...] = (KafkaError, TimeoutError, OSError, psycopg.Error, PersistenceError)

Work = Callable[[psycopg.Connection[TupleRow], threading.Event], None]


def acquire(conn: psycopg.Connection[TupleRow], lock: int, stop: threading.Event) -> bool:
    """Wait for the lock (False if `stop` is set first)."""
    while not stop.is_set():
        heartbeat()  # a standby waiting for the lock is healthy
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (lock,)).fetchone()
        if row and row[0]:
            return True
        stop.wait(RETRY_SECONDS)
    return False


def run_exclusively(
    settings: Settings,
    lock: int,
    name: str,
    work: Work,
    stop: threading.Event,
    *,
    retry_on: tuple[type[BaseException], ...] = RETRYABLE,
    on_retry: Callable[[], None] = lambda: None,
) -> None:
    """Run `work` (on the lock's connection) while holding `lock`, until `stop`; start over after a failure."""
    while not stop.is_set():
        try:
            with connect(settings) as conn:
                if acquire(conn, lock, stop):
                    log.info("%s lock acquired", name)
                    work(conn, stop)
        except retry_on as error:
            log.warning("%s error, retrying: %s", name, error)
            heartbeat()  # waiting out an outage is not being stuck
            on_retry()
            stop.wait(RETRY_SECONDS)
