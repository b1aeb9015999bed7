"""The read side (FastAPI): queries read models only, never the event store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import ORJSONResponse, Response

from domain.identity import Principal, Role
from infra.db import open_pool
from infra.settings import Settings
from services.http.auth import declare_roles, require_agency_access, require_roles
from services.http.health import add_health_routes
from services.http.limits import install_limits
from services.http.problems import install_problem_handlers, problem_responses
from services.reports.audit_api import audit_router
from services.reports.export import TABLE_RESPONSES
from services.reports.freshness import FreshnessQuery, agency_position, wait_for_position
from services.reports.ministry_api import REPORT_VIEW_COLUMNS, Format, ministry_router, respond
from services.reports.registry_api import registry_router

Reader = Annotated[Principal, Depends(require_roles(*Role))]
MAX_WAIT_MS = 10_000


def create_app(settings: Settings) -> FastAPI:
    """The composition root of the reports service."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = open_pool(settings, max_size=20)
        try:
            yield
        finally:
            app.state.pool.close()

    app = FastAPI(
        title="Reporting reports API",
        version="1",
        lifespan=lifespan,
        default_response_class=ORJSONResponse,
        responses=problem_responses(),
    )
    install_limits(app, settings)
    declare_roles(app)
    install_problem_handlers(app)

    def ping_database() -> None:
        with app.state.pool.connection(timeout=2) as conn:
            conn.execute("SELECT 1")

    add_health_routes(app, {"postgres": ping_database})
    app.include_router(audit_router(settings))  # issue 5: audit trail, time travel, transparency log
    app.include_router(ministry_router(settings))  # issue 4: roll-ups, compliance, derived reports, exports
    app.include_router(registry_router(settings))  # issue 3: agency registry on a date, templates

    @app.get(
        "/agencies/{agency}/periods/{period}/report", tags=["reports"], response_model=None, responses=TABLE_RESPONSES
    )
    def agency_report(
        agency: str,
        period: str,
        request: Request,
        principal: Reader,
        wanted: FreshnessQuery,
        fmt: Format = "json",
    ) -> dict[str, Any] | Response:
        """The per-agency report view of one period: current value of each indicator (JSON, CSV or XLSX)."""
        require_agency_access(principal, agency, write=False)
        position = wait_for_position(request.app.state.pool, agency_position(agency, settings.kafka_topic), wanted)
        with request.app.state.pool.connection() as conn:
            rows = conn.execute(
                "SELECT indicator, value, revision, actor, role, recorded_at, event_id, position"
                " FROM rm_report_values WHERE agency = %s AND period = %s ORDER BY indicator",
                (agency, period),
            ).fetchall()
        values = [
            {
                "indicator": r[0],
                "value": r[1],
                "revision": r[2],
                "actor": r[3],
                "role": r[4],
                "recorded_at": r[5],
                "event_id": str(r[6]),
                "position": r[7],
            }
            for r in rows
        ]
        body = {"agency": agency, "period": period, "position": position, "values": values}
        table = [{"agency": agency, "period": period, **v} for v in values]
        return respond(fmt, body, REPORT_VIEW_COLUMNS, table, f"report-{agency}-{period}", "Báo cáo")

    return app


def app_from_env() -> FastAPI:
    """The app as configured by the environment (what `reporting` serves, one per worker)."""
    return create_app(Settings.from_env())
