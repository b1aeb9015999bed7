"""Time travel for roll-ups: the rows `/rollups` showed at a past position, folded from the log.

What the live roll-ups answer is a function of two projections of the log: the roll-up
statistics (`projection.py`, arithmetic specified by `domain.rollups`) and the reference data
(`services.readmodels.reference`). Both equal, once applied up to a position, a function of the
log prefix; so folding the same prefix with the same rules gives what the live read showed then:

- the reference data: `services.readmodels.reference.asof.reference_as_of`;
- `figures_as_of`: the latest value of each agency, indicator and month; each agency's cell per
  period (`domain.rollups.month_cell` / `time_cell`); per scope the statistics the projection keeps
  (agencies, numeric figures, their sum, min, max); the rows by the live read's own `figure_rows`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from domain.periods import Period, PeriodKind
from domain.rollups import Cell, JsonValue, month_cell, months_of, time_cell
from domain.scope import Scope, scopes_of
from infra.integration_events import VALUE_EVENTS, IntegrationEvent
from services.readmodels.audit_trail.queries import AsOf, AuditTrailQueries
from services.readmodels.reference.asof import reference_as_of
from services.readmodels.reference.projection import REFERENCE_EVENTS
from services.readmodels.reference.snapshot import Reference
from services.readmodels.rollups.figures import FigureRow, Figures, RunningStatistics, StatsKey, figure_rows


def figures_as_of(
    ref: Reference,
    events: Iterable[IntegrationEvent],
    indicators: Sequence[str],
    periods: Sequence[Period],
    scopes: Sequence[Scope],
) -> list[FigureRow]:
    """The roll-up rows after `events` (value events, in position order), `ref` being the reference
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
    statistics: dict[StatsKey, RunningStatistics] = {}
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
                statistics.setdefault((str(scope), period.code, indicator), RunningStatistics()).add(figure)
    stats = {key: running.statistics() for key, running in statistics.items()}
    return figure_rows(ref, stats, indicators, periods, scopes)


class RollupsHistory:
    """The roll-ups as of a past moment, folded from the audit trail's prefix of the log."""

    def __init__(self, trail: AuditTrailQueries) -> None:
        self.trail = trail

    def figures(
        self, when: AsOf, indicators: Sequence[str] | None, periods: Sequence[Period], scope: Scope
    ) -> tuple[int, Figures]:
        """(the last position of the prefix `when` names, the roll-up as it was then, as the live one asks).

        The indicators and scopes are resolved against the reference data of then: an indicator
        defined later is unknown, as it was.
        """
        target = self.trail.log_prefix(when)
        ref = reference_as_of(self.trail.events(target, REFERENCE_EVENTS))
        codes = ref.indicators_named(indicators)
        scopes = ref.scopes(scope)
        months = sorted({m for p in periods for m in months_of(p.code)})
        values = self.trail.events(target, VALUE_EVENTS, indicators=codes, periods=months)
        return target, Figures(scopes, figures_as_of(ref, values, codes, periods, scopes))
