"""An agency's cells of one indicator and year, as the roll-ups keep them (pure, no I/O).

One row of `rm_rollup_years` holds them as a JSON object, period code -> entry:

- a month reported: `[1, figure, value]`, the value as reported;
- a quarter, half-year or year with a month reported: `[months, figure, value]`, combined over
  time by `domain.rollups.time_cell`; `value` is kept only where there is no figure (the last
  value of a non-numeric indicator aggregated by `last`), the figure being its own JSON otherwise.

`figure` is the number as plain decimal text (null where there is none): exact, whatever its size,
and castable to `numeric` by the reads and recounts in SQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from functools import lru_cache

from domain.periods import Period
from domain.rollups import (
    WHOLE_AGGREGATIONS,
    Cell,
    JsonValue,
    month_cell,
    months_of,
    number_to_json,
    periods_of_month,
    time_cell,
    to_number,
)
from domain.values import Aggregation, ValueType

Definition = tuple[ValueType, Aggregation, Aggregation]  # value type, over time, over agencies
Entry = list[JsonValue]  # [months, figure text | None, value]
Cells = dict[str, Entry]  # period code -> entry


@lru_cache(maxsize=8192)
def year_of(period: str) -> str:
    """The code of the year a period lies in (every period lies in one calendar year)."""
    return f"{Period.parse(period).year:04d}"


def is_month(period: str) -> bool:
    return len(period) == 7  # YYYY-MM; quarters, half-years and years are shorter


def _entry(cell: Cell, *, month: bool) -> Entry:
    if cell.figure is None:
        figure = None
    elif type(cell.value) is int:  # the figure's own JSON (or the month's integer): the same text, cheaper
        figure = str(cell.value)
    else:
        figure = format(cell.figure, "f")
    return [cell.months, figure, cell.value if month or cell.figure is None else None]


def figure_of(entry: Entry | None) -> Decimal | None:
    if entry is None or entry[1] is None:
        return None
    return Decimal(str(entry[1]))


def months_of_entry(entry: Entry) -> int:
    months = entry[0]
    assert isinstance(months, int)
    return months


def shown_value(period: str, entry: Entry) -> JsonValue:
    """What a reader sees of a cell: a month's value as reported, a longer period's figure or value."""
    figure = figure_of(entry)
    if is_month(period) or figure is None:
        return entry[2]
    return number_to_json(figure)


def updated_cells(cells: Mapping[str, Entry], definition: Definition | None, changes: Mapping[str, JsonValue]) -> Cells:
    """The entries that `changes` (month -> value, months of this year) give: the months themselves and
    the quarters, half-years and year they lie in, recomputed from every month reported in them."""
    value_type, over_time = (definition[0], definition[1]) if definition else (None, None)
    # Each month's value as reported: the longer periods are combined from them under the current
    # definition (a new definition recomputes every row of its indicator before its values apply).
    reported = {period: entry[2] for period, entry in cells.items() if len(period) == 7}  # is_month, inline
    reported.update(changes)
    numeric = value_type is not None and value_type.is_numeric
    whole = WHOLE_AGGREGATIONS.get(over_time) if numeric and over_time is not None else None
    if whole is not None and all(type(raw) is int for raw in reported.values()):
        # Integers (most values) summed, compared or taken last as ints: the entries `time_cell` and
        # `_entry` give, without building a cell for each.
        result: Cells = {month: [1, str(raw), raw] for month, raw in changes.items()}
        for period in _longer_periods(changes):
            values = [reported[m] for m in months_of(period) if m in reported]
            result[period] = [len(values), str(whole(values)), None]  # type: ignore[arg-type]  # ints, checked above
        return result
    result = {month: _entry(month_cell(value_type, raw), month=True) for month, raw in changes.items()}
    # Each month's number once, not once per period it lies in.
    numbers = {month: to_number(value_type, raw) for month, raw in reported.items()} if numeric else None
    for period in _longer_periods(changes):
        months = [m for m in months_of(period) if m in reported]
        values = [reported[m] for m in months]
        combined = time_cell(
            over_time, value_type, values, [numbers[m] for m in months] if numbers is not None else None
        )
        assert combined is not None  # a month of it has just been reported
        result[period] = _entry(combined, month=False)
    return result


def _longer_periods(months: Mapping[str, JsonValue]) -> Iterable[str]:
    """The quarters, half-years and years the months lie in, each once."""
    if len(months) == 1:
        return periods_of_month(next(iter(months)))[1:]
    return {period for month in months for period in periods_of_month(month)[1:]}


def recomputed_cells(cells: Mapping[str, Entry], definition: Definition | None) -> Cells:
    """Every entry again from the months reported (under a new or changed definition)."""
    return updated_cells({}, definition, {period: entry[2] for period, entry in cells.items() if is_month(period)})
