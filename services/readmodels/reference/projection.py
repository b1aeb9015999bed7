"""The reference read models' projection: agencies, indicators, templates and report definitions.

Reference events are rare; they are applied one statement each. Each table row comes from one
aggregate, whose events arrive in order, so the result does not depend on how partitions
interleave.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import orjson
import psycopg
from psycopg.rows import TupleRow

from infra.integration_events import (
    AgencyClosed,
    AgencyElectronicCodeAssigned,
    AgencyRegistered,
    AgencyRenamed,
    AgencyTemplateAssigned,
    EventType,
    IndicatorDefined,
    IntegrationEvent,
    ReportDefinitionCreated,
    ReportDefinitionRevised,
    TemplateCreated,
    TemplateVersionPublished,
)

Handler = Callable[[psycopg.Cursor[TupleRow], IntegrationEvent], None]


def _json(value: object) -> str:
    return orjson.dumps(value).decode()


class ReferenceProjection:
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
        self.indexed_reads: tuple[str, ...] = ()
        self.log_order = False
        self.key_local = True
        self.handlers: dict[EventType, Handler] = {
            EventType.AGENCY_REGISTERED: self._agency_registered,
            EventType.AGENCY_RENAMED: self._agency_renamed,
            EventType.AGENCY_TEMPLATE_ASSIGNED: self._agency_template,
            EventType.AGENCY_CLOSED: self._agency_closed,
            EventType.AGENCY_ELECTRONIC_CODE_ASSIGNED: self._agency_electronic_code,
            EventType.INDICATOR_DEFINED: self._indicator_defined,
            EventType.TEMPLATE_CREATED: self._template_created,
            EventType.TEMPLATE_VERSION_PUBLISHED: self._template_version,
            EventType.REPORT_DEFINITION_CREATED: self._definition,
            EventType.REPORT_DEFINITION_REVISED: self._definition,
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
        data = event.details(AgencyRegistered)
        since = data.effective_from.isoformat()
        names = [{"effective_from": since, "name_vi": data.name_vi, "name_en": data.name_en}]
        cur.execute(
            f"INSERT INTO {self.agencies} (agency, aggregate_id, name_vi, name_en, names, kind, region, parent,"
            " template, effective_from, position) VALUES (%s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (agency) DO NOTHING",
            (
                data.code,
                event.aggregate_id,
                data.name_vi,
                data.name_en,
                _json(names),
                data.kind,
                data.region,
                data.parent,
                data.template,
                data.effective_from,
                event.position,
            ),
        )

    def _agency_renamed(self, cur: psycopg.Cursor[TupleRow], event: IntegrationEvent) -> None:
        data = event.details(AgencyRenamed)
        name = {"effective_from": data.effective_from.isoformat(), "name_vi": data.name_vi, "name_en": data.name_en}
        cur.execute(
            f"UPDATE {self.agencies} SET name_vi = %s, name_en = %s, names = names || %s::jsonb, position = %s"
            " WHERE aggregate_id = %s",
            (data.name_vi, data.name_en, _json([name]), event.position, event.aggregate_id),
        )

    def _agency_template(self, cur: psycopg.Cursor[TupleRow], event: IntegrationEvent) -> None:
        cur.execute(
            f"UPDATE {self.agencies} SET template = %s, position = %s WHERE aggregate_id = %s",
            (event.details(AgencyTemplateAssigned).template, event.position, event.aggregate_id),
        )

    def _agency_closed(self, cur: psycopg.Cursor[TupleRow], event: IntegrationEvent) -> None:
        data = event.details(AgencyClosed)
        cur.execute(
            f"UPDATE {self.agencies} SET effective_to = %s, successor = %s, position = %s WHERE aggregate_id = %s",
            (data.effective_to, data.successor, event.position, event.aggregate_id),
        )

    def _agency_electronic_code(self, cur: psycopg.Cursor[TupleRow], event: IntegrationEvent) -> None:
        cur.execute(
            f"UPDATE {self.agencies} SET electronic_code = %s, position = %s WHERE aggregate_id = %s",
            (event.details(AgencyElectronicCodeAssigned).electronic_code, event.position, event.aggregate_id),
        )

    # ---- catalogue and templates ---------------------------------------------

    def _indicator_defined(self, cur: psycopg.Cursor[TupleRow], event: IntegrationEvent) -> None:
        data = event.details(IndicatorDefined)
        indicator = data.indicator()
        cur.execute(
            f"INSERT INTO {self.indicators} AS t (indicator, name_vi, name_en, indicator_group, unit, value_type,"
            " aggregation_time, aggregation_agencies, definition, position)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s)"
            " ON CONFLICT (indicator) DO UPDATE SET name_vi = EXCLUDED.name_vi, name_en = EXCLUDED.name_en,"
            " indicator_group = EXCLUDED.indicator_group, unit = EXCLUDED.unit, value_type = EXCLUDED.value_type,"
            " aggregation_time = EXCLUDED.aggregation_time, aggregation_agencies = EXCLUDED.aggregation_agencies,"
            " definition = EXCLUDED.definition, position = EXCLUDED.position",
            (
                indicator.code,
                indicator.name_vi,
                indicator.name_en,
                str(indicator.group),
                indicator.unit,
                str(indicator.value_type),
                str(indicator.aggregation_time),
                str(indicator.aggregation_agencies),
                _json(data.definition),  # as published
                event.position,
            ),
        )

    def _template_created(self, cur: psycopg.Cursor[TupleRow], event: IntegrationEvent) -> None:
        data = event.details(TemplateCreated)
        cur.execute(
            f"INSERT INTO {self.templates} (template, aggregate_id, name_vi, name_en, applies_to, base, position)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (template) DO NOTHING",
            (data.code, event.aggregate_id, data.name_vi, data.name_en, data.applies_to, data.base, event.position),
        )

    def _template_version(self, cur: psycopg.Cursor[TupleRow], event: IntegrationEvent) -> None:
        data = event.details(TemplateVersionPublished)
        cur.execute(
            f"INSERT INTO {self.versions} (template, version, effective_from, indicators, position)"
            f" SELECT template, %s, %s, %s, %s FROM {self.templates} WHERE aggregate_id = %s"
            " ON CONFLICT (template, version) DO NOTHING",
            (data.version, data.effective_from, list(data.indicators), event.position, event.aggregate_id),
        )

    # ---- report definitions ----------------------------------------------------

    def _definition(self, cur: psycopg.Cursor[TupleRow], event: IntegrationEvent) -> None:
        created = event.event_type is EventType.REPORT_DEFINITION_CREATED
        data = event.details(ReportDefinitionCreated) if created else event.details(ReportDefinitionRevised)
        cur.execute(
            f"INSERT INTO {self.definitions} AS t (code, name_vi, name_en, period_kind, scope, indicators,"
            " revision, actor, role, defined_at, position) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (code) DO UPDATE SET name_vi = EXCLUDED.name_vi, name_en = EXCLUDED.name_en,"
            " period_kind = EXCLUDED.period_kind, scope = EXCLUDED.scope, indicators = EXCLUDED.indicators,"
            " revision = EXCLUDED.revision, actor = EXCLUDED.actor, role = EXCLUDED.role,"
            " defined_at = EXCLUDED.defined_at, position = EXCLUDED.position",
            (
                data.code,
                data.name_vi,
                data.name_en,
                data.period_kind,
                data.scope,
                list(data.indicators),
                event.aggregate_version,
                event.actor or "",
                event.role or "",
                event.occurred_at,
                event.position,
            ),
        )


# The events the reference read models are built from.
REFERENCE_EVENTS = frozenset(ReferenceProjection().handlers)
