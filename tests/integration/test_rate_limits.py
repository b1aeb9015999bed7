"""The rate limiter in PostgreSQL: a token bucket per scope and key, the same for every process."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from infra.db import Pool, open_pool
from infra.rate_limits import PostgresRateLimiter
from infra.runtime.ports import wait_until
from infra.settings import Settings


@pytest.fixture
def pool(empty_settings: Settings) -> Iterator[Pool]:
    opened = open_pool(empty_settings)
    opened.wait()
    yield opened
    opened.close()


def test_a_burst_passes_then_the_rate_holds_per_key(pool: Pool) -> None:
    limiter = PostgresRateLimiter(pool, "unit", rate=2, burst=4)
    assert [limiter.take("k") for _ in range(4)] == [0.0] * 4
    wait = limiter.take("k")
    assert 0 < wait <= 0.5, "the next token comes at the rate"
    assert limiter.take("other") == 0, "each key has its own bucket"
    assert PostgresRateLimiter(pool, "another scope", rate=2, burst=4).take("k") == 0, "and each scope"
    refused_at = time.monotonic()
    wait_until(lambda: limiter.take("k") == 0, 5, interval=0.05, what="a token refilled")
    assert time.monotonic() - refused_at >= 0.2, "refilled at the rate, not at once"


def test_looking_spends_nothing(pool: Pool) -> None:
    limiter = PostgresRateLimiter(pool, "look", rate=1, burst=2)
    assert limiter.take("k", spend=False) == 0, "an unknown key is full"
    assert [limiter.take("k", spend=False) for _ in range(5)] == [0.0] * 5
    limiter.take("k")
    limiter.take("k")
    assert limiter.take("k", spend=False) > 0


def test_concurrent_takers_never_spend_more_than_the_bucket(pool: Pool, empty_settings: Settings) -> None:
    """Two pools (as two worker processes have) and eight threads: exactly the burst passes."""
    other = open_pool(empty_settings)
    other.wait()
    try:
        limiters = [PostgresRateLimiter(p, "race", rate=0.001, burst=10) for p in (pool, other)]
        allowed: list[bool] = []
        lock = threading.Lock()

        def hammer(limiter: PostgresRateLimiter) -> None:
            for _ in range(10):
                passed = limiter.take("shared") == 0
                with lock:
                    allowed.append(passed)

        threads = [threading.Thread(target=hammer, args=(limiters[n % 2],)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(allowed) == 80
        assert allowed.count(True) == 10
    finally:
        other.close()


def test_a_zero_rate_disables_the_limit(pool: Pool) -> None:
    limiter = PostgresRateLimiter(pool, "off", rate=0, burst=0)
    assert all(limiter.take("k") == 0 for _ in range(20))
