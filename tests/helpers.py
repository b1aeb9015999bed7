"""Test helpers shared by integration and e2e tests: reading the store, the topic, the forms."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import fields
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import orjson
from kafka import TopicPartition

from domain.periods import Period, PeriodKind, period_for_date
from infra.clock import vietnam_today
from infra.event_store import ReportingApplication
from infra.integration_events import IntegrationEvent, from_domain_event
from infra.kafka import assigned_consumer, describe_topic, header
from infra.runtime.ports import wait_until
from infra.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]


def open_month(months_back: int = 1, today: date | None = None) -> Period:
    """A monthly period that is open for entry (its cut-off window has started)."""
    period = period_for_date(today or vietnam_today(), PeriodKind.MONTH)
    for _ in range(months_back):
        period = period.previous()
    return period


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def store_events(settings: Settings) -> list[IntegrationEvent]:
    """Every event in the store, in notification order, in its published form."""
    app = ReportingApplication(settings, cache_size=0)
    try:
        events: list[IntegrationEvent] = []
        start = 0
        while True:
            batch = app.recorder.select_notifications(start=start, limit=5000, inclusive_of_start=False)
            if not batch:
                return events
            events += [from_domain_event(app.mapper.to_domain_event(n), n.id) for n in batch]
            start = batch[-1].id
    finally:
        app.close()


def topic_messages(settings: Settings, positions: set[int], timeout: float = 30) -> list[Any]:
    """Every record of the topic, read until it holds all of `positions` (plain consumer, partitions assigned).

    The local broker under-reports end offsets, so "the end" is the set of positions we expect.
    """
    info = describe_topic(settings, settings.kafka_topic)
    assert info is not None
    consumer = assigned_consumer(settings, fetch_max_wait_ms=50)
    try:
        tps = [TopicPartition(settings.kafka_topic, p) for p in info.partitions]
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, 0)  # explicitly: the local broker's offset listing cannot be trusted
        records: list[Any] = []
        seen: set[int] = set()

        def complete() -> bool:
            for batch in consumer.poll(timeout_ms=100).values():
                records.extend(batch)
                seen.update(int(header(r.headers, "notification_id") or 0) for r in batch)
            return positions <= seen

        wait_until(complete, timeout, interval=0, what="topic holds every expected position")
        # Anything beyond: a short drain so duplicates right after are seen too.
        for batch in consumer.poll(timeout_ms=300).values():
            records.extend(batch)
        return records
    finally:
        consumer.close()


def form_indicators(
    ingest_url: str, token: str, template: str, period: Period, value_type: str
) -> list[dict[str, Any]]:
    response = httpx.get(f"{ingest_url}/templates/{template}/form", params={"period": period.code}, headers=auth(token))
    response.raise_for_status()
    return [i for i in response.json()["indicators"] if i["value_type"] == value_type]


def tokens_cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`reporting tokens ...` as a person runs it in `cwd`: no setting in the environment but `env`'s."""
    settings = {field.name.upper() for field in fields(Settings)}
    clean = {k: v for k, v in os.environ.items() if k not in settings}
    return subprocess.run(
        [sys.executable, "-m", "entrypoints.cli", "tokens", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**clean, "PYTHONPATH": str(REPO_ROOT), **(env or {})},
    )


def log_lines(path: Path) -> list[dict[str, Any]]:
    """Every JSON line of a service's log (a line that is not JSON fails the test: logs are structured)."""
    lines = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        if raw.strip():
            try:
                entry = orjson.loads(raw)
            except orjson.JSONDecodeError:
                raise AssertionError(f"{path.name}: not a JSON line: {raw[:300]}") from None
            assert isinstance(entry, dict), raw
            lines.append(entry)
    return lines
