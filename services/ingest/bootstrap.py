"""Composition root of the write side outside HTTP (CLI commands, tests, benchmarks)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from domain.periods import CIRCULAR_02_2023

from infra.db import open_pool
from infra.event_store import ReportingApplication
from infra.settings import Settings
from services.ingest.commands import IngestService
from services.ingest.idempotency import IdempotencyStore


@contextmanager
def ingest_service(settings: Settings) -> Iterator[IngestService]:
    pool = open_pool(settings)
    event_store = ReportingApplication(settings)
    try:
        yield IngestService(event_store, IdempotencyStore(pool), CIRCULAR_02_2023)
    finally:
        event_store.close()
        pool.close()
