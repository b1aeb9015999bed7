"""Time travel for ministry roll-ups: the rows `/rollups` showed at a past position, folded from the log.

Pure (no I/O). What `/rollups` answers is a function of two projections of the log: the roll-up
statistics (services/projector/rollups.py, arithmetic specified by `domain.rollups`) and the
reference data the read side takes names, scopes and expected counts from
(services/projector/reference.py, loaded as a `services.reports.reference.Reference`). Both equal,
once applied up to a position, a function of the log prefix; so folding the same prefix with the
same rules gives what the live endpoint showed then:

- `reference_as_of`: agencies (the first registration of a code; renames, template assignments
  and closures of that agency), indicator definitions (the latest), templates (the first creation;
  the first publication of each version), report definitions (the latest);
- `figures_as_of`: the latest value of each agency, indicator and month; each agency's cell per
  period (`domain.rollups.month_cell` / `time_cell`); per scope the statistics the projection keeps
  (agencies, numeric figures, their sum, min, max); rows by the live endpoint's own `figure_rows`
  (which applies `domain.rollups.agencies_figure` and `Reference.expected`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date
from decimal import Decimal, localcontext
from typing import Any
from uuid import UUID

from domain.periods import Period, PeriodKind
from domain.rollups import EXACT, Cell, JsonValue, month_cell, months_of, time_cell
from domain.values import Aggregation, ValueType
from infra.integration_events import IntegrationEvent
from services.projector.reference import ReferenceData
from services.projector.rollups import VALUE_EVENTS, scopes_of
from services.reports.ministry_api import RollupStats, StatsKey, figure_rows
from services.reports.reference import AgencyInfo, DefinitionInfo, IndicatorInfo, Reference, TemplateInfo

# The events the reference read models are built from (the projection's own list).
REFERENCE_EVENTS = frozenset(ReferenceData().handlers)


def reference_as_of(events: Iterable[IntegrationEvent]) -> Reference:
    """The reference data after `events` (in position order), as the live read side loads it."""
    agencies: dict[str, AgencyInfo] = {}
    agency_of: dict[UUID, str] = {}
    indicators: dict[str, IndicatorInfo] = {}
    bases: dict[str, str | None] = {}
    template_of: dict[UUID, str] = {}
    versions: dict[str, dict[int, tuple[Period, frozenset[str]]]] = {}
    definitions: dict[str, DefinitionInfo] = {}
    applied = 0
    for event in events:
        if event.event_type not in REFERENCE_EVENTS:
            continue
        applied += 1
        data = event.data
        kind = event.event_type
        if kind == "AgencyRegistered":
            if data["code"] in agencies:
                continue  # the projection keeps the first registration of a code
            since = date.fromisoformat(data["effective_from"])
            agencies[data["code"]] = AgencyInfo(
                code=data["code"],
                name_vi=data["name_vi"],
                name_en=data["name_en"],
                names=((since, data["name_vi"], data["name_en"]),),
                kind=data["kind"],
                region=data.get("region"),
                template=data.get("template"),
                effective_from=since,
                effective_to=None,
                successor=None,
            )
            agency_of[event.aggregate_id] = data["code"]
        elif kind in ("AgencyRenamed", "AgencyTemplateAssigned", "AgencyClosed"):
            code = agency_of.get(event.aggregate_id)
            if code is None:
                continue  # the projection updates the registered row only
            info = agencies[code]
            if kind == "AgencyRenamed":
                name = (date.fromisoformat(data["effective_from"]), data["name_vi"], data["name_en"])
                info = replace(info, name_vi=name[1], name_en=name[2], names=(*info.names, name))
            elif kind == "AgencyTemplateAssigned":
                info = replace(info, template=data["template"])
            else:
                info = replace(
                    info, effective_to=date.fromisoformat(data["effective_to"]), successor=data.get("successor")
                )
            agencies[code] = info
        elif kind == "IndicatorDefined":
            d = data["definition"]
            indicators[d["code"]] = IndicatorInfo(
                d["code"],
                d["name_vi"],
                d["name_en"],
                d["unit"],
                d["group"],
                ValueType(d["value_type"]),
                Aggregation(d["aggregation_time"]),
                Aggregation(d["aggregation_agencies"]),
            )
        elif kind == "TemplateCreated":
            if data["code"] not in bases:
                bases[data["code"]] = data.get("base")
                template_of[event.aggregate_id] = data["code"]
        elif kind == "TemplateVersionPublished":
            template = template_of.get(event.aggregate_id)
            if template is not None:
                version = (Period.parse(data["effective_from"]), frozenset(data["indicators"]))
                versions.setdefault(template, {}).setdefault(int(data["version"]), version)
        else:  # ReportDefinitionCreated / Revised
            definitions[data["code"]] = DefinitionInfo(
                data["code"],
                data["name_vi"],
                data["name_en"],
                PeriodKind(data["period_kind"]),
                data["scope"],
                tuple(data["indicators"]),
                event.aggregate_version,
                event.actor or "",
                event.occurred_at,
                event.position,
            )
    templates = {
        code: TemplateInfo(code, base, tuple(v for _, v in sorted(versions.get(code, {}).items())))
        for code, base in bases.items()
    }
    return Reference(applied, agencies, indicators, templates, definitions)


class _Statistics:
    """One scope's running statistics of agencies' figures for an indicator and period (as `rm_rollups`)."""

    __slots__ = ("agencies", "figures", "maximum", "minimum", "total")

    def __init__(self) -> None:
        self.agencies = 0
        self.figures = 0
        self.total = Decimal(0)
        self.minimum: Decimal | None = None
        self.maximum: Decimal | None = None

    def add(self, figure: Decimal | None) -> None:
        self.agencies += 1
        if figure is None:
            return
        self.figures += 1
        with localcontext(EXACT):  # sums of reported numbers are never rounded (domain.rollups)
            self.total += figure
        self.minimum = figure if self.minimum is None else min(self.minimum, figure)
        self.maximum = figure if self.maximum is None else max(self.maximum, figure)

    def stats(self) -> RollupStats:
        return (self.agencies, self.figures, self.total, self.minimum, self.maximum)


def figures_as_of(
    ref: Reference,
    events: Iterable[IntegrationEvent],
    indicators: Sequence[str],
    periods: Sequence[Period],
    scopes: Sequence[str],
) -> list[dict[str, Any]]:
    """The `/rollups` rows after `events` (value events, in position order), `ref` being the reference
    data after the same prefix (`reference_as_of`)."""
    wanted = set(indicators)
    months = {month for period in periods for month in months_of(period.code)}
    latest: dict[tuple[str, str], dict[str, JsonValue]] = {}  # (agency, indicator) -> month -> value
    for event in events:
        if event.event_type not in VALUE_EVENTS or not event.agency or event.indicator not in wanted:
            continue
        if event.period in months:
            latest.setdefault((event.agency, event.indicator), {})[event.period] = event.value
    asked = set(scopes)
    statistics: dict[StatsKey, _Statistics] = {}
    for (agency, indicator), by_month in latest.items():
        info = ref.agencies.get(agency)
        if info is None:
            continue  # an agency not registered yet counts in no scope (as in the projection)
        definition = ref.indicators.get(indicator)
        value_type = definition.value_type if definition else None
        over_time = definition.aggregation_time if definition else None
        in_scopes = [scope for scope in scopes_of(info.kind, info.region) if scope in asked]
        for period in periods:
            values = [by_month[month] for month in months_of(period.code) if month in by_month]
            if not values:
                continue
            # A month is its own period (its figure is the value); longer ones combine over time.
            if period.kind is PeriodKind.MONTH:
                cell: Cell | None = month_cell(value_type, values[0])
            else:
                cell = time_cell(over_time, value_type, values)
            figure = cell.figure if cell is not None else None
            for scope in in_scopes:
                statistics.setdefault((scope, period.code, indicator), _Statistics()).add(figure)
    stats = {key: running.stats() for key, running in statistics.items()}
    return figure_rows(ref, stats, indicators, periods, scopes)
