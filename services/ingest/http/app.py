"""The write API (FastAPI), built from a write side the composition root already built."""

from __future__ import annotations

from fastapi import FastAPI

from services.http.platform import Platform, service_app
from services.ingest.application.imports.side import ImportSide
from services.ingest.application.write_side import WriteSide
from services.ingest.http import (
    agencies,
    catalogue,
    imports,
    national_feed,
    report_definitions,
    submissions,
    templates,
    tokens,
)
from services.ingest.http.tokens import TokenAdmin


def create_app(write_side: WriteSide, tokens_admin: TokenAdmin, platform: Platform, import_side: ImportSide) -> FastAPI:
    app = service_app("Reporting ingest API", platform, "ingest")
    app.state.write_side = write_side
    app.state.tokens = tokens_admin
    app.state.imports = import_side
    for module in (submissions, templates, catalogue, agencies, report_definitions, tokens, imports, national_feed):
        app.include_router(module.router)
    return app
