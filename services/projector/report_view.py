"""The per-agency report view: agency, period, indicator -> current value, who, when."""

from __future__ import annotations

from collections.abc import Sequence

import orjson
import psycopg
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb

from infra.integration_events import IntegrationEvent


def _dumps(value: object) -> str:
    return orjson.dumps(value).decode()


VALUE_EVENTS = frozenset({"IndicatorValueSubmitted", "IndicatorValueCorrected"})


class ReportView:
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
            cur.executemany(
                f"INSERT INTO {self.values_table} AS t"
                " (agency, period, indicator, value, revision, actor, role, recorded_at, event_id, position)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (agency, period, indicator) DO UPDATE SET"
                " value = EXCLUDED.value, revision = t.revision + EXCLUDED.revision,"
                " actor = EXCLUDED.actor, role = EXCLUDED.role,"
                " recorded_at = EXCLUDED.recorded_at, event_id = EXCLUDED.event_id,"
                " position = EXCLUDED.position"
                " WHERE t.position < EXCLUDED.position",
                [
                    (
                        e.agency,
                        e.period,
                        e.indicator,
                        Jsonb(e.value, dumps=_dumps),
                        counts[key],
                        e.actor,
                        e.role,
                        e.occurred_at,
                        e.event_id,
                        e.position,
                    )
                    for key, e in latest.items()
                ],
            )
        if agency_positions:
            cur.executemany(
                f"INSERT INTO {self.positions_table} AS t (agency, position) VALUES (%s, %s)"
                " ON CONFLICT (agency) DO UPDATE SET position = EXCLUDED.position"
                " WHERE t.position < EXCLUDED.position",
                sorted(agency_positions.items()),
            )
