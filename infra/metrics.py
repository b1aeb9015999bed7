"""The one catalogue of the system's Prometheus metrics, and the helpers that expose them.

Every metric of every process is defined here, once, with its help text, label names
and buckets; processes import the objects and update them. `deploy/prometheus/alerts.yml`
and `deploy/grafana/reporting-dashboard.json` may use only the names defined here
(plus `up`, node_exporter's and prometheus-client's `process_*`), which
`tests/integration/test_deploy.py` checks. docs/OPERATIONS.md lists them for operators.

Names follow the Prometheus conventions: prefix `reporting_`, base units (`_seconds`,
`_bytes`), `_total` on counters only. Label values are bounded sets (route *templates*,
never raw paths; projection names; reasons from the API's error catalogue), never ids.

Where metrics are served
------------------------
- `ingest`, `reports` (and `web`): `GET /metrics` on their HTTP port, from
  `metrics_endpoint()`, added as `app.router.routes.append(starlette.routing.Route(
  "/metrics", metrics_endpoint(), include_in_schema=False))` (outside the OpenAPI);
  `app.add_middleware(HTTPMetricsMiddleware, service="ingest")` counts and times every request.
- processes without HTTP (relay, projectors, checkpointer, a running `reporting rebuild`):
  `serve_metrics(port)` serves `/metrics` and `/health` (503 once `heartbeat()` has not been
  called for HEARTBEAT_STALE_SECONDS) from a daemon thread, on the port of the `METRICS_PORT`
  setting. The convention is `METRICS_PORTS` below (9101...), the same in compose and in the
  local stack, and `deploy/prometheus/prometheus.yml` scrapes exactly those.

Several uvicorn workers (multiprocess mode)
-------------------------------------------
Each worker is its own process with its own counters. prometheus-client aggregates them
through files when `PROMETHEUS_MULTIPROC_DIR` names a directory **before any worker
imports prometheus_client** (the value class is chosen at import):

1. the parent, before `uvicorn.run(..., workers=N)`, calls `prepare_multiprocess_dir(path)`
   (creates the directory, removes the files of a previous run, sets the variable that
   the spawned workers inherit); with one worker uvicorn runs in-process: leave it unset;
2. each worker serves `metrics_endpoint()`, which then reads every worker's files
   (counters and histograms summed; gauges by the `multiprocess_mode` given below);
3. a worker that stops calls `process_exiting()` (in the app's lifespan shutdown) so its
   live gauges (pool use, imports in progress) stop counting.

In multiprocess mode the aggregated answer has no `process_*` metrics (they would describe
only the worker that answered); `up` still tells whether the service answers. Pool gauges
are sampled every `POOL_SAMPLE_SECONDS` into files instead of read at scrape time. Set the
variable only for the HTTP services: the single-process programs expose their own registry
through `serve_metrics` in either mode.
"""

from __future__ import annotations

import bisect
import json
import os
import shutil
import threading
import time
from collections import Counter as Tally
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from socketserver import ThreadingMixIn
from types import TracebackType
from typing import Any, Final
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import prometheus_client
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, multiprocess
from prometheus_client.asgi import make_asgi_app
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.registry import Collector

# The text format 0.0.4 would expose a `<name>_created` series beside every counter and
# histogram child: twice the series for a value no dashboard here reads.
prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]

MULTIPROCESS: Final = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
"""Whether this process keeps its values in `PROMETHEUS_MULTIPROC_DIR` (fixed at import)."""

METRICS_PORTS: Final[Mapping[str, int]] = {
    "relay": 9101,
    "projector": 9102,
    "projector-rollups": 9103,
    "projector-audit": 9104,
    "checkpoint": 9105,
    "rebuild": 9106,
    "import-worker": 9107,
}
"""`METRICS_PORT` of each process without HTTP, by its compose service name (the local
stack's `project`, `project-rollups`, `project-audit` use the same ports)."""

POOL_SAMPLE_SECONDS: Final = 5.0

