"""The app factories uvicorn serves (`reporting ingest`, `reporting reports`), one per worker process."""

from __future__ import annotations

from fastapi import FastAPI

from domain.identity import Principal
from entrypoints import bootstrap
from infra.db import UNAVAILABLE_ERRORS
from infra.settings import Settings
from infra.tokens import TokenStore
from services.http.problems import install_unavailable_handler
from services.ingest.http.app import create_app


def ingest_app(settings: Settings) -> FastAPI:
    """The write API for `settings`; it connects to the database as it starts."""
    built = bootstrap.ingest_api(settings)
    return create_app(built.write_side, built.tokens, built.platform)


def ingest_app_from_env() -> FastAPI:
    return ingest_app(Settings.from_env())


class _TokensOfAppPool:
    """Tokens looked up on the pool the reports app opens itself (until its factory moves here)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def resolve(self, secret: str) -> Principal | None:
        return TokenStore(self.app.state.pool).resolve(secret)


def reports_app_from_env() -> FastAPI:
    """The reports API, given the authenticator and the 503 mapping the shared HTTP layer now takes
    from the composition root (temporary: until the reports app is composed here too)."""
    from services.reports.api import app_from_env

    app = app_from_env()
    app.state.authenticator = _TokensOfAppPool(app)
    install_unavailable_handler(app, UNAVAILABLE_ERRORS)
    return app
