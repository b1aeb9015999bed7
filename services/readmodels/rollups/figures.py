"""What a roll-up answers: a figure per indicator, period and scope, and an agency's own figures.

One definition for the live read (`queries.py`, from the projection's tables) and for time
travel (`asof.py`, folded from the log): both give each scope's statistics of the agencies'
figures and the reference data; the rows come from here, with `domain.rollups.agencies_figure`
and the expected counts of `Reference.expected`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal, localcontext
from typing import Any

from domain.periods import Period
from domain.rollups import EXACT, JsonValue, agencies_figure, number_to_json
from domain.scope import Scope
from services.readmodels.reference.snapshot import Reference

StatsKey = tuple[str, str, str]  # scope (its text), period, indicator
CellKey = tuple[str, str]  # agency, indicator


@dataclass(frozen=True)
class ScopeStatistics:
    """A scope's statistics of its agencies' figures for one indicator and period (a row of `rm_rollups`):
    how many agencies, how many numeric figures, their sum; min and max where they are kept."""

    agencies: int
    figures: int
    total: Decimal
    minimum: Decimal | None
    maximum: Decimal | None


class RunningStatistics:
    """`ScopeStatistics` accumulated one agency figure at a time (as the projection keeps them)."""

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

    def statistics(self) -> ScopeStatistics:
        return ScopeStatistics(self.agencies, self.figures, self.total, self.minimum, self.maximum)


@dataclass(frozen=True)
class FigureRow:
    """One roll-up figure: how many agencies it covers out of how many had to report."""

    indicator: str
    name_vi: str | None
    unit: str | None
    period: str
    scope: str
    value: int | str | None
    agencies_reported: int
    agencies_expected: int
    aggregation_time: str | None
    aggregation_agencies: str | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AgencyFigureRow:
    """An agency's own figure for an indicator and period (months as reported, longer periods over time)."""

    agency: str
    agency_name: str
    indicator: str
    name_vi: str | None
    unit: str | None
    period: str
    value: JsonValue
    months_reported: int
    months_in_period: int
    must_report: bool

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Figures:
    """A roll-up's answer: the scopes it covers (a selection expanded) and its rows."""

    scopes: list[Scope]
    rows: list[FigureRow]


def figure_rows(
    ref: Reference,
    stats: Mapping[StatsKey, ScopeStatistics],
    indicators: Sequence[str],
    periods: Sequence[Period],
    scopes: Sequence[Scope],
) -> list[FigureRow]:
    """The roll-up rows of every (indicator, period, scope) that had data or was expected."""
    result: list[FigureRow] = []
    texts = [str(scope) for scope in scopes]
    # Each (period, scope)'s expected counts once, not once per indicator.
    expected_in = {(p.code, str(scope)): ref.expected(p, scope) for p in periods for scope in scopes}
    for code in indicators:
        info = ref.indicators.get(code)
        for period in periods:
            for text in texts:
                expected = expected_in[(period.code, text)][code]
                found = stats.get((text, period.code, code))
                if found is None and expected == 0:
                    continue
                value = None
                if found is not None and info is not None:
                    value = agencies_figure(
                        info.aggregation_agencies, found.figures, found.total, found.minimum, found.maximum
                    )
                result.append(
                    FigureRow(
                        indicator=code,
                        name_vi=info.name_vi if info else None,
                        unit=info.unit if info else None,
                        period=period.code,
                        scope=text,
                        value=None if value is None else number_to_json(value),
                        agencies_reported=found.agencies if found is not None else 0,
                        agencies_expected=expected,
                        aggregation_time=str(info.aggregation_time) if info else None,
                        aggregation_agencies=str(info.aggregation_agencies) if info else None,
                    )
                )
    return result


def agency_figure_rows(
    ref: Reference,
    cells: Mapping[CellKey, tuple[int, JsonValue]],
    indicators: Sequence[str],
    period: Period,
    agency: str | None,
) -> list[AgencyFigureRow]:
    """Each agency's own rows for the period from its cells ((agency, indicator) -> (months, value)):
    every agency that had to report, or `agency` alone, and any agency that reported."""
    expected = {a.code: a for a in ref.expected_agencies(period)} if agency is None else {}
    agencies = dict(expected)
    for code in {a for a, _ in cells} | ({agency} if agency else set()):
        if code in ref.agencies:
            agencies[code] = ref.agencies[code]
    result: list[AgencyFigureRow] = []
    for code in sorted(agencies):
        info = agencies[code]
        # An expected agency is active and has a template: it must report what its form holds.
        form = ref.form(info.template, period) if code in expected and info.template else None
        for indicator in indicators:
            must = indicator in form if form is not None else ref.must_report(info, indicator, period)
            months, value = cells.get((code, indicator), (0, None))
            if not must and months == 0:
                continue
            indicator_info = ref.indicators.get(indicator)
            result.append(
                AgencyFigureRow(
                    agency=code,
                    agency_name=info.name_in(period),
                    indicator=indicator,
                    name_vi=indicator_info.name_vi if indicator_info else None,
                    unit=indicator_info.unit if indicator_info else None,
                    period=period.code,
                    value=value,
                    months_reported=months,
                    months_in_period=period.kind.length_in_months,
                    must_report=must,
                )
            )
    return result