# ---------------------------------------------------------------------------------------
# Buckets, chosen so that each target of the design is a bucket boundary (a quantile is
# exact at a boundary and interpolated between two).
# ---------------------------------------------------------------------------------------

HTTP_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)
"""HTTP latency: 0.25 s is the p99 target of a 200-value form, 0.3 s the p95 of a web page,
0.05 s the p99 of a report query."""

FRESHNESS_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0, 300.0)
"""Accepted -> visible: the target is p99 < 1 s (2 s for an open board)."""

BATCH_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 30.0)
"""One projector batch (up to PROJECTOR_BATCH_SIZE = 5,000 events): at the 30,000 events/s
target a full batch takes ~0.17 s; a batch over 1 s alone breaks the freshness target."""

HTTP_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# ---------------------------------------------------------------------------------------
# HTTP services (ingest, reports, web)
# ---------------------------------------------------------------------------------------

HTTP_REQUESTS: Final = Counter(
    "reporting_http_requests_total",
    "HTTP requests answered, by service, route template (never the raw path), method and status code.",
    ["service", "route", "method", "status"],
)
HTTP_REQUEST_DURATION: Final = Histogram(
    "reporting_http_request_duration_seconds",
    "Time from receiving an HTTP request to the end of its response, by service, route template and method.",
    ["service", "route", "method"],
    buckets=HTTP_BUCKETS,
)

# ---------------------------------------------------------------------------------------
# Write side
# ---------------------------------------------------------------------------------------

VALUES_ACCEPTED: Final = Counter(
    "reporting_values_accepted_total",
    "Indicator values in batches the write side acknowledged, by channel (api, web, import) and change "
    "(submitted, corrected, unchanged).",
    ["channel", "change"],
)
VALUES_REJECTED: Final = Counter(
    "reporting_values_rejected_total",
    "Indicator values refused, by channel and reason: the reason of an invalid-values error (unknown-indicator, "
    "wrong-type, out-of-range, too-long, duplicate-indicator) or the problem code that refused the whole batch "
    "(period-not-open, submission-locked, too-many-values, ...).",
    ["channel", "reason"],
)
EVENTS_STORED: Final = Counter(
    "reporting_events_stored_total",
    "Domain events committed to the event store, by event type.",
    ["event_type"],
)
EVENT_STORE_COMMITS: Final = Counter(
    "reporting_event_store_commits_total",
    "Event store transactions written by group commit (each holds one save or more).",
)
EVENT_STORE_SAVES: Final = Counter(
    "reporting_event_store_saves_total",
    "Saves (one request's events each) written by group commit; divided by the commits: saves per transaction.",
)

# ---------------------------------------------------------------------------------------
# Relay (event store -> Kafka). Gauges of one process: in multiprocess mode the live maximum.
# ---------------------------------------------------------------------------------------

RELAY_LAG_EVENTS: Final = Gauge(
    "reporting_relay_lag_events",
    "Events stored but not yet published: the event store's highest notification id minus the relay's position "
    "(an upper bound, since notification ids have gaps).",
    multiprocess_mode="livemax",
)
RELAY_LAG_SECONDS: Final = Gauge(
    "reporting_relay_lag_seconds",
    "Age of the oldest stored event the relay has not published yet; 0 when it is caught up.",
    multiprocess_mode="livemax",
)
RELAY_EVENTS_PUBLISHED: Final = Counter(
    "reporting_relay_events_published_total",
    "Events the broker acknowledged to the relay (an event republished after the broker lost its log counts again).",
)

# ---------------------------------------------------------------------------------------
# Projectors (Kafka -> read models), per projection
# ---------------------------------------------------------------------------------------

