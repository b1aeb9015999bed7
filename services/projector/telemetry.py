"""What a live projector tells its operators: metrics per projection and one log line per applied batch.

- `reporting_projector_events_applied_total`, `..._batch_duration_seconds` (a projection's own
  apply time plus the batch's commit) and `..._freshness_seconds` (recorded -> committed, per event);
- `reporting_projector_lag_events`: published events not applied yet, from the relay's and the
  projection's positions in PostgreSQL (`services.readmodels.freshness.projection_lag`), refreshed
  every second; `..._lag_seconds`: after a full batch (the poll returned as many messages as it
  may, so more are waiting), the age of the oldest event it applied; after a shorter one (the poll
  drained what the broker had) or once nothing is left to apply, 0;
- the batch's log line: what each projection applied, the positions, the time, and the ids of the
  requests that stored the events (from the messages' `request_id` header), so that one request
  can be followed from the HTTP edge to the read models.

A rebuild replays old events into fresh tables: it reports its progress (`reporting_rebuild_*`)
instead, never these series, which would call a months-old event a lag.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import psycopg
from psycopg.rows import TupleRow

from infra import metrics
from infra.integration_events import IntegrationEvent
from infra.logs import fields
from services.readmodels.freshness import projection_lag

log = logging.getLogger("reporting.projector")

MAX_LOGGED_REQUEST_IDS = 200  # a batch line names at most this many requests, and counts the rest


@dataclass(frozen=True)
class Applied:
    """What one projection applied of a batch, and how long its own part took."""

    events: Sequence[IntegrationEvent]
    seconds: float


RequestIds = Mapping[tuple[int, int], str]
"""(partition, offset) -> the request id a message carries."""


class Telemetry:
    def __init__(self, topic: str, projections: Sequence[str], batch_size: int) -> None:
        self.topic = topic
        self.projections = tuple(projections)
        self.batch_size = batch_size

    def batch_applied(
        self,
        batch: Sequence[tuple[int, int, IntegrationEvent]],
        applied: Mapping[str, Applied],
        commit_seconds: float,
        request_ids: RequestIds,
    ) -> None:
        """After the batch's commit: its metrics and its log line."""
        if not applied:
            return
        now = time.time()
        behind = len(batch) >= self.batch_size
        ages_of: dict[int, list[float]] = {}  # projections given the same list of events share their ages
        for name, part in applied.items():
            ages = ages_of.get(id(part.events))
            if ages is None:
                ages = ages_of[id(part.events)] = [now - event.occurred_at.timestamp() for event in part.events]
            metrics.PROJECTOR_EVENTS_APPLIED.labels(name).inc(len(part.events))
            metrics.PROJECTOR_BATCH_DURATION.labels(name).observe(part.seconds + commit_seconds)
            metrics.observe_many(metrics.PROJECTOR_FRESHNESS.labels(name), ages)
            metrics.PROJECTOR_LAG_SECONDS.labels(name).set(max(0.0, max(ages)) if behind else 0.0)
        new = {event.position for part in applied.values() for event in part.events}
        traced = list(
            dict.fromkeys(request_ids[p, o] for p, o, e in batch if e.position in new and (p, o) in request_ids)
        )
        line = {
            "applied": {name: len(part.events) for name, part in applied.items()},
            "first_position": min(new),
            "last_position": max(new),
            "duration_seconds": round(sum(part.seconds for part in applied.values()) + commit_seconds, 6),
            "request_ids": traced[:MAX_LOGGED_REQUEST_IDS],
        }
        if len(traced) > MAX_LOGGED_REQUEST_IDS:
            line["request_ids_not_shown"] = len(traced) - MAX_LOGGED_REQUEST_IDS
        log.info("batch applied", extra=fields(**line))

    def refresh(self, conn: psycopg.Connection[TupleRow]) -> None:
        """The lag of each projection, from the positions in PostgreSQL."""
        for name, events in projection_lag(conn, self.topic, self.projections).items():
            metrics.PROJECTOR_LAG_EVENTS.labels(name).set(events)
            if events == 0:
                metrics.PROJECTOR_LAG_SECONDS.labels(name).set(0)
