"""The metrics catalogue (infra/metrics.py): names, help texts, exposition, and the helpers."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from psycopg_pool import ConnectionPool
from starlette.routing import Route

from infra import metrics
from infra.runtime.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
NAME = re.compile(r"^reporting_[a-z][a-z0-9]*(_[a-z0-9]+)*$")
LABEL = re.compile(r"^[a-z][a-z0-9_]*$")
RESERVED_LABELS = {"le", "quantile", "job", "instance"}
# Suffixes that belong to counters or to the series of histograms and summaries.
RESERVED_SUFFIXES = ("_total", "_count", "_sum", "_bucket", "_created", "_info")
# Units that are not base units (Prometheus: seconds, bytes; ratios 0..1, not percent).
NON_BASE_UNITS = ("_milliseconds", "_ms", "_microseconds", "_minutes", "_hours", "_days", "_kilobytes",
                  "_megabytes", "_percent")  # fmt: skip
TIME_WORDS = ("duration", "latency", "age", "interval", "freshness", "elapsed", "time")


def samples(name: str) -> list[Sample]:
    """The samples of the family `name` (as the parser names it) in this process's exposition."""
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        if family.name == name:
            return list(family.samples)
    raise AssertionError(f"{name} is not exposed")


def touch_every_metric() -> None:
    """One child of every labelled metric, so that its samples show in the exposition."""
    for metric in metrics.CATALOGUE:
        labels = metric._labelnames  # the one private attribute read here: label names are not in describe()
        child = metric.labels(*(["probe"] * len(labels))) if labels else metric
        if isinstance(child, Histogram):
            child.observe(0.0)
        elif isinstance(child, Counter | Gauge):
            child.inc(0)
        else:
            raise AssertionError(f"{metric}: a type the checks here do not know")


@pytest.fixture
def pool() -> Iterator[dict[str, int]]:
    stats = {"pool_min": 1, "pool_max": 10, "pool_size": 4, "pool_available": 1, "requests_waiting": 2}
    forget = metrics.observe_pool("unit-test", lambda: stats)
    yield stats
    forget()


def test_names_follow_the_prometheus_conventions() -> None:
    types = metrics.metric_types()
    assert len(types) == len(metrics.CATALOGUE) + len(metrics.POOL_GAUGES), "a name is defined twice"
    for name, kind in types.items():
        assert NAME.match(name), name
        assert not name.endswith(RESERVED_SUFFIXES), f"{name}: a reserved suffix ({kind})"
        assert not any(unit in name + "_" for unit in (u + "_" for u in NON_BASE_UNITS)), f"{name}: not a base unit"
        if any(word in name for word in TIME_WORDS):
            assert name.endswith("_seconds"), f"{name}: a time is in seconds"
        if kind == "histogram":
            assert name.endswith(("_seconds", "_bytes")), f"{name}: a histogram names its base unit"
    for series in metrics.series_names():
        if series.endswith("_total"):
            assert types.get(series.removesuffix("_total")) == "counter", f"{series}: _total on a non-counter"
    counters = [name for name, kind in types.items() if kind == "counter"]
    assert counters, "no counter found"
    assert all(f"{name}_total" in metrics.series_names() for name in counters)


def test_exposed_counters_end_in_total_and_labels_are_plain(pool: dict[str, int]) -> None:
    touch_every_metric()
    seen: set[str] = set()
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        if not family.name.startswith("reporting_"):
            continue
        seen.add(family.name)
        for sample in family.samples:
            if family.type == "counter":
                assert sample.name.endswith("_total"), sample.name
            for label in sample.labels:
                if label == "le" and family.type == "histogram":
                    continue
                assert LABEL.match(label), f"{family.name}: label {label}"
                assert label not in RESERVED_LABELS, f"{family.name}: label {label} is reserved"
    assert seen == set(metrics.metric_types()), "the exposition and the catalogue disagree"


