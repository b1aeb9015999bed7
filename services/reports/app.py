"""The reports API (FastAPI): reads the read models through the query objects it is given, never the event store."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from fastapi import FastAPI
from fastapi.responses import ORJSONResponse

from infra.settings import Settings
from services.http.auth import declare_roles
from services.http.health import add_health_routes
from services.http.limits import install_limits
from services.http.problems import install_problem_handlers, problem_responses
from services.reports import (
    as_of,
    audit_trail,
    compliance,
    registry,
    report_definitions,
    report_view,
    rollups,
    templates,
    transparency,
)
from services.reports.read_side import ReadSide

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]
# One router per resource, in the order of the API's documentation.
ROUTERS = (
    audit_trail.router,
    as_of.router,
    transparency.router,
    rollups.router,
    compliance.router,
    report_definitions.router,
    registry.router,
    templates.router,
    report_view.router,
)


def create_app(read_side: ReadSide, settings: Settings, *, lifespan: Lifespan | None = None) -> FastAPI:
    """The reports API over `read_side`; `settings` gives its limits, `lifespan` opens and closes what it reads."""
    app = FastAPI(
        title="Reporting reports API",
        version="1",
        lifespan=lifespan,
        default_response_class=ORJSONResponse,
        responses=problem_responses(),
    )
    app.state.read_side = read_side
    install_limits(app, settings)
    declare_roles(app)
    install_problem_handlers(app)
    add_health_routes(app, read_side.health_checks)
    for router in ROUTERS:
        app.include_router(router)
    return app
