"""Rate limits shared through PostgreSQL: one token bucket per scope and key, for every worker process.

Each request takes a token in one statement (an upsert that refills the bucket for the time elapsed
and spends a token if there is one), so two workers never both spend the last token: the row lock
orders them. The clock is the database's, the same for every worker and host. A bucket left alone
until it is full again says nothing a new one would not: such rows are deleted now and then.
"""

from __future__ import annotations

import threading
import time

import psycopg
from psycopg.rows import TupleRow

from infra.db import Pool

CLEANUP_SECONDS = 60.0

# The bucket's level now: what it held, plus the refill since, at most `burst`.
_LEVEL = (
    "least(%(burst)s::float8, b.tokens"
    " + greatest(0, extract(epoch FROM statement_timestamp() - b.updated_at)) * %(rate)s::float8)"
)
_TAKE = (
    "INSERT INTO rate_limit_buckets AS b (scope, key, tokens, allowed, updated_at)"
    " VALUES (%(scope)s, %(key)s, %(burst)s::float8 - 1, true, statement_timestamp())"
    " ON CONFLICT (scope, key) DO UPDATE SET"
    f" tokens = CASE WHEN {_LEVEL} >= 1 THEN {_LEVEL} - 1 ELSE {_LEVEL} END,"
    f" allowed = {_LEVEL} >= 1,"
    " updated_at = greatest(b.updated_at, statement_timestamp())"
    " RETURNING allowed, tokens"
)
_LOOK = f"SELECT {_LEVEL} FROM rate_limit_buckets b WHERE scope = %(scope)s AND key = %(key)s"
_FORGET = (
    "DELETE FROM rate_limit_buckets WHERE scope = %(scope)s"
    " AND updated_at < statement_timestamp() - make_interval(secs => %(full)s)"
)


class PostgresRateLimiter:
    """`rate` tokens per second per key, bursts of `burst`, in table `rate_limit_buckets` (scope `scope`)."""

    def __init__(self, pool: Pool, scope: str, rate: float, burst: int) -> None:
        self.pool = pool
        self.scope = scope
        self.rate = float(rate)
        self.burst = max(1, int(burst))
        self._next_cleanup = time.monotonic() + CLEANUP_SECONDS
        self._lock = threading.Lock()

    def take(self, key: str, *, spend: bool = True) -> float:
        """0 when allowed (a token taken unless `spend=False`); otherwise the seconds until one is there."""
        if self.rate <= 0:
            return 0.0
        params = {"scope": self.scope, "key": key, "rate": self.rate, "burst": self.burst}
        with self.pool.connection() as conn:
            if spend:
                row = conn.execute(_TAKE, params).fetchone()
                assert row is not None
                allowed, tokens = bool(row[0]), float(row[1])
            else:
                found = conn.execute(_LOOK, params).fetchone()
                tokens = float(self.burst) if found is None else float(found[0])
                allowed = tokens >= 1
            self._cleanup(conn)
        return 0.0 if allowed else (1 - tokens) / self.rate

    def _cleanup(self, conn: psycopg.Connection[TupleRow]) -> None:
        with self._lock:
            if time.monotonic() < self._next_cleanup:
                return
            self._next_cleanup = time.monotonic() + CLEANUP_SECONDS
        full = self.burst / self.rate  # seconds in which an empty bucket fills up
        conn.execute(_FORGET, {"scope": self.scope, "full": full})
