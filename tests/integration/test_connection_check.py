"""The pools' check of a connection as it leaves the pool: a closed one is refused, a sound one passes unpinged."""

from __future__ import annotations

import os
import tempfile

import psycopg
import pytest

from infra.db import check_connection, connect, open_pool
from infra.runtime.ports import wait_until
from infra.settings import Settings


def test_a_sound_connection_passes_without_a_round_trip(empty_settings: Settings) -> None:
    with connect(empty_settings) as conn:
        conn.execute("SELECT 1").fetchone()
        with tempfile.TemporaryFile() as trace:
            conn.pgconn.trace(trace.fileno())  # libpq writes here every message it sends or receives
            try:
                check_connection(conn)
            finally:
                conn.pgconn.untrace()
            assert os.fstat(trace.fileno()).st_size == 0, "nothing was sent to the server"
            conn.pgconn.trace(trace.fileno())
            try:
                conn.execute("SELECT 1").fetchone()
            finally:
                conn.pgconn.untrace()
            assert os.fstat(trace.fileno()).st_size > 0, "the trace sees a round trip"


def test_a_connection_the_server_closed_is_refused(empty_settings: Settings) -> None:
    with connect(empty_settings) as victim, connect(empty_settings) as killer:
        pid = victim.info.backend_pid
        killer.execute("SELECT pg_terminate_backend(%s)", (pid,))
        wait_until(
            lambda: killer.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone() == (0,),
            5,
            what="the backend gone",
        )
        with pytest.raises(psycopg.OperationalError):
            check_connection(victim)


def test_the_pool_replaces_a_connection_the_server_closed(empty_settings: Settings) -> None:
    pool = open_pool(empty_settings, max_size=1)
    try:
        pool.wait()
        with pool.connection() as conn:
            pid = conn.info.backend_pid
        with connect(empty_settings) as killer:
            killer.execute("SELECT pg_terminate_backend(%s)", (pid,))
            wait_until(
                lambda: (
                    killer.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone() == (0,)
                ),
                5,
                what="the backend gone",
            )
        with pool.connection() as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,), "the request is served, not failed"
            assert conn.info.backend_pid != pid
    finally:
        pool.close()