PROJECTOR_LAG_EVENTS: Final = Gauge(
    "reporting_projector_lag_events",
    "Events published on the topic that the projection has not applied yet, summed over partitions.",
    ["projection"],
    multiprocess_mode="livemax",
)
PROJECTOR_LAG_SECONDS: Final = Gauge(
    "reporting_projector_lag_seconds",
    "Age of the oldest published event the projection has not applied yet; 0 when it is caught up.",
    ["projection"],
    multiprocess_mode="livemax",
)
PROJECTOR_EVENTS_APPLIED: Final = Counter(
    "reporting_projector_events_applied_total",
    "Events applied to a projection (messages skipped as already applied are not counted).",
    ["projection"],
)
PROJECTOR_BATCH_DURATION: Final = Histogram(
    "reporting_projector_batch_duration_seconds",
    "Time to apply one batch to a projection and commit it together with its positions.",
    ["projection"],
    buckets=BATCH_BUCKETS,
)
PROJECTOR_FRESHNESS: Final = Histogram(
    "reporting_projector_freshness_seconds",
    "Time from an event's recording by the write service (its occurred_at) to the commit of its change in the "
    "projection: how long a write takes to become visible.",
    ["projection"],
    buckets=FRESHNESS_BUCKETS,
)

# ---------------------------------------------------------------------------------------
# Checkpointer (transparency log)
# ---------------------------------------------------------------------------------------

CHECKPOINT_AGE: Final = Gauge(
    "reporting_checkpoint_age_seconds",
    "Seconds since the issue time of the last signed checkpoint of the transparency log, computed when scraped.",
    multiprocess_mode="livemax",
)
CHECKPOINT_INTERVAL: Final = Gauge(
    "reporting_checkpoint_interval_seconds",
    "The checkpointer's CHECKPOINT_INTERVAL_SECONDS: how often it signs a checkpoint when the log grew.",
    multiprocess_mode="livemax",
)
CHECKPOINT_PENDING_EVENTS: Final = Gauge(
    "reporting_checkpoint_pending_events",
    "Events the relay has published that no signed checkpoint covers yet.",
    multiprocess_mode="livemax",
)
CHECKPOINTS_SIGNED: Final = Counter(
    "reporting_checkpoints_signed_total",
    "Checkpoints signed, by trigger (periodic, requested).",
    ["trigger"],
)

# ---------------------------------------------------------------------------------------
# Long-running jobs: rebuilds (`reporting rebuild`) and imports
# ---------------------------------------------------------------------------------------

REBUILD_EVENTS_APPLIED: Final = Gauge(
    "reporting_rebuild_events_applied",
    "Events a running rebuild has applied to the fresh tables of a projection.",
    ["projection"],
    multiprocess_mode="livemax",
)
REBUILD_EVENTS_TARGET: Final = Gauge(
    "reporting_rebuild_events_target",
    "Events the running rebuild of a projection must apply to reach the end of the log it replays "
    "(progress: applied / target).",
    ["projection"],
    multiprocess_mode="livemax",
)
IMPORT_JOBS_RUNNING: Final = Gauge(
    "reporting_import_jobs_running",
    "Import jobs in progress, by source format (xlsx, csv, dhis2, adx, ...).",
    ["source"],
    multiprocess_mode="livesum",
)
IMPORT_ROWS_PROCESSED: Final = Gauge(
    "reporting_import_rows_processed",
    "Rows the import jobs in progress have processed, summed over the jobs of a source format.",
    ["source"],
    multiprocess_mode="livesum",
)
IMPORT_ROWS_TARGET: Final = Gauge(
    "reporting_import_rows_target",
    "Rows the import jobs in progress hold in all, summed over the jobs of a source format "
    "(progress: processed / target).",
    ["source"],
    multiprocess_mode="livesum",
)

# ---------------------------------------------------------------------------------------
# Kafka
# ---------------------------------------------------------------------------------------

BROKER_ERRORS: Final = Counter(
    "reporting_broker_errors_total",
    "Errors from the Kafka broker or client, by operation (produce, consume, metadata, admin, connect).",
    ["operation"],
)

# ---------------------------------------------------------------------------------------
# Processes without HTTP
# ---------------------------------------------------------------------------------------

HEARTBEAT_AGE: Final = Gauge(
    "reporting_heartbeat_age_seconds",
    "Seconds since the loop of a process without HTTP (relay, projector, checkpointer, a rebuild) last turned, "
    "computed when scraped: it grows while the process is stuck. Not exported by the HTTP services.",
    multiprocess_mode="livemax",
)

