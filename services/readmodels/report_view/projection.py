"""The per-agency report view's projection: the latest value of each indicator, and each agency's position."""

from __future__ import annotations

from collections.abc import Sequence

import orjson
import psycopg
from psycopg.rows import TupleRow

from infra.integration_events import VALUE_EVENTS, IntegrationEvent


def _dumps(value: object) -> str:
    return orjson.dumps(value).decode()


class ReportViewProjection:
    name = "report_view"

    def __init__(self, suffix: str = "") -> None:
        self.values_table = "rm_report_values" + suffix
        self.positions_table = "rm_agency_positions" + suffix
        self.tables: tuple[str, ...] = (self.values_table, self.positions_table)

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
            rows = list(latest.items())
            # One statement for the whole batch (arrays), not one round trip per row.
            cur.execute(
                f"INSERT INTO {self.values_table} AS t"
                " (agency, period, indicator, value, revision, actor, role, recorded_at, event_id, position)"
                " SELECT a, p, i, v::jsonb, r, ac, ro, at, e, pos FROM unnest("
                " %s::text[], %s::text[], %s::text[], %s::text[], %s::int[], %s::text[], %s::text[],"
                " %s::timestamptz[], %s::uuid[], %s::bigint[]) AS u(a, p, i, v, r, ac, ro, at, e, pos)"
                " ON CONFLICT (agency, period, indicator) DO UPDATE SET"
                " value = EXCLUDED.value, revision = t.revision + EXCLUDED.revision,"
                " actor = EXCLUDED.actor, role = EXCLUDED.role,"
                " recorded_at = EXCLUDED.recorded_at, event_id = EXCLUDED.event_id,"
                " position = EXCLUDED.position"
                " WHERE t.position < EXCLUDED.position",
                (
                    [e.agency for _, e in rows],
                    [e.period for _, e in rows],
                    [e.indicator for _, e in rows],
                    [_dumps(e.value) for _, e in rows],
                    [counts[key] for key, _ in rows],
                    [e.actor for _, e in rows],
                    [e.role for _, e in rows],
                    [e.occurred_at for _, e in rows],
                    [e.event_id for _, e in rows],
                    [e.position for _, e in rows],
                ),
                binary=True,  # psycopg's text form of arrays (timestamps most) costs more than the rest of the batch
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
