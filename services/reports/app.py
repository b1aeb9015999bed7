"""The reports API (FastAPI): reads the read models through the query objects it is given, never the event store."""

from __future__ import annotations

from fastapi import FastAPI

from services.http.platform import Platform, service_app
from services.http.read_side import ReadSide
from services.reports import (
    as_of,
    audit_trail,
    compliance,
    interchange,
    registry,
    report_definitions,
    report_view,
    rollups,
    templates,
    transparency,
)

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
    interchange.router,
)


def create_app(read_side: ReadSide, platform: Platform) -> FastAPI:
    """The reports API over `read_side`, on what every service shares (`platform`)."""
    app = service_app("Reporting reports API", platform, "reports")
    app.state.read_side = read_side
    for router in ROUTERS:
        app.include_router(router)
    return app