CATALOGUE: Final[tuple[MetricWrapperBase, ...]] = (
    HTTP_REQUESTS,
    HTTP_REQUEST_DURATION,
    VALUES_ACCEPTED,
    VALUES_REJECTED,
    EVENTS_STORED,
    EVENT_STORE_COMMITS,
    EVENT_STORE_SAVES,
    RELAY_LAG_EVENTS,
    RELAY_LAG_SECONDS,
    RELAY_EVENTS_PUBLISHED,
    PROJECTOR_LAG_EVENTS,
    PROJECTOR_LAG_SECONDS,
    PROJECTOR_EVENTS_APPLIED,
    PROJECTOR_BATCH_DURATION,
    PROJECTOR_FRESHNESS,
    CHECKPOINT_AGE,
    CHECKPOINT_INTERVAL,
    CHECKPOINT_PENDING_EVENTS,
    CHECKPOINTS_SIGNED,
    REBUILD_EVENTS_APPLIED,
    REBUILD_EVENTS_TARGET,
    IMPORT_JOBS_RUNNING,
    IMPORT_ROWS_PROCESSED,
    IMPORT_ROWS_TARGET,
    BROKER_ERRORS,
    HEARTBEAT_AGE,
)
"""Every metric object above (the pool gauges are collected by `_PoolCollector`)."""

# ---------------------------------------------------------------------------------------
# Database pools: read from psycopg_pool's `get_stats()` when scraped
# ---------------------------------------------------------------------------------------

PoolStats = Callable[[], Mapping[str, int]]
"""`ConnectionPool.get_stats` or anything answering the same keys (pool_size, pool_available,
pool_max, requests_waiting, ...). Not `pop_stats`: it resets the pool's counters."""


@dataclass(frozen=True)
class PoolGauge:
    name: str
    documentation: str
    value: Callable[[Mapping[str, int]], float]


POOL_GAUGES: Final = (
    PoolGauge(
        "reporting_db_pool_connections",
        "Connections the PostgreSQL pool holds now, idle or lent out (psycopg_pool pool_size), by pool name.",
        lambda s: s.get("pool_size", 0),
    ),
    PoolGauge(
        "reporting_db_pool_max_connections",
        "Connections the PostgreSQL pool may open at most (psycopg_pool pool_max), by pool name.",
        lambda s: s.get("pool_max", 0),
    ),
    PoolGauge(
        "reporting_db_pool_connections_in_use",
        "Connections of the PostgreSQL pool lent out now (pool_size - pool_available), by pool name.",
        lambda s: max(0, s.get("pool_size", 0) - s.get("pool_available", 0)),
    ),
    PoolGauge(
        "reporting_db_pool_requests_waiting",
        "Callers waiting for a connection of the PostgreSQL pool now (psycopg_pool requests_waiting), by pool name.",
        lambda s: s.get("requests_waiting", 0),
    ),
)


