"""PostgreSQL connections for everything that is not the event store's own pool."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool

from infra.settings import Settings

# Advisory lock keys: one place, so two features never share a key by accident.
MIGRATION_LOCK = 7_301_001
RELAY_LOCK = 7_301_002


def connect(settings: Settings) -> psycopg.Connection[TupleRow]:
    """An autocommit connection: every write is either its own statement or an explicit
    `conn.transaction()` block (in a non-autocommit connection that block would be a
    mere savepoint of an implicit transaction, committed only when the connection closes)."""
    return psycopg.connect(settings.postgres_conninfo, autocommit=True, connect_timeout=5)


def open_pool(settings: Settings, *, max_size: int = 10) -> ConnectionPool[psycopg.Connection[TupleRow]]:
    """A pool that does not block start-up: the service reports 'not ready' until the database answers."""
    pool: ConnectionPool[psycopg.Connection[TupleRow]] = ConnectionPool(
        settings.postgres_conninfo,
        min_size=1,
        max_size=max_size,
        timeout=5,
        open=False,
        kwargs={"connect_timeout": 5},
    )
    pool.open(wait=False)
    return pool


@contextmanager
def transaction(pool: ConnectionPool[psycopg.Connection[TupleRow]]) -> Iterator[psycopg.Cursor[TupleRow]]:
    with pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
        yield cur
