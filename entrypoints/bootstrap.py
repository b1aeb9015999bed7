"""The composition root: the one place that builds adapters from `Settings` and hands them to apps,
handlers and processes, which take them as parameters (so tests and benchmarks can pass their own)."""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources.abc import Traversable

from domain.periods import ReportingRegime
from infra.db import new_pool
from infra.migrate import infra_migrations
from infra.migrate import migrate as apply_migrations
from infra.settings import Settings
from services.audit.transparency import TransparencyLog
from services.ingest.bootstrap import reporting_regime
from services.readmodels import Pool, read_model_migrations
from services.readmodels.audit_trail.queries import AuditTrailQueries
from services.readmodels.compliance.queries import ComplianceQueries
from services.readmodels.reference.queries import ReferenceQueries
from services.readmodels.report_view.asof import ReportViewHistory
from services.readmodels.report_view.queries import ReportViewQueries
from services.readmodels.rollups.asof import RollupsHistory
from services.readmodels.rollups.queries import RollupQueries
from services.reports.read_side import ReadSide

# ---- the read side ------------------------------------------------------------------------

READ_POOL_SIZE = 20


def migration_sources() -> list[Traversable]:
    """Every folder of migrations: the adapters' own and each read model's."""
    return [infra_migrations(), *read_model_migrations()]


def migrate(settings: Settings) -> list[str]:
    """Create or upgrade the schema (`reporting migrate`, the local stack, the tests); returns what was applied."""
    return apply_migrations(settings, migration_sources())


def read_pool(settings: Settings) -> Pool:
    """The reports API's pool, not opened yet: its app opens it as it starts (`entrypoints.apps`)."""
    return new_pool(settings, max_size=READ_POOL_SIZE)


def database_check(pool: Pool) -> Callable[[], None]:
    """A readiness check: the database answers a query through `pool` within 2 s."""

    def ping() -> None:
        with pool.connection(timeout=2) as conn:
            conn.execute("SELECT 1")

    return ping


def read_side(settings: Settings, pool: Pool, regime: ReportingRegime | None = None) -> ReadSide:
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
        health_checks={"postgres": database_check(pool)},
    )
