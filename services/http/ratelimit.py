"""Rate limits: requests per token, and failed authentications per client address, as token buckets.

A limiter answers how long a key must wait (0: go ahead), taking a token or only looking. The
services use the one the composition root gives them: `infra.rate_limits.PostgresRateLimiter`,
whose buckets live in PostgreSQL so that every worker process and replica shares them. The
in-process `RateLimiter` here keeps the same rule for one process alone (unit tests, tools).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from services.http.errors import RateLimited


class Limiter(Protocol):
    """`rate` tokens per second per key, up to `burst`."""

    def take(self, key: str, *, spend: bool = True) -> float:
        """Take one token (or, with `spend=False`, only look); 0 when allowed, else the seconds to wait."""
        ...


def enforce(limiter: Limiter, key: str, what: str, *, spend: bool = True) -> None:
    """429 with Retry-After when `key` has no token left; otherwise take one (unless `spend=False`)."""
    wait = limiter.take(key, spend=spend)
    if wait:
        raise RateLimited(f"too many {what}; retry after the delay in Retry-After", max(1, math.ceil(wait)))


MAX_KEYS = 100_000


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """`rate` requests per second with bursts of `burst`, per key."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str, *, spend: bool = True) -> float:
        """Take one token (or, with `spend=False`, only look); 0 when allowed, else the seconds to wait."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if not spend:
                    return 0.0
                if len(self._buckets) >= MAX_KEYS:
                    self._buckets.clear()  # a flood of keys: start over rather than grow without bound
                bucket = self._buckets[key] = _Bucket(float(self.burst), now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens >= 1:
                if spend:
                    bucket.tokens -= 1
                return 0.0
            return (1 - bucket.tokens) / self.rate
