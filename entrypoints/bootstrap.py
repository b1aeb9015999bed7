"""The composition root: builds the adapters from `Settings` and hands them to apps, handlers and processes.

Every builder takes the adapters it would otherwise make as parameters, so that tests and
benchmarks pass their own (an in-memory event store, a fixed clock).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path

from domain.periods import Clock, ReportingRegime
from infra.clock import SystemClock
from infra.db import UNAVAILABLE_ERRORS, Pool, new_pool, open_pool, ping
from infra.electronic_codes import ElectronicCodeIndex, TopicSource
from infra.event_store import PostgresEventStore, library_pool
from infra.import_store import PostgresFileStore, PostgresJobStore
from infra.memory_event_store import InMemoryEventStore
from infra.memory_import_store import MemoryFileStore, MemoryJobStore
from infra.metrics import heartbeat, observe_pool, process_exiting
from infra.migrate import infra_migrations
from infra.migrate import migrate as apply_migrations
from infra.notifications import ProjectionListener
from infra.passwords import Argon2Hasher
from infra.rate_limits import PostgresRateLimiter
from infra.seed import seed_file
from infra.settings import Settings
from infra.throttle import InMemoryThrottle, PostgresThrottle
from infra.tokens import TokenStore
from infra.web_sessions import PostgresSessions
from services.audit.transparency import TransparencyLog
from services.http.health import lag_check
from services.http.limits import LimiterFactory
from services.http.platform import Platform
from services.http.read_side import ReadSide
from services.ingest.application.history import SubmissionHistory
from services.ingest.application.imports.side import MAX_ATOMIC_VALUES, ImportSide, unwatched
from services.ingest.application.ports import EventStore, PasswordHasher, SignInThrottle, ValueHistory
from services.ingest.application.seed import reporting_regime
from services.ingest.application.write_side import MAX_VALUES_PER_BATCH, WriteSide
from services.interchange.mapping import CodeMapping
from services.readmodels import READ_MODELS, read_model_migrations
from services.readmodels.access.queries import AccessQueries
from services.readmodels.audit_trail.queries import AuditTrailQueries
from services.readmodels.compliance.queries import ComplianceQueries
from services.readmodels.freshness import ProjectionLag
from services.readmodels.reference.queries import ReferenceQueries
from services.readmodels.report_view.asof import ReportViewHistory
from services.readmodels.report_view.queries import ReportViewQueries
from services.readmodels.rollups.asof import RollupsHistory
from services.readmodels.rollups.queries import RollupQueries
from services.web.web_side import WebSide

# ---- the write side ----------------------------------------------------------------------


def write_side(
    store: EventStore,
    *,
    clock: Clock | None = None,
    regime: ReportingRegime | None = None,
    history: ValueHistory | None = None,
    passwords: PasswordHasher | None = None,
    throttle: SignInThrottle | None = None,
    max_values_per_batch: int = MAX_VALUES_PER_BATCH,
) -> WriteSide:
    """The write application on `store`; by default the system clock, the seed regime, the store's history,
    argon2id, and a throttle of this process alone (PostgreSQL-backed services pass the shared one).
    The agencies' electronic codes are folded from the store's own events."""
    defaults = Settings()
    assert isinstance(store, TopicSource), "the event stores of infra/ read events by topic"
    return WriteSide(
        store,
        clock or SystemClock(),
        regime or reporting_regime(),
        history or SubmissionHistory(store),
        passwords or Argon2Hasher(),
        throttle or InMemoryThrottle(window=defaults.signin_window, limit=defaults.signin_failures_limit),
        max_values_per_batch,
        electronic_codes=ElectronicCodeIndex(store),
    )


def shared_throttle(settings: Settings, pool: Pool) -> PostgresThrottle:
    """Failed sign-ins counted in PostgreSQL: one count for every worker process."""
    return PostgresThrottle(pool, window=settings.signin_window, limit=settings.signin_failures_limit)


def in_memory_write_side(*, clock: Clock | None = None, regime: ReportingRegime | None = None) -> WriteSide:
    """The write application on an empty in-memory event store (unit tests)."""
    return write_side(InMemoryEventStore(), clock=clock, regime=regime)


@contextmanager
def postgres_store(settings: Settings, *, cache_size: int = 10_000) -> Iterator[PostgresEventStore]:
    """The PostgreSQL event store, open, with its own pool; closed afterwards."""
    pool = open_pool(settings)
    store = PostgresEventStore(settings, pool, cache_size=cache_size)
    try:
        store.open()
        yield store
    finally:
        store.close()
        pool.close()


@contextmanager
def postgres_write_side(settings: Settings, *, clock: Clock | None = None) -> Iterator[WriteSide]:
    """The write application on PostgreSQL, outside HTTP (the seed, demo data, tests, benchmarks)."""
    with postgres_store(settings) as store:
        yield write_side(
            store,
            clock=clock,
            throttle=shared_throttle(settings, store.pool),
            max_values_per_batch=settings.max_values_per_batch,
        )


# ---- what every HTTP service shares -----------------------------------------------------------


def service_resources(
    name: str, pool: Pool, store: PostgresEventStore | None = None
) -> Callable[[], AbstractContextManager[None]]:
    """A service's resources: `pool` (and `store`) opened as it starts, without waiting for the database,
    their use exported as metrics (pools `name` and `name-event-store`), closed as it stops."""

    @contextmanager
    def resources() -> Iterator[None]:
        pool.open(wait=False)
        stop_observing = [observe_pool(name, pool.get_stats)]
        try:
            if store is not None:
                store.open()
                stop_observing.append(observe_pool(f"{name}-event-store", library_pool(store.app).get_stats))
            yield
        finally:
            for stop in stop_observing:
                stop()
            if store is not None:
                store.close()
            pool.close()
            process_exiting()  # a worker that stops no longer counts in the other workers' /metrics

    return resources


def shared_limiter(pool: Pool) -> LimiterFactory:
    """Rate limits in PostgreSQL: one budget per token and per address for every worker and replica."""

    def limiter(scope: str, rate: float, burst: int) -> PostgresRateLimiter:
        return PostgresRateLimiter(pool, scope, rate, burst)

    return limiter


def readiness(settings: Settings, pool: Pool, projections: Sequence[str] = ()) -> dict[str, Callable[[], None]]:
    """The checks of /ready: the database answers, and the projections read are not too far behind."""
    checks = {"postgres": ping(pool)}
    if projections and settings.ready_max_lag_events > 0:
        lag = ProjectionLag(pool, settings.kafka_topic, projections)
        checks["projections"] = lag_check(lag.events, settings.ready_max_lag_events)
    return checks


@dataclass(frozen=True)
class IngestApi:
    """What the write API is built from: nothing connects before `platform.resources` is entered."""

    write_side: WriteSide
    tokens: TokenStore
    platform: Platform
    imports: ImportSide


def ingest_api(settings: Settings, *, clock: Clock | None = None) -> IngestApi:
    pool = new_pool(settings)
    store = PostgresEventStore(settings, pool)
    tokens = TokenStore(pool)
    platform = Platform(
        settings,
        tokens,
        readiness(settings, pool),
        UNAVAILABLE_ERRORS,
        service_resources("ingest", pool, store),
        shared_limiter(pool),
    )
    ingest = write_side(
        store, clock=clock, throttle=shared_throttle(settings, pool), max_values_per_batch=settings.max_values_per_batch
    )
    return IngestApi(ingest, tokens, platform, import_side(settings, ingest, pool))


# ---- imports --------------------------------------------------------------------------------


def dhis2_mappings(settings: Settings) -> dict[str, CodeMapping]:
    """The DHIS2/ADX code mappings by data set: the shipped one (every seed indicator and agency) and
    each `*.json` of DHIS2_MAPPINGS_DIR; a file there may replace the shipped one (same data set)."""
    shipped = CodeMapping.from_dict(seed_file("dhis2_mapping.json"))
    mappings = {shipped.data_set: shipped}
    if settings.dhis2_mappings_dir:
        for path in sorted(Path(settings.dhis2_mappings_dir).glob("*.json")):
            mapping = CodeMapping.from_json(path.read_bytes())
            mappings[mapping.data_set] = mapping
    return mappings


def import_side(
    settings: Settings, write: WriteSide, pool: Pool, *, alive: Callable[[], None] = unwatched
) -> ImportSide:
    """Imports over the write application, with their files and jobs in PostgreSQL on `pool`;
    `alive`: what a worker calls as it makes progress."""
    return ImportSide(
        write,
        PostgresFileStore(pool),
        PostgresJobStore(pool, settings),
        dhis2_mappings(settings),
        max_atomic_values=settings.import_atomic_max_values,
        max_upload_bytes=settings.max_upload_bytes,
        alive=alive,
    )


def in_memory_import_side(write: WriteSide, *, max_atomic_values: int = MAX_ATOMIC_VALUES) -> ImportSide:
    """Imports over an in-memory write application, files and jobs in memory (unit tests)."""
    return ImportSide(
        write, MemoryFileStore(), MemoryJobStore(), dhis2_mappings(Settings()), max_atomic_values=max_atomic_values
    )


IMPORT_CACHE_SIZE = 200


@contextmanager
def import_worker(settings: Settings) -> Iterator[ImportSide]:
    """What `reporting import-worker` runs jobs with: the write application on PostgreSQL and the job store."""
    pool = open_pool(settings)
    # Few aggregates cached: a job touches each report once, and its memory stays bounded.
    store = PostgresEventStore(settings, pool, cache_size=IMPORT_CACHE_SIZE)
    try:
        store.open()
        write = write_side(store, throttle=shared_throttle(settings, pool))
        # Its /health on METRICS_PORT: stalled when no claim or batch moves.
        side = import_side(settings, write, pool, alive=heartbeat)
        try:
            yield side
        finally:
            jobs = side.jobs
            if isinstance(jobs, PostgresJobStore):
                jobs.close()
    finally:
        store.close()
        pool.close()


# ---- the read side ------------------------------------------------------------------------

READ_POOL_SIZE = 20


def migration_sources() -> list[Traversable]:
    """Every folder of migrations: the adapters' own and each read model's."""
    return [infra_migrations(), *read_model_migrations()]


def migrate(settings: Settings) -> list[str]:
    """Create or upgrade the schema (`reporting migrate`, the local stack, the tests); returns what was applied."""
    return apply_migrations(settings, migration_sources())


def read_side(
    settings: Settings, pool: Pool, regime: ReportingRegime | None = None, clock: Clock | None = None
) -> ReadSide:
    """The query objects of every read model over `pool`; `regime` gives the compliance deadlines
    (default: the reporting regime the write side applies)."""
    topic = settings.kafka_topic
    reference = ReferenceQueries(pool, topic)
    trail = AuditTrailQueries(pool, topic)
    return ReadSide(
        report_view=ReportViewQueries(pool, topic),
        reference=reference,
        rollups=RollupQueries(pool, reference, topic),
        compliance=ComplianceQueries(pool, reference, regime or reporting_regime(), topic),
        audit_trail=trail,
        report_view_history=ReportViewHistory(trail),
        rollups_history=RollupsHistory(trail),
        transparency=TransparencyLog(pool, trail),
        clock=clock or SystemClock(),
        mappings=dhis2_mappings(settings),
        access=AccessQueries(pool, topic),
    )


@dataclass(frozen=True)
class ReportsApi:
    """What the reports API is built from: nothing connects before `platform.resources` is entered."""

    read_side: ReadSide
    platform: Platform


def reports_api(settings: Settings) -> ReportsApi:
    pool = new_pool(settings, max_size=READ_POOL_SIZE)
    platform = Platform(
        settings,
        TokenStore(pool),
        readiness(settings, pool, READ_MODELS),  # the reports API reads every read model
        UNAVAILABLE_ERRORS,
        service_resources("reports", pool),
        shared_limiter(pool),
    )
    return ReportsApi(read_side(settings, pool), platform)


# ---- the people's web app ------------------------------------------------------------------

WEB_POOL_SIZE = 20


@dataclass(frozen=True)
class WebApp:
    """What the web app is built from: nothing connects before `resources` is entered."""

    web: WebSide
    resources: Callable[[], AbstractContextManager[None]]
    readiness: Mapping[str, Callable[[], None]]


def web_app(settings: Settings, *, clock: Clock | None = None) -> WebApp:
    """The pages over one pool: the write application, every read model's queries, the sessions."""
    pool = new_pool(settings, max_size=WEB_POOL_SIZE)
    store = PostgresEventStore(settings, pool)
    write = write_side(
        store, clock=clock, throttle=shared_throttle(settings, pool), max_values_per_batch=settings.max_values_per_batch
    )
    sessions = PostgresSessions(pool)
    web = WebSide(
        write,
        read_side(settings, pool, clock=clock),
        sessions,
        settings.session_idle,
        settings.session_lifetime,
        imports=import_side(settings, write, pool),
    )
    # One LISTEN connection per process, whatever the number of open pages (services/web/live.py).
    listener = ProjectionListener(settings, web.live.advance, web.live.resync)
    opened = service_resources("web", pool, store)

    @contextmanager
    def resources() -> Iterator[None]:
        with opened():
            listener.start()
            try:
                yield
            finally:
                web.live.close()
                listener.stop()

    # The pages read every read model (entry forms, review queue, boards, the audit console).
    return WebApp(web, resources, readiness(settings, pool, READ_MODELS))
