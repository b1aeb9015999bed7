"""The apps and processes of the system, each built from `Settings` by the composition root
(`entrypoints/bootstrap.py`): what `reporting <command>` serves or runs."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI

from entrypoints.bootstrap import read_pool, read_side
from infra.event_store import open_event_store
from infra.settings import Settings
from services.audit.checkpointer import Checkpointer, signing_key
from services.projector.projections import select_projections
from services.projector.runner import Projector
from services.readmodels import Pool
from services.reports.app import create_app as create_reports_app

# ---- the read side ------------------------------------------------------------------------


def opens(pool: Pool) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """An app lifespan that opens `pool` as the app starts (without waiting for the database) and closes it."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool.open(wait=False)
        try:
            yield
        finally:
            pool.close()

    return lifespan


def reports_app(settings: Settings) -> FastAPI:
    """The reports API on its own pool (opened when the app starts)."""
    pool = read_pool(settings)
    app = create_reports_app(read_side(settings, pool), settings, lifespan=opens(pool))
    app.state.pool = pool  # the shared HTTP layer looks bearer tokens up through it (services/http/auth.py)
    return app


def reports_app_from_env() -> FastAPI:
    """The reports API as configured by the environment (what `reporting reports` serves, one per worker)."""
    return reports_app(Settings.from_env())


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
