"""The leaders' display board, computed: key-figure tiles, trends, rankings, from the roll-ups.

Every number is a roll-up figure (`RollupQueries`, `domain/rollups.py`), the same the reports
API's `/rollups` answers; this module only chooses which, and compares them: a tile's figure
against the previous period and the same period a year before, a trend over months, quarters or
years, with the year before beside it, and the ranking of regions and agencies.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from domain.catalogue import IndicatorGroup
from domain.periods import Period, PeriodKind
from domain.rollups import JsonValue
from domain.scope import Dimension, Scope
from services.http.read_side import ReadSide
from services.readmodels.reference.snapshot import IndicatorInfo, Reference
from services.readmodels.rollups.figures import AgencyFigureRow, FigureRow
from services.web.choices import same_period_last_year

DEFAULT_DEFINITION = "SECTOR-MONTHLY"  # the report whose indicators a board shows unless others are chosen
DEFAULT_TILES = 8
MAX_TILES = 12
TOP_AGENCIES = 10
AGENCIES_PER_PAGE = 100


class TrendKind(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"

    @property
    def period_kind(self) -> PeriodKind:
        return PeriodKind(self.value)

    @property
    def length(self) -> int:
        """How many periods a trend shows."""
        return {TrendKind.MONTH: 12, TrendKind.QUARTER: 8, TrendKind.YEAR: 5}[self]


def number(value: JsonValue) -> Decimal | None:
    """A figure (a JSON integer or decimal string) as a number; None for no figure."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


@dataclass(frozen=True)
class Change:
    """A figure against an earlier one: by how much, and by what share of the earlier (None from zero)."""

    amount: Decimal
    ratio: Decimal | None

    @property
    def direction(self) -> str:
        return "up" if self.amount > 0 else "down" if self.amount < 0 else "same"


def change(current: Decimal | None, earlier: Decimal | None) -> Change | None:
    if current is None or earlier is None:
        return None
    return Change(current - earlier, (current - earlier) / abs(earlier) if earlier else None)


@dataclass(frozen=True)
class Tile:
    indicator: IndicatorInfo
    period: Period
    value: Decimal | None
    previous: Decimal | None
    last_year: Decimal | None
    reported: int
    expected: int

    @property
    def against_previous(self) -> Change | None:
        return change(self.value, self.previous)

    @property
    def against_last_year(self) -> Change | None:
        return change(self.value, self.last_year)


@dataclass(frozen=True)
class TrendPoint:
    period: Period
    value: Decimal | None
    last_year: Decimal | None
    reported: int
    expected: int


@dataclass(frozen=True)
class Ranked:
    """A region or an agency in a ranking (1 = the largest figure); `code` is the region or agency code.
    `reported` of `expected`: a region's agencies; an agency's months of the period."""

    rank: int | None
    code: str
    name: str
    value: Decimal | None
    reported: int
    expected: int


@dataclass(frozen=True)
class BoardChoice:
    """What a board shows: tiles of `indicators`, the `focus` indicator's trend and rankings, for `period`,
    nationally or in one `region` (a drill-down)."""

    indicators: tuple[str, ...]
    focus: str
    period: Period
    trend: TrendKind = TrendKind.MONTH
    region: str | None = None
    all_agencies: bool = False  # every agency with a figure, a page at a time
    page: int = 1

    @property
    def scope(self) -> Scope:
        return Scope(Dimension.REGION, self.region) if self.region else Scope.NATIONAL


