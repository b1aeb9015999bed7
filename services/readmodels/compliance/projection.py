"""The compliance board's projection: each submission's lifecycle and timeliness.

One row per agency and month, from SubmissionOpened and the lifecycle events
(ReportSubmitted carries the deadline, `late` and `days_late` computed on the
Vietnamese calendar day by the write side). The latest step keeps who took it,
when and why (a return's reason is what the agency is told), the latest
return's reason stays after the report is submitted again. Agencies that have not started are
the absence of a row: the read side lists them from the agency registry.
Timeliness is judged on the first submission (when the report first reached
the ministry); the latest submission's is kept too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.rows import TupleRow

from infra.integration_events import (
    LIFECYCLE_EVENTS,
    EventType,
    IntegrationEvent,
    ReportSubmitted,
    SubmissionOpened,
)

COLUMNS = (
    "agency",
    "period",
    "status",
    "template",
    "template_version",
    "opened_at",
    "deadline",
    "times_submitted",
    "first_submitted_at",
    "first_late",
    "first_days_late",
    "last_submitted_at",
    "last_late",
    "last_days_late",
    "approved_at",
    "returned_at",
    "reopened_at",
    "position",
    "recalled_at",
    "step_at",
    "step_actor",
    "step_role",
    "step_reason",
    "return_reason",
)
_STATUS = {
    EventType.REPORT_SUBMITTED: "submitted",
    EventType.REPORT_APPROVED: "approved",
    EventType.REPORT_RETURNED: "returned",
    EventType.REPORT_REOPENED: "reopened",
    EventType.REPORT_RECALLED: "recalled",
}


def _new_row(agency: str, period: str) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update(agency=agency, period=period, status="draft", times_submitted=0)
    return row


def _step(row: dict[str, Any], event: IntegrationEvent) -> None:
    kind = event.event_type
    row["position"] = event.position
    if kind is EventType.SUBMISSION_OPENED:
        opened = event.details(SubmissionOpened)
        row["opened_at"] = event.occurred_at
        row["template"] = opened.template
        row["template_version"] = opened.template_version
        return
    row["status"] = _STATUS[kind]
    row.update(step_at=event.occurred_at, step_actor=event.actor, step_role=event.role, step_reason=event.reason)
    if kind is EventType.REPORT_SUBMITTED:
        submitted = event.details(ReportSubmitted)
        late, days_late = submitted.late, submitted.days_late
        row["deadline"] = submitted.deadline
        row["times_submitted"] += 1
        if row["first_submitted_at"] is None:
            row.update(first_submitted_at=event.occurred_at, first_late=late, first_days_late=days_late)
        row.update(last_submitted_at=event.occurred_at, last_late=late, last_days_late=days_late)
    elif kind is EventType.REPORT_APPROVED:
        row["approved_at"] = event.occurred_at
    elif kind is EventType.REPORT_RETURNED:
        row.update(returned_at=event.occurred_at, return_reason=event.reason)
    elif kind is EventType.REPORT_RECALLED:
        row["recalled_at"] = event.occurred_at
    elif kind is EventType.REPORT_REOPENED:
        row["reopened_at"] = event.occurred_at


class ComplianceProjection:
    name = "compliance"

    def __init__(self, suffix: str = "") -> None:
        self.table = "rm_compliance" + suffix
        self.tables: tuple[str, ...] = (self.table,)
        self.indexed_reads: tuple[str, ...] = ()
        self.log_order = False
        self.key_local = True

    def apply(self, cur: psycopg.Cursor[TupleRow], events: Sequence[IntegrationEvent]) -> None:
        relevant = [e for e in events if e.event_type in LIFECYCLE_EVENTS and e.agency and e.period]
        if not relevant:
            return
        keys = sorted({(str(e.agency), str(e.period)) for e in relevant})
        found = cur.execute(
            f"SELECT {', '.join(COLUMNS)} FROM {self.table} t"
            " JOIN unnest(%s::text[], %s::text[]) AS k(a, p) ON t.agency = k.a AND t.period = k.p",
            ([k[0] for k in keys], [k[1] for k in keys]),
        ).fetchall()
        rows = {(r[0], r[1]): dict(zip(COLUMNS, r, strict=True)) for r in found}
        for event in relevant:
            key = (str(event.agency), str(event.period))
            _step(rows.setdefault(key, _new_row(*key)), event)
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS[2:])
        cur.executemany(
            f"INSERT INTO {self.table} ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"
            f" ON CONFLICT (agency, period) DO UPDATE SET {updates}",
            [tuple(row[c] for c in COLUMNS) for row in rows.values()],
        )