def test_every_metric_has_a_help_text(pool: dict[str, int]) -> None:
    helps: dict[str, str] = {}
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        if family.name.startswith("reporting_"):
            helps[family.name] = family.documentation
    assert set(helps) == set(metrics.metric_types())
    for name, text in helps.items():
        assert len(text) >= 30, f"{name}: {text!r} says too little"
        assert text[0].isupper(), f"{name}: {text!r}"
        assert text.endswith("."), f"{name}: {text!r}"
        assert name not in text, f"{name}: the help text repeats the name"


def test_the_exposition_parses_with_the_official_parser(pool: dict[str, int]) -> None:
    touch_every_metric()
    families = list(text_string_to_metric_families(metrics.exposition().decode()))
    names = {family.name for family in families}
    assert set(metrics.metric_types()) <= names
    assert "process_start_time_seconds" in names  # prometheus-client's process collector


def test_latency_buckets_put_the_targets_on_boundaries() -> None:
    # p99 < 250 ms per 200-value form, p95 page < 300 ms, report query p99 < 50 ms, freshness p99 < 1 s
    assert {0.05, 0.25, 0.3} <= set(metrics.HTTP_BUCKETS)
    assert {1.0, 2.0} <= set(metrics.FRESHNESS_BUCKETS)
    for bounds in (metrics.HTTP_BUCKETS, metrics.FRESHNESS_BUCKETS, metrics.BATCH_BUCKETS):
        assert list(bounds) == sorted(set(bounds))
    metrics.HTTP_REQUEST_DURATION.labels("unit-test", "/buckets", "GET").observe(0.26)
    buckets = {
        s.labels["le"]: s.value
        for s in samples("reporting_http_request_duration_seconds")
        if s.name.endswith("_bucket") and s.labels["service"] == "unit-test"
    }
    assert (buckets["0.25"], buckets["0.3"], buckets["+Inf"]) == (0, 1, 1)


def test_pool_gauges_read_the_pool_stats(pool: dict[str, int]) -> None:
    def value(name: str) -> float:
        return next(s.value for s in samples(name) if s.labels == {"pool": "unit-test"})

    assert value("reporting_db_pool_connections") == 4
    assert value("reporting_db_pool_max_connections") == 10
    assert value("reporting_db_pool_connections_in_use") == 3
    assert value("reporting_db_pool_requests_waiting") == 2
    pool["pool_available"] = 4  # read again at each scrape
    assert value("reporting_db_pool_connections_in_use") == 0


def test_a_broken_or_forgotten_pool_does_not_break_the_scrape() -> None:
    def broken() -> dict[str, int]:
        raise RuntimeError("the pool is closed")

    forget = metrics.observe_pool("broken", broken)
    try:
        assert not [s for s in samples("reporting_db_pool_connections") if s.labels["pool"] == "broken"]
    finally:
        forget()
    forget = metrics.observe_pool("gone", lambda: {"pool_size": 1})
    forget()
    assert not [s for s in samples("reporting_db_pool_connections") if s.labels["pool"] == "gone"]


def test_psycopg_pool_stats_have_the_keys_the_gauges_read() -> None:
    pool: ConnectionPool = ConnectionPool("", min_size=2, max_size=7, open=False)
    stats = pool.get_stats()
    assert {"pool_min", "pool_max", "pool_size", "pool_available", "requests_waiting"} <= set(stats)
    forget = metrics.observe_pool("psycopg", pool.get_stats)
    try:
        maximum = next(s.value for s in samples("reporting_db_pool_max_connections") if s.labels["pool"] == "psycopg")
        assert maximum == 7
    finally:
        forget()


def test_the_metrics_server_answers_on_a_free_port() -> None:
    metrics.RELAY_EVENTS_PUBLISHED.inc(3)
    server = metrics.serve_metrics(free_port(), addr="127.0.0.1")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/metrics", timeout=5) as answer:
            assert answer.status == 200
            body = answer.read().decode()
    finally:
        server.shutdown()
        server.server_close()
    names = {family.name for family in text_string_to_metric_families(body)}
    assert set(metrics.metric_types()) - {g.name for g in metrics.POOL_GAUGES} <= names
    assert re.search(r"^reporting_relay_events_published_total [1-9]", body, re.MULTILINE)


