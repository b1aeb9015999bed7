"""The rate limit per token holds across the worker processes of a service (buckets in PostgreSQL),
and their metrics add up (prometheus-client's multiprocess mode)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import replace

import httpx
from prometheus_client.parser import text_string_to_metric_families

from domain.identity import Role
from infra.settings import Settings
from tests.conftest import StackFactory
from tests.helpers import auth, log_lines, open_month

THREADS = 10
EACH = 3


def test_two_workers_share_one_budget_per_token(stack_factory: StackFactory, settings: Settings) -> None:
    stack = stack_factory("ingest", settings_override=replace(settings, ingest_workers=2, rate_limit_per_token=1))
    token = stack.token(Role.AUDITOR)
    url = f"{stack.ingest_url}/templates/UNIFIED-PROVINCIAL/form"
    statuses: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def client() -> None:
        start.wait()
        for _ in range(EACH):  # a new connection each time, so that either worker may take it
            status = httpx.get(url, params={"period": open_month().code}, headers=auth(token)).status_code
            with lock:
                statuses.append(status)

    began = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began

    answered = Counter(
        line["pid"]
        for line in log_lines(stack.services["ingest"].log_path)
        if line.get("message") == "request" and line.get("route") == "/templates/{code}/form"
    )
    assert len(answered) == 2, f"both workers answered: {answered}"
    assert min(answered.values()) >= 3, f"enough requests for each worker's own budget to show: {answered}"
    assert set(statuses) == {200, 429}
    allowed = statuses.count(200)
    # One bucket: a burst of 2, then 1 per second. Two buckets of their own would let each worker
    # pass its burst (at least 2 + 2 + the refills: more than this bound whenever elapsed < 2 s).
    assert allowed <= 2 + int(elapsed) + 1, f"{allowed} passed in {elapsed:.2f} s"
    assert elapsed < 2, "the requests came fast enough for the bound to tell one bucket from two"

    # The workers' metrics add up in any worker's /metrics.
    families = {f.name: f for f in text_string_to_metric_families(httpx.get(f"{stack.ingest_url}/metrics").text)}
    form = [s for s in families["reporting_http_requests"].samples if s.labels["route"] == "/templates/{code}/form"]
    by_status = {s.labels["status"]: s.value for s in form if s.name == "reporting_http_requests_total"}
    assert by_status == {"200": allowed, "429": len(statuses) - allowed}
    assert "process_resident_memory_bytes" not in {s.name for f in families.values() for s in f.samples}
