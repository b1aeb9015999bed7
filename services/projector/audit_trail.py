"""The audit trail: every event of the log, one row each, filterable and paged by position (issue 5).

Besides the columns auditors filter on, each row keeps the event's canonical bytes: the leaf
the transparency log hashed, so an auditor can check any row against a signed checkpoint
(docs/AUDIT.md), and time-travel views are folded from the log itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from psycopg.rows import TupleRow

from infra.canonical import event_bytes
from infra.integration_events import IntegrationEvent


class AuditTrail:
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
