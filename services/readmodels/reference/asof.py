"""The reference data as of a past position, folded from the log (pure, no I/O).

The reference read models, once applied up to a position, equal a function of the log prefix;
`reference_as_of` folds the same prefix with the projection's rules (`projection.py`) into the
snapshot the live read side loads (`snapshot.py`): agencies (the first registration of a code;
renames, template assignments and closures of that agency), indicator definitions (the latest),
templates (the first creation; the first publication of each version), report definitions (the
latest).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from uuid import UUID

from domain.periods import Period, PeriodKind
from infra import integration_events as contract
from infra.integration_events import EventType, IntegrationEvent
from services.readmodels.reference.projection import REFERENCE_EVENTS
from services.readmodels.reference.snapshot import AgencyInfo, DefinitionInfo, IndicatorInfo, Reference, TemplateInfo

AGENCY_CHANGES = frozenset({EventType.AGENCY_RENAMED, EventType.AGENCY_TEMPLATE_ASSIGNED, EventType.AGENCY_CLOSED})


class _Fold:
    """The reference data being folded, event by event."""

    def __init__(self) -> None:
        self.agencies: dict[str, AgencyInfo] = {}
        self.agency_of: dict[UUID, str] = {}
        self.indicators: dict[str, IndicatorInfo] = {}
        self.bases: dict[str, str | None] = {}
        self.template_of: dict[UUID, str] = {}
        self.versions: dict[str, dict[int, tuple[Period, frozenset[str]]]] = {}
        self.definitions: dict[str, DefinitionInfo] = {}

    def apply(self, event: IntegrationEvent) -> None:
        kind = event.event_type
        if kind is EventType.AGENCY_REGISTERED:
            self._registered(event)
        elif kind in AGENCY_CHANGES:
            self._agency_changed(event)
        elif kind is EventType.INDICATOR_DEFINED:
            indicator = event.details(contract.IndicatorDefined).indicator()
            self.indicators[indicator.code] = IndicatorInfo(
                indicator.code,
                indicator.name_vi,
                indicator.name_en,
                indicator.unit,
                str(indicator.group),
                indicator.value_type,
                indicator.aggregation_time,
                indicator.aggregation_agencies,
            )
        elif kind is EventType.TEMPLATE_CREATED:
            created = event.details(contract.TemplateCreated)
            if created.code not in self.bases:
                self.bases[created.code] = created.base
                self.template_of[event.aggregate_id] = created.code
        elif kind is EventType.TEMPLATE_VERSION_PUBLISHED:
            template = self.template_of.get(event.aggregate_id)
            if template is not None:
                published = event.details(contract.TemplateVersionPublished)
                version = (Period.parse(published.effective_from), frozenset(published.indicators))
                self.versions.setdefault(template, {}).setdefault(published.version, version)
        elif kind in (EventType.REPORT_DEFINITION_CREATED, EventType.REPORT_DEFINITION_REVISED):
            self._definition(event)
        # An electronic identifier code counts as a reference event but is not part of the snapshot.

    def _registered(self, event: IntegrationEvent) -> None:
        data = event.details(contract.AgencyRegistered)
        if data.code in self.agencies:
            return  # the projection keeps the first registration of a code
        self.agencies[data.code] = AgencyInfo(
            code=data.code,
            name_vi=data.name_vi,
            name_en=data.name_en,
            names=((data.effective_from, data.name_vi, data.name_en),),
            kind=data.kind,
            region=data.region,
            template=data.template,
            effective_from=data.effective_from,
            effective_to=None,
            successor=None,
        )
        self.agency_of[event.aggregate_id] = data.code

    def _agency_changed(self, event: IntegrationEvent) -> None:
        code = self.agency_of.get(event.aggregate_id)
        if code is None:
            return  # the projection updates the registered row only
        info = self.agencies[code]
        if event.event_type is EventType.AGENCY_RENAMED:
            renamed = event.details(contract.AgencyRenamed)
            name = (renamed.effective_from, renamed.name_vi, renamed.name_en)
            info = replace(info, name_vi=renamed.name_vi, name_en=renamed.name_en, names=(*info.names, name))
        elif event.event_type is EventType.AGENCY_TEMPLATE_ASSIGNED:
            info = replace(info, template=event.details(contract.AgencyTemplateAssigned).template)
        else:
            closed = event.details(contract.AgencyClosed)
            info = replace(info, effective_to=closed.effective_to, successor=closed.successor)
        self.agencies[code] = info

    def _definition(self, event: IntegrationEvent) -> None:
        created = event.event_type is EventType.REPORT_DEFINITION_CREATED
        model = contract.ReportDefinitionCreated if created else contract.ReportDefinitionRevised
        data = event.details(model)
        self.definitions[data.code] = DefinitionInfo(
            data.code,
            data.name_vi,
            data.name_en,
            PeriodKind(data.period_kind),
            data.scope,
            tuple(data.indicators),
            event.aggregate_version,
            event.actor or "",
            event.occurred_at,
            event.position,
        )

    def reference(self, version: int) -> Reference:
        templates = {
            code: TemplateInfo(code, base, tuple(v for _, v in sorted(self.versions.get(code, {}).items())))
            for code, base in self.bases.items()
        }
        return Reference(version, self.agencies, self.indicators, templates, self.definitions)


def reference_as_of(events: Iterable[IntegrationEvent]) -> Reference:
    """The reference data after `events` (in position order), as the live read side loads it."""
    fold = _Fold()
    applied = 0
    for event in events:
        if event.event_type in REFERENCE_EVENTS:
            applied += 1
            fold.apply(event)
    return fold.reference(applied)