class _PoolCollector(Collector):
    """One collector for every observed pool: each scrape reads each pool's `get_stats()`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pools: dict[str, PoolStats] = {}

    def add(self, name: str, stats: PoolStats) -> None:
        with self._lock:
            self._pools[name] = stats

    def remove(self, name: str, stats: PoolStats) -> bool:
        with self._lock:
            if self._pools.get(name) is not stats:
                return False
            del self._pools[name]
            return True

    def snapshot(self) -> dict[str, Mapping[str, int]]:
        with self._lock:
            pools = dict(self._pools)
        read: dict[str, Mapping[str, int]] = {}
        for name, stats in pools.items():
            try:
                read[name] = stats()
            except Exception:  # noqa: S112 - a closed or broken pool must not break the scrape
                continue
        return read

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return [GaugeMetricFamily(g.name, g.documentation, labels=["pool"]) for g in POOL_GAUGES]

    def collect(self) -> Iterable[GaugeMetricFamily]:
        stats = self.snapshot()
        for gauge in POOL_GAUGES:
            family = GaugeMetricFamily(gauge.name, gauge.documentation, labels=["pool"])
            for name in sorted(stats):
                family.add_metric([name], float(gauge.value(stats[name])))
            yield family


_POOLS: Final = _PoolCollector()
REGISTRY.register(_POOLS)

# In multiprocess mode the scrape reads files, not this process's collectors: a sampler
# thread copies the pool figures into gauges summed over the live workers. These objects
# are the file-backed twins of POOL_GAUGES, registered nowhere (the files are the registry).
_POOL_FILE_GAUGES: Final = (
    tuple(Gauge(g.name, g.documentation, ["pool"], registry=None, multiprocess_mode="livesum") for g in POOL_GAUGES)
    if MULTIPROCESS
    else ()
)
_sampler_lock = threading.Lock()
_sampler: threading.Thread | None = None


def _sample_pools_once() -> None:
    for name, stats in _POOLS.snapshot().items():
        for spec, gauge in zip(POOL_GAUGES, _POOL_FILE_GAUGES, strict=True):
            gauge.labels(name).set(spec.value(stats))


def _sample_pools_forever() -> None:
    while True:
        _sample_pools_once()
        time.sleep(POOL_SAMPLE_SECONDS)


def observe_pool(name: str, stats: PoolStats) -> Callable[[], None]:
    """Export the gauges of a pool under the label `pool=name`, e.g.
    `observe_pool("readmodels", pool.get_stats)`. Returns a function that stops it (call it
    when the pool closes). A second pool under the same name replaces the first."""
    global _sampler
    _POOLS.add(name, stats)
    if MULTIPROCESS:
        with _sampler_lock:
            if _sampler is None:
                _sampler = threading.Thread(target=_sample_pools_forever, name="metrics-pool-sampler", daemon=True)
                _sampler.start()
        _sample_pools_once()

    def forget() -> None:
        if _POOLS.remove(name, stats) and MULTIPROCESS:
            for gauge in _POOL_FILE_GAUGES:
                gauge.labels(name).set(0)

    return forget


# ---------------------------------------------------------------------------------------
# Checkpoint age: computed at scrape time, so that it keeps growing if the loop is stuck
# ---------------------------------------------------------------------------------------

_last_checkpoint_at = time.time()


def checkpoint_signed(issued_at: float | None = None) -> None:
    """Record the issue time (Unix seconds) of the latest signed checkpoint. The checkpointer
    calls it once at start with the latest stored checkpoint's time (until then the age counts
    from the process start) and after each signature."""
    global _last_checkpoint_at
    _last_checkpoint_at = time.time() if issued_at is None else issued_at


def _checkpoint_age() -> float:
    return max(0.0, time.time() - _last_checkpoint_at)


if not MULTIPROCESS:  # files hold no function; the checkpointer never runs in that mode
    CHECKPOINT_AGE.set_function(_checkpoint_age)

# ---------------------------------------------------------------------------------------
# Exposition
# ---------------------------------------------------------------------------------------


def metrics_registry() -> CollectorRegistry:
    """What a scrape of this process answers: every worker's files in multiprocess mode,
    otherwise the default registry (this catalogue, the pools, process_* and python_*)."""
    if not MULTIPROCESS:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def exposition() -> bytes:
    """The text exposition a scrape of this process answers now."""
    return prometheus_client.generate_latest(metrics_registry())


# ---------------------------------------------------------------------------------------
# Processes without HTTP: /metrics and /health on METRICS_PORT
# ---------------------------------------------------------------------------------------

HEARTBEAT_STALE_SECONDS: Final = 60.0
"""/health answers 503 when the process's loop has not turned for this long (a stuck process)."""

_last_heartbeat = time.monotonic()


def heartbeat() -> None:
    """The process's loop turned (the relay, projector and checkpointer loops, a standby waiting
    for its lock, a retry after an outage): what /health on the metrics port reports."""
    global _last_heartbeat
    _last_heartbeat = time.monotonic()


