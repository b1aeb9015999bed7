"""An agency's year row of roll-up cells (`services.readmodels.rollups.cells`) against `domain.rollups`.

`updated_cells` takes a shortcut for integers; whatever the values, its entries must be the ones
the documented format gives from `month_cell` and `time_cell` over every month reported.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.rollups import JsonValue, month_cell, months_of, periods_of_month, time_cell
from domain.values import Aggregation, ValueType
from services.readmodels.rollups.cells import Cells, Definition, Entry, recomputed_cells, updated_cells

MONTHS = [f"2025-{m:02d}" for m in range(1, 13)]
_INTEGERS = st.integers(min_value=-(2**63), max_value=2**63 - 1)
_DECIMALS = st.decimals(min_value=-(10**9), max_value=10**9, places=3, allow_nan=False).map(lambda d: format(d, "f"))
VALUES: dict[ValueType, st.SearchStrategy[JsonValue]] = {
    ValueType.INTEGER: st.one_of(_INTEGERS, st.none()),
    ValueType.DECIMAL: st.one_of(_INTEGERS, _DECIMALS, st.none()),
    ValueType.PERCENTAGE: st.one_of(st.integers(0, 100), _DECIMALS, st.none()),
    ValueType.BOOLEAN: st.one_of(st.booleans(), st.none()),
    ValueType.TEXT: st.one_of(st.text(max_size=5), st.none()),
}


def _text(figure: Decimal | None) -> str | None:
    return None if figure is None else format(figure, "f")


def expected(definition: Definition, reported: dict[str, JsonValue], changed: list[str]) -> Cells:
    """The entries of `changed` months and their longer periods, as the module's docstring specifies them."""
    value_type, over_time, _ = definition
    result: Cells = {}
    for month in changed:
        cell = month_cell(value_type, reported[month])
        result[month] = [1, _text(cell.figure), reported[month]]
    for period in {p for month in changed for p in periods_of_month(month)[1:]}:
        combined = time_cell(over_time, value_type, [reported[m] for m in months_of(period) if m in reported])
        assert combined is not None
        entry: Entry = [combined.months, _text(combined.figure), combined.value if combined.figure is None else None]
        result[period] = entry
    return result


Case = tuple[Definition, dict[str, JsonValue], dict[str, JsonValue]]  # definition, months before, changes


@st.composite
def cases(draw: st.DrawFn) -> Case:
    value_type = draw(st.sampled_from(list(ValueType)))
    definition = (value_type, draw(st.sampled_from(list(Aggregation))), Aggregation.SUM)
    months = st.lists(st.sampled_from(MONTHS), unique=True, max_size=12)
    before = {m: draw(VALUES[value_type]) for m in draw(months)}
    changes = {m: draw(VALUES[value_type]) for m in draw(months.filter(bool))}
    return definition, before, changes


@settings(max_examples=400, deadline=None)
@given(cases())
def test_updated_cells_are_the_documented_entries(case: Case) -> None:
    definition, before, changes = case
    stored = updated_cells({}, definition, before) if before else {}
    assert updated_cells(stored, definition, changes) == expected(definition, {**before, **changes}, list(changes))


@settings(max_examples=200, deadline=None)
@given(cases())
def test_recomputed_cells_hold_every_period_of_the_months_reported(case: Case) -> None:
    definition, before, changes = case
    reported = {**before, **changes}
    cells = updated_cells({}, definition, reported)
    assert recomputed_cells(cells, definition) == expected(definition, reported, list(reported))
    # A year row whose months are all integers takes the shortcut: its figures are the ints' text.
    ints = [v for v in reported.values() if isinstance(v, int) and not isinstance(v, bool)]
    if definition[0] is ValueType.INTEGER and definition[1] is Aggregation.SUM and len(ints) == len(reported):
        assert cells["2025"] == [len(ints), str(sum(ints)), None]
