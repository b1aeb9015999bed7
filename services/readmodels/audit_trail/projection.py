"""The audit trail's projection: one row per event, with its canonical bytes."""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from psycopg.rows import TupleRow

from infra.canonical import event_bytes
from infra.integration_events import IntegrationEvent


class AuditTrailProjection:
    name = "audit_trail"

    def __init__(self, suffix: str = "") -> None:
        self.table = "rm_audit_trail" + suffix
        self.tables: tuple[str, ...] = (self.table,)

    def apply(self, cur: psycopg.Cursor[TupleRow], events: Sequence[IntegrationEvent]) -> None:
        if not events:
            return
        cur.execute(
            f"INSERT INTO {self.table}"
            " (position, event_id, event_type, agency, period, indicator, actor, role, occurred_at, canonical)"
            " SELECT * FROM unnest(%s::bigint[], %s::uuid[], %s::text[], %s::text[], %s::text[], %s::text[],"
            " %s::text[], %s::text[], %s::timestamptz[], %s::bytea[])"
            " ON CONFLICT (position) DO NOTHING",
            (
                [e.position for e in events],
                [e.event_id for e in events],
                [e.event_type for e in events],
                [e.agency for e in events],
                [e.period for e in events],
                [e.indicator for e in events],
                [e.actor for e in events],
                [e.role for e in events],
                [e.occurred_at for e in events],
                [event_bytes(e) for e in events],
            ),
            binary=True,
        )
