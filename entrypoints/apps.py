"""The apps and processes of the system, each built from `Settings` by the composition root
(`entrypoints/bootstrap.py`): what `reporting <command>` serves or runs, one per worker process."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from fastapi import FastAPI

from entrypoints import bootstrap
from infra.db import UNAVAILABLE_ERRORS
from infra.event_store import open_event_store
from infra.garbage_collection import tune_for_service
from infra.logs import configure_logging
from infra.settings import Settings
from services.audit.checkpointer import Checkpointer, signing_key
from services.ingest.http.app import create_app as create_ingest_app
from services.projector.projections import select_projections
from services.projector.runner import Projector
from services.reports.app import create_app as create_reports_app
from services.web.app import create_app as create_web_app


def _in_worker(service: str, build: Callable[[Settings], FastAPI]) -> FastAPI:
    """What a uvicorn worker process serves: its logging set, its app built from the env, then frozen."""
    configure_logging(service)
    app = build(Settings.from_env())
    tune_for_service()
    return app


def ingest_app(settings: Settings) -> FastAPI:
    """The write API for `settings`; it connects to the database as it starts."""
    built = bootstrap.ingest_api(settings)
    return create_ingest_app(built.write_side, built.tokens, built.platform, built.imports)


def ingest_app_from_env() -> FastAPI:
    return _in_worker("ingest", ingest_app)


def reports_app(settings: Settings) -> FastAPI:
    """The reports API for `settings`; it connects to the database as it starts."""
    built = bootstrap.reports_api(settings)
    return create_reports_app(built.read_side, built.platform)


def reports_app_from_env() -> FastAPI:
    return _in_worker("reports", reports_app)


def web_app(settings: Settings) -> FastAPI:
    """The people's web app for `settings`; it connects to the database as it starts."""
    built = bootstrap.web_app(settings)
    return create_web_app(built.web, built.resources, built.readiness, UNAVAILABLE_ERRORS)


def web_app_from_env() -> FastAPI:
    return _in_worker("web", web_app)


def projector(settings: Settings, names: Sequence[str] = (), *, exclude: Sequence[str] = ()) -> Projector:
    """The projector of the projections named (default: all) less those excluded; ValueError for an unknown name."""
    return Projector(settings, select_projections(names, exclude=exclude))


def run_checkpointer(settings: Settings, stop: threading.Event) -> int:
    """The checkpointer loop until `stop`: grow the transparency log, sign checkpoints, publish them."""
    event_store = open_event_store(settings, stop, cache_size=0)  # waits out a database outage
    if event_store is None:
        return 0
    try:
        Checkpointer(settings, signing_key(settings), event_store).run(stop)
    finally:
        event_store.close()
    return 0
