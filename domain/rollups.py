"""Roll-up arithmetic: how monthly values combine over time and over agencies (pure, no I/O).

A roll-up figure of an indicator for a period and a group of agencies is computed
in two steps, each by the indicator's own aggregation types (the catalogue's
`aggregation_time` and `aggregation_agencies`):

1. **over time, per agency**: the agency's monthly values inside the period
   (a month, or the months of a quarter, half-year or year, whose cut-off
   windows are those of `domain.periods`) give the agency's figure for the
   period: `sum` (a flow), `last` (a stock: the latest month reported),
   `average` (a ratio), `min`, `max`, or `none` (no figure beyond a month);
2. **over agencies**: the agency figures give the group's figure: `sum`,
   `average` (unweighted mean of the agencies' figures), `min`, `max`, or
   `none`.

So a stock's national quarterly figure is the sum, over agencies, of each
agency's latest monthly value in the quarter, even when agencies last reported
in different months. Averages are rounded half-up to `AVERAGE_PLACES` decimal
places; everything else is exact. Numbers are `Decimal`s in one normal form
(`normalize_decimal`), so that a figure reached by increments and the same
figure recomputed from scratch are the same number with the same digits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from functools import lru_cache
from typing import NamedTuple

from domain.periods import Period, PeriodKind
from domain.values import Aggregation, ValueType, normalize_decimal

AVERAGE_PLACES = 6
_QUANTUM = Decimal(1).scaleb(-AVERAGE_PLACES)
# Enough digits that sums and differences of reported numbers are never rounded.
EXACT = Context(prec=100, rounding=ROUND_HALF_UP)

JsonValue = int | str | bool | None
DERIVED_KINDS = (PeriodKind.QUARTER, PeriodKind.HALF_YEAR, PeriodKind.YEAR)


class Cell(NamedTuple):  # immutable, and built for every cell a value changes: cheaper than a frozen dataclass
    """An agency's figure for one indicator and period.

    `months`: how many months of the period the agency reported; `figure`: the
    numeric figure (None for non-numeric indicators, for `none`, or while the
    indicator's definition is unknown); `value`: its JSON form, or for a
    non-numeric indicator the value itself (the last one, for `last`).
    """

    months: int
    figure: Decimal | None
    value: JsonValue


def to_number(value_type: ValueType | None, raw: JsonValue) -> Decimal | None:
    """A reported value as a number, for numeric indicators; None otherwise."""
    if value_type is None or not value_type.is_numeric or raw is None or isinstance(raw, bool):
        return None
    if type(raw) is int:  # a 64-bit integer (domain.values): already in the normal form
        return Decimal(raw)
    return normalize_decimal(Decimal(str(raw)))


def number_to_json(number: Decimal) -> int | str:
    """Integers as JSON integers, other numbers as plain decimal strings (like the integration events)."""
    normal = normalize_decimal(number)
    if normal == normal.to_integral_value():
        return int(normal)
    return format(normal, "f")


def average(total: Decimal, count: int) -> Decimal:
    with localcontext(EXACT):
        return normalize_decimal((total / count).quantize(_QUANTUM, rounding=ROUND_HALF_UP))


def month_cell(value_type: ValueType | None, raw: JsonValue) -> Cell:
    """A month is its own period: the figure is the value."""
    return Cell(1, to_number(value_type, raw), raw)


def _last(values: Sequence[int]) -> int:
    return values[-1]


WHOLE_AGGREGATIONS: dict[Aggregation, Callable[[Sequence[int]], int]] = {
    Aggregation.SUM: sum,
    Aggregation.LAST: _last,
    Aggregation.MIN: min,
    Aggregation.MAX: max,
}


def time_cell(
    aggregation: Aggregation | None,
    value_type: ValueType | None,
    values: Sequence[JsonValue],
    numbers: Sequence[Decimal | None] | None = None,
) -> Cell | None:
    """The agency's figure for a period from its monthly values (in month order); None when it reported none.

    `numbers`: the values' `to_number`, where the caller has them already (each month counts in three
    longer periods)."""
    if not values:
        return None
    months = len(values)
    if aggregation is None or value_type is None or aggregation is Aggregation.NONE:
        return Cell(months, None, None)
    if not value_type.is_numeric:
        # Booleans and text have no arithmetic; `last` keeps the latest value.
        return Cell(months, None, values[-1] if aggregation is Aggregation.LAST else None)
    if aggregation in WHOLE_AGGREGATIONS:
        whole_values = [raw for raw in values if type(raw) is int]
        if len(whole_values) == months:
            # Integers (most values) add and compare exactly as ints: the same figure, in its normal form.
            whole = WHOLE_AGGREGATIONS[aggregation](whole_values)
            return Cell(months, Decimal(whole), whole)
    if numbers is None:
        numbers = [to_number(value_type, raw) for raw in values]
    present = [n for n in numbers if n is not None]
    if not present:
        return Cell(months, None, None)
    figure: Decimal
    # The numbers are in the normal form: a figure that is one of them needs no normalizing again.
    if aggregation is Aggregation.LAST:
        figure = present[-1]
    elif aggregation is Aggregation.MIN:
        figure = min(present)
    elif aggregation is Aggregation.MAX:
        figure = max(present)
    elif aggregation is Aggregation.SUM and len(present) == 1:
        figure = present[0]
    else:
        with localcontext(EXACT):
            total = sum(present, Decimal(0))
        figure = normalize_decimal(total) if aggregation is Aggregation.SUM else average(total, len(present))
    return Cell(months, figure, number_to_json(figure))


def agencies_figure(
    aggregation: Aggregation | None,
    figures: int,
    total: Decimal,
    minimum: Decimal | None,
    maximum: Decimal | None,
) -> Decimal | None:
    """A group's figure from the running statistics of its agencies' figures."""
    if aggregation is None or figures == 0:
        return None
    if aggregation is Aggregation.SUM:
        return normalize_decimal(total)
    if aggregation is Aggregation.AVERAGE:
        return average(total, figures)
    if aggregation is Aggregation.MIN:
        return minimum
    if aggregation is Aggregation.MAX:
        return maximum
    # `last` across agencies has no order to follow; `none` is no figure.
    return None


def containing_periods(month: Period) -> tuple[Period, ...]:
    """The quarter, half-year and year a month belongs to."""
    return tuple(month.containing(kind) for kind in DERIVED_KINDS)


@lru_cache(maxsize=8192)
def periods_of_month(month: str) -> tuple[str, ...]:
    """Codes of the month itself and of the quarter, half-year and year it belongs to."""
    return (month, *(p.code for p in containing_periods(Period.parse(month))))


@lru_cache(maxsize=8192)
def months_of(period: str) -> tuple[str, ...]:
    """Codes of the months a period is made of, in order."""
    return tuple(m.code for m in Period.parse(period).months())
