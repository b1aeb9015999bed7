"""The per-agency report view's projection: the latest value of each indicator, and each agency's position."""

from __future__ import annotations

from collections.abc import Sequence

import orjson
import psycopg
from psycopg.rows import TupleRow

from infra.integration_events import VALUE_EVENTS, IntegrationEvent
from infra.pg_copy import Column, stage_rows

STAGED: tuple[Column, ...] = (
    ("agency", "text"),
    ("period", "text"),
    ("indicator", "text"),
    ("value", "text"),  # JSON, cast when written
    ("revision", "integer"),  # value events of the indicator in this batch
    ("actor", "text"),
    ("role", "text"),
    ("recorded_at", "timestamptz"),
    ("event_id", "uuid"),
    ("position", "bigint"),
)


def _dumps(value: object) -> str:
    return orjson.dumps(value).decode()


class ReportViewProjection:
    name = "report_view"

    def __init__(self, suffix: str = "") -> None:
        self.values_table = "rm_report_values" + suffix
        self.positions_table = "rm_agency_positions" + suffix
        self.tables: tuple[str, ...] = (self.values_table, self.positions_table)
        self.indexed_reads: tuple[str, ...] = ()
        self.log_order = False
        self.key_local = True

    def apply(self, cur: psycopg.Cursor[TupleRow], events: Sequence[IntegrationEvent]) -> None:
        latest: dict[tuple[str, str, str], IntegrationEvent] = {}
        counts: dict[tuple[str, str, str], int] = {}
        agency_positions: dict[str, int] = {}
        for event in events:
            if event.agency is not None:
                agency_positions[event.agency] = event.position
            if event.event_type in VALUE_EVENTS and event.agency and event.period and event.indicator:
                # Within a batch only the last value of an indicator matters.
                key = (event.agency, event.period, event.indicator)
                latest[key] = event
                counts[key] = counts.get(key, 0) + 1
        if latest:
            stage_rows(
                cur,
                "report_view_batch",
                STAGED,
                (
                    (
                        e.agency,
                        e.period,
                        e.indicator,
                        _dumps(e.value),
                        counts[key],
                        e.actor,
                        e.role,
                        e.occurred_at,
                        e.event_id,
                        e.position,
                    )
                    for key, e in latest.items()
                ),
            )
            cur.execute(
                f"INSERT INTO {self.values_table} AS t"
                " (agency, period, indicator, value, revision, actor, role, recorded_at, event_id, position)"
                " SELECT agency, period, indicator, value::jsonb, revision, actor, role, recorded_at, event_id,"
                " position FROM report_view_batch"
                " ON CONFLICT (agency, period, indicator) DO UPDATE SET"
                " value = EXCLUDED.value, revision = t.revision + EXCLUDED.revision,"
                " actor = EXCLUDED.actor, role = EXCLUDED.role,"
                " recorded_at = EXCLUDED.recorded_at, event_id = EXCLUDED.event_id,"
                " position = EXCLUDED.position"
                " WHERE t.position < EXCLUDED.position"
            )
        if agency_positions:
            cur.execute(
                f"INSERT INTO {self.positions_table} AS t (agency, position)"
                " SELECT * FROM unnest(%s::text[], %s::bigint[])"
                " ON CONFLICT (agency) DO UPDATE SET position = EXCLUDED.position"
                " WHERE t.position < EXCLUDED.position",
                (list(agency_positions), list(agency_positions.values())),
                binary=True,
            )