@dataclass(frozen=True)
class Display:
    choice: BoardChoice
    position: int
    tiles: list[Tile]
    trend: list[TrendPoint]
    regions: list[Ranked]  # empty within a region
    agencies: list[Ranked]  # the first ten, or one page of all
    agencies_ranked: int  # how many agencies have a figure
    agencies_expected: int  # how many had to report (or reported anyway)

    @property
    def agency_pages(self) -> int:
        return max(1, -(-self.agencies_ranked // AGENCIES_PER_PAGE))

    @property
    def focus(self) -> IndicatorInfo:
        return next(tile.indicator for tile in self.tiles if tile.indicator.code == self.choice.focus)


def numeric_indicators(ref: Reference) -> list[IndicatorInfo]:
    """The indicators a board can show: numeric ones, by group and code."""
    return sorted(
        (info for info in ref.indicators.values() if info.value_type.is_numeric), key=lambda i: (i.group, i.code)
    )


def by_group(indicators: Iterable[IndicatorInfo]) -> list[tuple[str, list[IndicatorInfo]]]:
    """Indicators grouped as the catalogue's groups come (postal first), each group in code order."""
    order = [group.value for group in IndicatorGroup]
    groups: dict[str, list[IndicatorInfo]] = {}
    for info in sorted(indicators, key=lambda i: i.code):
        groups.setdefault(info.group, []).append(info)
    return sorted(groups.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order))


def default_indicators(ref: Reference) -> tuple[str, ...]:
    """The indicators of the sector's monthly report, else the first numeric ones."""
    numeric = {info.code for info in numeric_indicators(ref)}
    definition = ref.definitions.get(DEFAULT_DEFINITION)
    if definition is not None:
        chosen = tuple(code for code in definition.indicators if code in numeric)
        if chosen:
            return chosen[:MAX_TILES]
    return tuple(info.code for info in numeric_indicators(ref)[:DEFAULT_TILES])


def trend_periods(period: Period, kind: TrendKind) -> list[Period]:
    """The periods of a trend ending with the one that holds `period`'s last month, oldest first."""
    last = period.months()[-1].containing(kind.period_kind)
    periods = [last]
    while len(periods) < kind.length:
        periods.append(periods[-1].previous())
    return periods[::-1]


def build(read: ReadSide, ref: Reference, choice: BoardChoice, position: int) -> Display:
    """The board for `choice` from the roll-ups as they are now (`position`: what they reflect)."""
    scope = choice.scope
    period = choice.period
    previous, last_year = period.previous(), same_period_last_year(period)
    trend = trend_periods(period, choice.trend)
    trend_last_year = [same_period_last_year(p) for p in trend]
    # One read for the tiles' periods, one for the trend (this year's and the year before's).
    figures = _by_key(read.rollups.figure_rows(ref, choice.indicators, [period, previous, last_year], [scope]))
    series = _by_key(read.rollups.figure_rows(ref, [choice.focus], trend + trend_last_year, [scope]))
    tiles = []
    for code in choice.indicators:
        now = figures.get((code, period.code))
        tiles.append(
            Tile(
                ref.indicators[code],
                period,
                _value(now),
                _value(figures.get((code, previous.code))),
                _value(figures.get((code, last_year.code))),
                now.agencies_reported if now else 0,
                now.agencies_expected if now else 0,
            )
        )
    points = []
    for p, before in zip(trend, trend_last_year, strict=True):
        row = series.get((choice.focus, p.code))
        points.append(
            TrendPoint(
                p,
                _value(row),
                _value(series.get((choice.focus, before.code))),
                row.agencies_reported if row else 0,
                row.agencies_expected if row else 0,
            )
        )
    regions: list[Ranked] = []
    if choice.region is None:
        scopes = ref.scopes(Scope(Dimension.REGION))
        rows = read.rollups.figure_rows(ref, [choice.focus], [period], scopes)
        regions = ranking(
            (r.scope.partition(":")[2], r.scope.partition(":")[2], _value(r), r.agencies_reported, r.agencies_expected)
            for r in rows
        )
    # Agencies largest first, read so from the read model (it sorts 10,000 figures faster than we would):
    # the first ten, or a page of every agency that has a figure.
    size = AGENCIES_PER_PAGE if choice.all_agencies else TOP_AGENCIES
    first = (choice.page - 1) * size if choice.all_agencies else 0
    top, with_figure = read.rollups.top_agencies(choice.focus, period, choice.region, size, first)
    names = {code: ref.agencies[code].name_in(period) if code in ref.agencies else code for code, _, _ in top}
    months = period.kind.length_in_months
    shown = ranking(((code, names[code], figure, reported, months) for code, figure, reported in top), first)
    expected = ref.expected(period, scope)[choice.focus]
    return Display(choice, position, tiles, points, regions, shown, with_figure, max(expected, with_figure))


def ranking(entries: Iterable[tuple[str, str, Decimal | None, int, int]], before: int = 0) -> list[Ranked]:
    """Largest figure first (equal figures share a rank), those without a figure last and unranked;
    `before`: how many rank above these (a later page)."""
    items = sorted(entries, key=lambda e: (e[2] is None, -(e[2] or 0), e[0]))
    result: list[Ranked] = []
    for n, (code, name, value, reported, expected) in enumerate(items):
        rank = None
        if value is not None:
            rank = result[-1].rank if result and result[-1].value == value else before + n + 1
        result.append(Ranked(rank, code, name, value, reported, expected))
    return result


def _by_key(rows: Sequence[FigureRow]) -> dict[tuple[str, str], FigureRow]:
    return {(row.indicator, row.period): row for row in rows}


def _value(row: FigureRow | AgencyFigureRow | None) -> Decimal | None:
    return None if row is None else number(row.value)
