"""Composition root of the write side outside HTTP (CLI commands, tests, benchmarks)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from domain.periods import ReportingRegime
from infra.db import open_pool
from infra.event_store import ReportingApplication
from infra.settings import Settings
from services.ingest.commands import IngestService
from services.ingest.idempotency import IdempotencyStore
from services.ingest.seed import seed_file


def reporting_regime() -> ReportingRegime:
    """Deadlines are data of the reporting regime (Circular 02/2023 by default: infra/seed/regime.json)."""
    return ReportingRegime.from_dict(seed_file("regime.json"))


@contextmanager
def ingest_service(settings: Settings) -> Iterator[IngestService]:
    pool = open_pool(settings)
    event_store = ReportingApplication(settings)
    try:
        yield IngestService(event_store, IdempotencyStore(pool), reporting_regime())
    finally:
        event_store.close()
        pool.close()