def seconds_since_heartbeat() -> float:
    return time.monotonic() - _last_heartbeat


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes and probes every few seconds: not worth a log line each."""


WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _process_app(registry: CollectorRegistry) -> WSGIApp:
    scrape: WSGIApp = prometheus_client.make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        if path == "/health":
            stalled = seconds_since_heartbeat()
            ok = stalled <= HEARTBEAT_STALE_SECONDS
            body = json.dumps({"status": "ok" if ok else "stalled", "seconds_since_heartbeat": round(stalled, 3)})
            start_response("200 OK" if ok else "503 Service Unavailable", [("Content-Type", "application/json")])
            return [body.encode()]
        if path in ("/", "/metrics"):
            return scrape(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"/metrics or /health\n"]

    return app


def serve_metrics(port: int, addr: str = "0.0.0.0") -> WSGIServer:  # noqa: S104 - Prometheus scrapes from another host
    """For processes without HTTP: serve `/metrics` and `/health` on `port` from a daemon thread;
    answers the server (its `server_port` is the port bound, when asked for port 0)."""
    if not MULTIPROCESS:
        HEARTBEAT_AGE.set_function(seconds_since_heartbeat)
    server = make_server(addr, port, _process_app(REGISTRY), _ThreadingServer, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics-server", daemon=True).start()
    return server


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class _MetricsEndpoint:
    """An ASGI app object: not a function, so that a Starlette `Route` calls it as an ASGI app
    instead of wrapping it as a request handler."""

    def __init__(self) -> None:
        self._app: ASGIApp = make_asgi_app(metrics_registry())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


def metrics_endpoint() -> ASGIApp:
    """`GET /metrics` for an HTTP service:
    `app.router.routes.append(Route("/metrics", metrics_endpoint(), include_in_schema=False))`
    (`app.add_route` works the same at run time, but its type admits request handlers only)."""
    return _MetricsEndpoint()


def route_template(scope: Scope) -> str:
    """The route template the router matched (`/agencies/{agency}/periods/{period}/values`),
    or `unmatched`: a raw path would make one series per URL ever requested."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) and path else "unmatched"


class HTTPMetricsMiddleware:
    """ASGI middleware counting and timing every HTTP request:
    `app.add_middleware(HTTPMetricsMiddleware, service="ingest")`. An exception that
    escapes the app is counted as a 500. Pure ASGI, so `infra` needs no web framework."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_status)
        finally:
            method = str(scope.get("method", "")).upper()
            method = method if method in HTTP_METHODS else "other"
            route = route_template(scope)
            HTTP_REQUESTS.labels(self.service, route, method, str(status)).inc()
            HTTP_REQUEST_DURATION.labels(self.service, route, method).observe(time.perf_counter() - started)


# ---------------------------------------------------------------------------------------
# Multiprocess mode
# ---------------------------------------------------------------------------------------


def prepare_multiprocess_dir(path: str | Path) -> Path:
    """In the parent of several workers, before they start: an empty directory for their
    metric files, named in `PROMETHEUS_MULTIPROC_DIR` for the workers to inherit."""
    directory = Path(path)
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    return directory


def process_exiting() -> None:
    """A worker stops: its live gauges no longer count (no-op outside multiprocess mode)."""
    if MULTIPROCESS:
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


# ---------------------------------------------------------------------------------------
# Updating the catalogue where things happen
# ---------------------------------------------------------------------------------------


def observe_many(histogram: Histogram, amounts: Iterable[float]) -> None:
    """`histogram.observe(a)` for each amount, with one update per bucket instead of one per amount:
    a projector batch observes thousands of events (guarded by tests/unit/test_borrowed_internals.py)."""
    bounds = histogram._upper_bounds  # private: prometheus-client has no batch observe
    counts = [0] * len(bounds)
    total = 0.0
    for amount in amounts:
        total += amount
        counts[bisect.bisect_left(bounds, amount)] += 1
    if not any(counts):
        return
    histogram._sum.inc(total)
    for bucket, count in zip(histogram._buckets, counts, strict=True):
        if count:
            bucket.inc(count)


def group_committed(saves: int) -> None:
    EVENT_STORE_COMMITS.inc()
    EVENT_STORE_SAVES.inc(saves)


def events_stored(event_types: Iterable[str]) -> None:
    for event_type, count in Tally(event_types).items():
        EVENTS_STORED.labels(event_type).inc(count)


def values_accepted(channel: str, submitted: int, corrected: int, unchanged: int) -> None:
    for change, count in (("submitted", submitted), ("corrected", corrected), ("unchanged", unchanged)):
        if count:
            VALUES_ACCEPTED.labels(channel, change).inc(count)


def values_rejected(channel: str, reasons: Mapping[str, int]) -> None:
    for reason, count in reasons.items():
        if count:
            VALUES_REJECTED.labels(channel, reason).inc(count)


class _RelayLag:
    """The relay's lag: what it read but has not published yet, its age computed when scraped."""

    def __init__(self) -> None:
        self.oldest_pending: float | None = None

    def seconds(self) -> float:
        oldest = self.oldest_pending
        return 0.0 if oldest is None else max(0.0, time.time() - oldest)


