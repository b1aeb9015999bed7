"""Sign-in throttling: failed sign-ins counted per key (a username tried, a client address) over a window.

Keys are counted whether the username exists or not, so the throttle says nothing about which
names exist. The PostgreSQL one is shared by every worker process; the in-memory one is for tests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import timedelta

from infra.db import Pool


class PostgresThrottle:
    """Failed sign-ins counted per key (a username, a client address) over a sliding window."""

    def __init__(self, pool: Pool, *, window: timedelta, limit: int) -> None:
        self.pool = pool
        self.window = window
        self.limit = limit

    def wait_seconds(self, keys: Sequence[str]) -> float:
        """0 when every key is under its limit; otherwise how long until the oldest counted failure expires."""
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT max(wait) FROM (SELECT throttle_key,"
                " extract(epoch FROM (min(failed_at) + %(window)s - now())) AS wait, count(*) AS failures"
                " FROM signin_failures WHERE throttle_key = ANY(%(keys)s) AND failed_at > now() - %(window)s"
                " GROUP BY throttle_key) k WHERE failures >= %(limit)s",
                {"keys": list(keys), "window": self.window, "limit": self.limit},
            ).fetchone()
        return 0.0 if row is None or row[0] is None else max(0.0, float(row[0]))

    def failed(self, keys: Sequence[str]) -> None:
        with self.pool.connection() as conn, conn.transaction():
            conn.execute(
                "INSERT INTO signin_failures (throttle_key) SELECT unnest(%s::text[])",
                (list(keys),),
            )
            conn.execute("DELETE FROM signin_failures WHERE failed_at < now() - %s", (self.window * 4,))

    def succeeded(self, keys: Sequence[str]) -> None:
        with self.pool.connection() as conn:
            conn.execute("DELETE FROM signin_failures WHERE throttle_key = ANY(%s)", (list(keys),))


class InMemoryThrottle:
    def __init__(self, *, window: timedelta, limit: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window.total_seconds()
        self.limit = limit
        self.clock = clock
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> list[float]:
        kept = [t for t in self._failures.get(key, []) if t > now - self.window]
        self._failures[key] = kept
        return kept

    def wait_seconds(self, keys: Sequence[str]) -> float:
        now = self.clock()
        with self._lock:
            waits = [r[0] + self.window - now for k in keys if len(r := self._recent(k, now)) >= self.limit]
        return max(waits, default=0.0)

    def failed(self, keys: Sequence[str]) -> None:
        now = self.clock()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def succeeded(self, keys: Sequence[str]) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)
