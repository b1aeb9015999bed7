"""The read side (FastAPI): queries read models only, never the event store."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import ORJSONResponse

from domain.identity import Principal, Role
from infra.db import open_pool
from infra.settings import Settings
from services.http.auth import Limits, require_agency_access, require_roles
from services.http.health import add_health_routes
from services.http.problems import Problem, install_problem_handlers

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

    app = FastAPI(title="Reporting reports API", version="1", lifespan=lifespan, default_response_class=ORJSONResponse)
    install_problem_handlers(app)
    app.state.limits = Limits.from_settings(settings)

    def ping_database() -> None:
        with app.state.pool.connection(timeout=2) as conn:
            conn.execute("SELECT 1")

    add_health_routes(app, {"postgres": ping_database})

    def agency_position(request: Request, agency: str) -> int:
        with request.app.state.pool.connection() as conn:
            row = conn.execute("SELECT position FROM rm_agency_positions WHERE agency = %s", (agency,)).fetchone()
        return 0 if row is None else int(row[0])

    def wait_for_position(request: Request, agency: str, min_position: int | None, wait_ms: int) -> int:
        """Read-your-writes: wait until the agency's events up to `min_position` are applied."""
        position = agency_position(request, agency)
        if min_position is None:
            return position
        deadline = time.monotonic() + wait_ms / 1000
        while position < min_position:
            if time.monotonic() >= deadline:
                raise Problem(
                    409,
                    "not-yet-visible",
                    "Not yet visible",
                    f"position {min_position} is not applied yet (at {position}); retry",
                    headers={"Retry-After": "1"},
                    position=position,
                )
            time.sleep(0.02)  # a server-side poll of the read model, bounded by wait_ms
            position = agency_position(request, agency)
        return position

    @app.get("/agencies/{agency}/periods/{period}/report", tags=["reports"])
    def agency_report(
        agency: str,
        period: str,
        request: Request,
        principal: Reader,
        min_position: Annotated[
            int | None, Query(ge=0, description="wait until this write position is visible")
        ] = None,
        wait_ms: Annotated[int, Query(ge=0, le=MAX_WAIT_MS)] = 5000,
    ) -> dict[str, Any]:
        """The per-agency report view of one period: current value of each indicator."""
        require_agency_access(principal, agency, write=False)
        position = wait_for_position(request, agency, min_position, wait_ms)
        with request.app.state.pool.connection() as conn:
            rows = conn.execute(
                "SELECT indicator, value, revision, actor, role, recorded_at, event_id, position"
                " FROM rm_report_values WHERE agency = %s AND period = %s ORDER BY indicator",
                (agency, period),
            ).fetchall()
        return {
            "agency": agency,
            "period": period,
            "position": position,
            "values": [
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
            ],
        }

    return app


def app_from_env() -> FastAPI:
    """The app as configured by the environment (what `reporting` serves, one per worker)."""
    return create_app(Settings.from_env())