_relay_lag = _RelayLag()
if not MULTIPROCESS:
    RELAY_LAG_SECONDS.set_function(_relay_lag.seconds)


def relay_pending(events: int, oldest: datetime) -> None:
    """The relay is about to publish: `events` stored beyond its position, the oldest recorded at `oldest`."""
    RELAY_LAG_EVENTS.set(events)
    _relay_lag.oldest_pending = oldest.timestamp()
    if MULTIPROCESS:
        RELAY_LAG_SECONDS.set(_relay_lag.seconds())


def relay_caught_up() -> None:
    RELAY_LAG_EVENTS.set(0)
    _relay_lag.oldest_pending = None
    if MULTIPROCESS:
        RELAY_LAG_SECONDS.set(0)


def rebuild_progress(projections: Iterable[str], applied: int, target: int | None) -> None:
    """A running rebuild's progress, for each projection it rebuilds (they are replayed together)."""
    for name in projections:
        REBUILD_EVENTS_APPLIED.labels(name).set(applied)
        REBUILD_EVENTS_TARGET.labels(name).set(max(applied, target or 0))
    heartbeat()


@dataclass
class ImportProgress:
    """One import job's progress: `with import_job("xlsx", rows) as job: ... job.advance(n)`."""

    source: str
    rows: int
    processed: int = field(default=0, init=False)

    def __enter__(self) -> ImportProgress:
        IMPORT_JOBS_RUNNING.labels(self.source).inc()
        IMPORT_ROWS_TARGET.labels(self.source).inc(self.rows)
        return self

    def advance(self, rows: int = 1) -> None:
        """`rows` more rows processed (accepted or refused alike)."""
        self.processed += rows
        IMPORT_ROWS_PROCESSED.labels(self.source).inc(rows)

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        IMPORT_JOBS_RUNNING.labels(self.source).dec()
        IMPORT_ROWS_TARGET.labels(self.source).dec(self.rows)
        IMPORT_ROWS_PROCESSED.labels(self.source).dec(self.processed)


def import_job(source: str, rows: int) -> ImportProgress:
    """For the import jobs: the gauges of one job of `source` format holding `rows` rows, while it runs."""
    return ImportProgress(source, rows)


# ---------------------------------------------------------------------------------------
# Names, for the checks of deploy/ and docs/OPERATIONS.md
# ---------------------------------------------------------------------------------------


def metric_types() -> dict[str, str]:
    """Every catalogued metric family: its name as written in PromQL for gauges, without the
    `_total` of counters (as prometheus-client names families) -> its type."""
    types = {family.name: family.type for metric in CATALOGUE for family in metric.describe()}
    types.update({gauge.name: "gauge" for gauge in POOL_GAUGES})
    return types


def series_names() -> frozenset[str]:
    """Every series name an expression may select: gauges as named, counters with `_total`,
    histograms' `_bucket`, `_sum` and `_count`."""
    suffixes = {"gauge": ("",), "counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
    return frozenset(name + suffix for name, kind in metric_types().items() for suffix in suffixes[kind])
