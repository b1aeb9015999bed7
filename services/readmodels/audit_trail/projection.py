"""The audit trail's projection: one row per event, with its canonical bytes."""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from psycopg.rows import TupleRow

from infra.canonical import event_bytes
from infra.integration_events import IntegrationEvent
from infra.pg_copy import Column, stage_rows

STAGED: tuple[Column, ...] = (
    ("position", "bigint"),
    ("event_id", "uuid"),
    ("event_type", "text"),
    ("agency", "text"),
    ("period", "text"),
    ("indicator", "text"),
    ("actor", "text"),
    ("role", "text"),
    ("occurred_at", "timestamptz"),
    ("canonical", "bytea"),
)


class AuditTrailProjection:
    name = "audit_trail"

    def __init__(self, suffix: str = "") -> None:
        self.table = "rm_audit_trail" + suffix
        self.tables: tuple[str, ...] = (self.table,)
        self.indexed_reads: tuple[str, ...] = ()
        self.log_order = False
        self.key_local = True

    def apply(self, cur: psycopg.Cursor[TupleRow], events: Sequence[IntegrationEvent]) -> None:
        if not events:
            return
        stage_rows(
            cur,
            "audit_trail_batch",
            STAGED,
            (
                (
                    e.position,
                    e.event_id,
                    e.event_type.value,
                    e.agency,
                    e.period,
                    e.indicator,
                    e.actor,
                    e.role,
                    e.occurred_at,
                    event_bytes(e),
                )
                for e in events
            ),
        )
        cur.execute(
            f"INSERT INTO {self.table} ({', '.join(name for name, _ in STAGED)})"
            " SELECT * FROM audit_trail_batch ON CONFLICT (position) DO NOTHING"
        )
