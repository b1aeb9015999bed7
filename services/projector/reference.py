"""Reference data read models: agencies, indicators, templates and report definitions.

Built from the registry, catalogue, template and report-definition events, so
that the read side knows names, regions, template versions and aggregation
types without ever reading the event store. Reference events are rare; they
are applied one statement each. Each table row comes from one aggregate, whose
events arrive in order, so the result does not depend on how partitions interleave.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import orjson
import psycopg
from psycopg.rows import TupleRow

from infra.integration_events import IntegrationEvent

Handler = Callable[[psycopg.Cursor[TupleRow], IntegrationEvent], None]


def _json(value: object) -> str:
    return orjson.dumps(value).decode()


class ReferenceData:
    name = "reference"

    def __init__(self, suffix: str = "") -> None:
        self.agencies = "rm_ref_agencies" + suffix
        self.indicators = "rm_ref_indicators" + suffix
        self.templates = "rm_ref_templates" + suffix
        self.versions = "rm_ref_template_versions" + suffix
        self.definitions = "rm_report_definitions" + suffix
        self.version = "rm_ref_version" + suffix
        self.tables: tuple[str, ...] = (
            self.agencies,
            self.indicators,
            self.templates,
            self.versions,
            self.definitions,
            self.version,
        )
        self.handlers: dict[str, Handler] = {
            "AgencyRegistered": self._agency_registered,
            "AgencyRenamed": self._agency_renamed,
            "AgencyTemplateAssigned": self._agency_template,
            "AgencyClosed": self._agency_closed,
            "IndicatorDefined": self._indicator_defined,
            "TemplateCreated": self._template_created,
            "TemplateVersionPublished": self._template_version,
            "ReportDefinitionCreated": self._definition,
            "ReportDefinitionRevised": self._definition,
        }

    def apply(self, cur: psycopg.Cursor[TupleRow], events: Sequence[IntegrationEvent]) -> None:
        applied = 0
        for event in events:
            handler = self.handlers.get(event.event_type)
            if handler is not None:
                handler(cur, event)
                applied += 1
        if applied:
            cur.execute(
                f"INSERT INTO {self.version} AS t (id, events) VALUES (1, %s)"
                " ON CONFLICT (id) DO UPDATE SET events = t.events + EXCLUDED.events",
                (applied,),
            )

    # ---- agencies ----------------------------------------------------------------

    def _agency_registered(self, cur: psycopg.Cursor[TupleRow], event: IntegrationEvent) -> None:
        data = event.data
        names = [{"effective_from": data["effective_from"], "name_vi": data["name_vi"], "name_en": data["name_en"]}]
        cur.execute(
            f"INSERT INTO {self.agencies} (agency, aggregate_id, name_vi, name_en, names, kind, region, parent,"
            " template, effective_from, position) VALUES (%s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (agency) DO NOTHING",
            (
                data["code"],
                event.aggregate_id,
                data["name_vi"],
                data["name_en"],
                _json(names),
                data["kind"],
                data.get("region"),
                data.get("parent"),
                data.get("template"),
                data["effective_from"],
                event.position,
            ),
        )

    def _agency_renamed(self, cur: psycopg.Cursor[TupleRow], event: IntegrationEvent) -> None:
        data = event.data
        name = {"effective_from": data["effective_from"], "name_vi": data["name_vi"], "name_en": data["name_en"]}
        cur.execute(
            f"UPDATE {self.agencies} SET name_vi = %s, name_en = %s, names = names || %s::jsonb, position = %s"
            " WHERE aggregate_id = %s",
            (data["name_vi"], data["name_en"], _json([name]), event.position, event.aggregate_id),
        )

    def _agency_template(self, cur: psycopg.Cursor[TupleRow], event: IntegrationEvent) -> None:
        cur.execute(
            f"UPDATE {self.agencies} SET template = %s, position = %s WHERE aggregate_id = %s",
            (event.data["template"], event.position, event.aggregate_id),
        )

    def _agency_closed(self, cur: psycopg.Cursor[TupleRow], event: IntegrationEvent) -> None:
        cur.execute(
            f"UPDATE {self.agencies} SET effective_to = %s, successor = %s, position = %s WHERE aggregate_id = %s",
            (event.data["effective_to"], event.data.get("successor"), event.position, event.aggregate_id),
        )

    # ---- catalogue and templates ---------------------------------------------

    def _indicator_defined(self, cur: psycopg.Cursor[TupleRow], event: IntegrationEvent) -> None:
        d = event.data["definition"]
        cur.execute(
            f"INSERT INTO {self.indicators} AS t (indicator, name_vi, name_en, indicator_group, unit, value_type,"
            " aggregation_time, aggregation_agencies, definition, position)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s)"
            " ON CONFLICT (indicator) DO UPDATE SET name_vi = EXCLUDED.name_vi, name_en = EXCLUDED.name_en,"
            " indicator_group = EXCLUDED.indicator_group, unit = EXCLUDED.unit, value_type = EXCLUDED.value_type,"
            " aggregation_time = EXCLUDED.aggregation_time, aggregation_agencies = EXCLUDED.aggregation_agencies,"
            " definition = EXCLUDED.definition, position = EXCLUDED.position",
            (
                d["code"],
                d["name_vi"],
                d["name_en"],
                d["group"],
                d["unit"],
                d["value_type"],
                d["aggregation_time"],
                d["aggregation_agencies"],
                _json(d),
                event.position,
            ),
        )

    def _template_created(self, cur: psycopg.Cursor[TupleRow], event: IntegrationEvent) -> None:
        data = event.data
        cur.execute(
            f"INSERT INTO {self.templates} (template, aggregate_id, name_vi, name_en, applies_to, base, position)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (template) DO NOTHING",
            (
                data["code"],
                event.aggregate_id,
                data["name_vi"],
                data["name_en"],
                data["applies_to"],
                data.get("base"),
                event.position,
            ),
        )

    def _template_version(self, cur: psycopg.Cursor[TupleRow], event: IntegrationEvent) -> None:
        data = event.data
        cur.execute(
            f"INSERT INTO {self.versions} (template, version, effective_from, indicators, position)"
            f" SELECT template, %s, %s, %s, %s FROM {self.templates} WHERE aggregate_id = %s"
            " ON CONFLICT (template, version) DO NOTHING",
            (data["version"], data["effective_from"], list(data["indicators"]), event.position, event.aggregate_id),
        )

    # ---- report definitions ----------------------------------------------------

    def _definition(self, cur: psycopg.Cursor[TupleRow], event: IntegrationEvent) -> None:
        data = event.data
        cur.execute(
            f"INSERT INTO {self.definitions} AS t (code, name_vi, name_en, period_kind, scope, indicators,"
            " revision, actor, role, defined_at, position) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (code) DO UPDATE SET name_vi = EXCLUDED.name_vi, name_en = EXCLUDED.name_en,"
            " period_kind = EXCLUDED.period_kind, scope = EXCLUDED.scope, indicators = EXCLUDED.indicators,"
            " revision = EXCLUDED.revision, actor = EXCLUDED.actor, role = EXCLUDED.role,"
            " defined_at = EXCLUDED.defined_at, position = EXCLUDED.position",
            (
                data["code"],
                data["name_vi"],
                data["name_en"],
                data["period_kind"],
                data["scope"],
                list(data["indicators"]),
                event.aggregate_version,
                event.actor or "",
                event.role or "",
                event.occurred_at,
                event.position,
            ),
        )
