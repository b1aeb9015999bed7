"""PostgreSQL connections for everything that is not the event store's own pool."""

from __future__ import annotations

import select
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import psycopg_pool.base
from eventsourcing.persistence import InterfaceError, OperationalError
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool

from infra.settings import Settings

Pool = ConnectionPool[psycopg.Connection[TupleRow]]

# Advisory lock keys: one place, so two features never share a key by accident.
MIGRATION_LOCK = 7_301_001
RELAY_LOCK = 7_301_002
# Projector batches hold it shared; a rebuild swaps tables and positions holding it exclusively.
PROJECTION_SWAP_LOCK = 7_301_040
CHECKPOINT_LOCK = 7_301_050
# The first key of the two-key advisory lock a worker holds on an import job (the second: its lock_key).
IMPORT_JOB_LOCK = 7_301_060


# psycopg_pool retries a lost connection with a doubling delay (1, 2, 4, ... s, for 5 minutes):
# after a 40 s outage a service took 25 s more to notice the database was back (measured).
# Capped, every pool of the process (ours and the event store's) tries again at least this often.
MAX_RECONNECT_DELAY = 2.0


def cap_reconnect_backoff() -> None:
    """Cap psycopg_pool's reconnection delay at MAX_RECONNECT_DELAY (idempotent; it has no setting for it)."""
    attempt = psycopg_pool.base.AttemptWithBackoff
    if getattr(attempt.update_delay, "capped", False):
        return
    original = attempt.update_delay

    def update_delay(self: psycopg_pool.base.AttemptWithBackoff, now: float) -> None:
        original(self, now)
        self.delay = min(self.delay, MAX_RECONNECT_DELAY)

    update_delay.capped = True  # type: ignore[attr-defined]
    update_delay.wrapped = original  # type: ignore[attr-defined]  # what tests/unit/test_borrowed_internals.py checks
    attempt.update_delay = update_delay  # type: ignore[method-assign]


cap_reconnect_backoff()


def check_connection(conn: psycopg.Connection[Any]) -> None:
    """The pools' check of a connection as it leaves the pool, without a round trip when it is sound.

    An idle connection has nothing to read: when the server closes it (a restart, a terminated
    backend) its socket turns readable (the server's last message, then end of file). Only then is
    it pinged, and the pool replaces it when that fails. A round trip each time (psycopg_pool's
    `check_connection`) was a third of the write path's time under load (docs/PERFORMANCE.md).
    """
    if conn.closed:
        raise psycopg.OperationalError("the connection is closed")
    readable, _, _ = select.select([conn.fileno()], [], [], 0)
    if readable:
        ConnectionPool.check_connection(conn)


def connect(settings: Settings) -> psycopg.Connection[TupleRow]:
    """An autocommit connection: every write is either its own statement or an explicit
    `conn.transaction()` block (in a non-autocommit connection that block would be a
    mere savepoint of an implicit transaction, committed only when the connection closes)."""
    return psycopg.connect(settings.postgres_conninfo, autocommit=True, connect_timeout=5)


# Errors that mean "the database is not answering" (ours, the pool's, and the event store library's):
# the HTTP services answer them with 503 and Retry-After, the composition root tells them which.
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    psycopg.OperationalError,
    psycopg_pool.PoolTimeout,
    OperationalError,
    InterfaceError,
)


def new_pool(settings: Settings, *, max_size: int = 10) -> ConnectionPool[psycopg.Connection[TupleRow]]:
    """A pool, not opened yet: a service opens it as it starts (`pool.open(wait=False)`).

    Each connection is checked as it leaves the pool (`check_connection`), so that after a database
    restart the connections broken by it are replaced instead of failing one request each.
    """
    return ConnectionPool(
        settings.postgres_conninfo,
        min_size=1,
        max_size=max_size,
        timeout=5,
        open=False,
        kwargs={"connect_timeout": 5},
        check=check_connection,
    )


def open_pool(settings: Settings, *, max_size: int = 10) -> ConnectionPool[psycopg.Connection[TupleRow]]:
    """A pool opened without waiting, so that start-up does not block: the service reports 'not ready'
    until the database answers."""
    pool = new_pool(settings, max_size=max_size)
    pool.open(wait=False)
    return pool


def ping(pool: ConnectionPool[psycopg.Connection[TupleRow]]) -> Callable[[], None]:
    """A readiness check: the database answers a query within 2 s."""

    def check() -> None:
        with pool.connection(timeout=2) as conn:
            conn.execute("SELECT 1")

    return check


@contextmanager
def transaction(pool: ConnectionPool[psycopg.Connection[TupleRow]]) -> Iterator[psycopg.Cursor[TupleRow]]:
    with pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
        yield cur