def test_checkpoint_age_is_computed_when_scraped() -> None:
    metrics.checkpoint_signed(time.time() - 100)
    try:
        (age,) = samples("reporting_checkpoint_age_seconds")
        assert 100 <= age.value < 110
        time.sleep(0.05)
        (later,) = samples("reporting_checkpoint_age_seconds")
        assert later.value > age.value  # it grows although nothing set it again
    finally:
        metrics.checkpoint_signed()


def http_app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(metrics.HTTPMetricsMiddleware, service="unit-http")
    app.router.routes.append(Route("/metrics", metrics.metrics_endpoint(), include_in_schema=False))

    @app.get("/agencies/{agency}/report")
    def report(agency: str) -> dict[str, str]:
        return {"agency": agency}

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("unexpected")

    return app


def requests_counted() -> dict[tuple[str, str, str], float]:
    return {
        (s.labels["route"], s.labels["method"], s.labels["status"]): s.value
        for s in samples("reporting_http_requests")
        if s.labels["service"] == "unit-http"
    }


def test_the_middleware_labels_requests_by_route_template() -> None:
    app = http_app()
    assert "/metrics" not in app.openapi()["paths"]

    # The test client runs the app's event loop in a thread of its own: a session's browser keeps
    # one running in this thread, where asyncio.run() would refuse to start.
    with TestClient(app, base_url="http://service", raise_server_exceptions=False) as client:
        for agency in ("P01", "P02", "P03"):
            assert client.get(f"/agencies/{agency}/report").status_code == 200
        assert client.get("/no/such/path").status_code == 404
        assert client.get("/boom").status_code == 500
        assert client.request("BREW", "/agencies/P01/report").status_code == 405
        scraped = client.get("/metrics")
    assert scraped.status_code == 200
    assert "reporting_http_requests_total" in scraped.text
    counted = requests_counted()
    assert counted[("/agencies/{agency}/report", "GET", "200")] == 3
    assert counted[("unmatched", "GET", "404")] == 1
    assert counted[("/boom", "GET", "500")] == 1
    assert counted[("/agencies/{agency}/report", "other", "405")] == 1  # no series per made-up method
    assert not [route for route, _, _ in counted if "P0" in route]
    durations = [
        s
        for s in samples("reporting_http_request_duration_seconds")
        if s.name.endswith("_count") and s.labels["service"] == "unit-http" and s.labels["method"] == "GET"
    ]
    assert sum(s.value for s in durations if s.labels["route"] == "/agencies/{agency}/report") == 3


MULTIPROCESS_WORKER = textwrap.dedent(
    """
    import sys
    from infra import metrics
    assert metrics.MULTIPROCESS
    metrics.VALUES_ACCEPTED.labels("api", "submitted").inc(int(sys.argv[1]))
    metrics.observe_pool("readmodels", lambda: {"pool_size": 3, "pool_available": 1, "pool_max": 5})
    if sys.argv[2] == "exit":
        metrics.process_exiting()
    """
)
MULTIPROCESS_SCRAPE = "from infra import metrics; print(metrics.exposition().decode())"


def test_multiprocess_mode_sums_the_workers(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}

    def run(code: str, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", code, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    run(MULTIPROCESS_WORKER, "5", "stay")
    run(MULTIPROCESS_WORKER, "7", "exit")  # a worker that stopped cleanly: its live gauges no longer count
    families = {f.name: f for f in text_string_to_metric_families(run(MULTIPROCESS_SCRAPE))}
    (accepted,) = families["reporting_values_accepted"].samples
    assert accepted.value == 12
    assert accepted.labels == {"channel": "api", "change": "submitted"}
    in_use = [s.value for s in families["reporting_db_pool_connections_in_use"].samples]
    assert in_use == [2]
    assert "process_start_time_seconds" not in families


def test_prepare_multiprocess_dir_empties_the_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    directory = tmp_path / "prometheus"
    directory.mkdir()
    (directory / "counter_123.db").write_bytes(b"old run")
    assert metrics.prepare_multiprocess_dir(directory) == directory
    assert list(directory.iterdir()) == []
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(directory)
