"""The roll-up projection (SQL) against its specification (`domain.rollups`, Python), in any delivery order.

Random event streams of values and corrections for every aggregation type are
applied to the projection twice: in position order in small batches, and the
way a rebuild from Kafka may deliver them (reference events last, agencies'
streams interleaved differently, other batch sizes). Both runs must give the
same tables, row for row, and every cell and statistic must equal what the
Python reference computes from the final values.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from psycopg import sql

from domain.catalogue import Indicator, IndicatorGroup
from domain.periods import Period
from domain.rollups import JsonValue, months_of, periods_of_month, time_cell, to_number
from domain.values import Aggregation, ValueType
from infra.db import connect, open_pool
from infra.integration_events import AgencyRegistered, EventType, IntegrationEvent
from infra.settings import Settings
from services.readmodels.reference.queries import ReferenceQueries
from services.readmodels.rollups.cells import year_of
from services.readmodels.rollups.projection import RollupsProjection as Rollups
from services.readmodels.rollups.queries import RollupQueries

# code, value type, over time, over agencies
INDICATORS = [
    ("S.STOCK", ValueType.INTEGER, Aggregation.LAST, Aggregation.SUM),
    ("S.FLOW", ValueType.DECIMAL, Aggregation.SUM, Aggregation.SUM),
    ("S.RATIO", ValueType.PERCENTAGE, Aggregation.AVERAGE, Aggregation.AVERAGE),
    ("S.LOW", ValueType.INTEGER, Aggregation.MIN, Aggregation.MIN),
    ("S.HIGH", ValueType.DECIMAL, Aggregation.MAX, Aggregation.MAX),
    ("S.FLAG", ValueType.BOOLEAN, Aggregation.LAST, Aggregation.NONE),
    ("S.NOTE", ValueType.TEXT, Aggregation.NONE, Aggregation.NONE),
]
AGENCIES = [("A1", "provincial_department", "north"), ("A2", "provincial_department", "south"),
            ("A3", "ministry_unit", None), ("A4", "provincial_department", "north")]  # fmt: skip
MONTHS = ["2024-11", "2024-12", "2025-01", "2025-02", "2025-03", "2025-04", "2025-07"]


def _event(position: int, event_type: EventType, **fields: Any) -> IntegrationEvent:
    return IntegrationEvent(
        event_id=uuid.uuid4(),
        position=position,
        event_type=event_type,
        aggregate="test",
        aggregate_id=uuid.uuid4(),
        aggregate_version=1,
        occurred_at=datetime(2025, 1, 1, tzinfo=UTC),
        **fields,
    )


def _value(rng: random.Random, value_type: ValueType) -> JsonValue:
    if value_type is ValueType.INTEGER:
        return rng.choice([0, 5, 5, 12, 40, 1000, rng.randint(0, 100)])
    if value_type is ValueType.DECIMAL:
        return rng.choice(["0", "1.5", "2.25", "10", "0.75", "3.333"])
    if value_type is ValueType.PERCENTAGE:
        return rng.choice(["50", "33.3", "66.7", "100", "12.5"])
    if value_type is ValueType.BOOLEAN:
        return rng.random() < 0.5
    return rng.choice(["Ghi chú", "Số liệu ước tính", "-"])


def stream(seed: int) -> tuple[list[IntegrationEvent], list[IntegrationEvent]]:
    """Reference events and value events (with corrections), positions in store order."""
    rng = random.Random(seed)
    reference: list[IntegrationEvent] = []
    position = 0
    for code, value_type, over_time, over_agencies in INDICATORS:
        position += 1
        definition = Indicator(code, code, code, IndicatorGroup.TELECOM_INTERNET, "", value_type, over_time,
                               over_agencies).to_dict()  # fmt: skip
        reference.append(_event(position, EventType.INDICATOR_DEFINED, data={"definition": definition}))
    for code, kind, region in AGENCIES:
        position += 1
        registered = AgencyRegistered(code=code, name_vi=code, name_en=code, kind=kind, parent=None, region=region,
                                      template=None, effective_from=date(2008, 1, 1))  # fmt: skip
        reference.append(
            _event(position, EventType.AGENCY_REGISTERED, agency=code, data=registered.model_dump(mode="json"))
        )
    values: list[IntegrationEvent] = []
    for _ in range(260):
        position += rng.choice([1, 1, 2])  # positions have gaps
        agency = rng.choice(AGENCIES)[0]
        code, value_type, *_ = rng.choice(INDICATORS)
        month = rng.choice(MONTHS)
        kind = rng.choice([EventType.VALUE_SUBMITTED, EventType.VALUE_CORRECTED])
        values.append(_event(position, kind, agency=agency, period=month, indicator=code,
                             value=_value(rng, value_type)))  # fmt: skip
    return reference, values


def _apply(settings: Settings, suffix: str, batches: list[list[IntegrationEvent]]) -> None:
    projection = Rollups(suffix)
    with connect(settings) as conn:
        for base, table in zip(Rollups().tables, projection.tables, strict=True):
            if suffix:
                conn.execute(
                    sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING ALL)").format(
                        sql.Identifier(table), sql.Identifier(base)
                    )
                )
        for batch in batches:
            with conn.transaction(), conn.cursor() as cur:
                projection.apply(cur, sorted(batch, key=lambda e: e.position))


def _rows(settings: Settings, table: str) -> list[tuple[Any, ...]]:
    with connect(settings) as conn:
        columns = len(conn.execute(sql.SQL("SELECT * FROM {} LIMIT 0").format(sql.Identifier(table))).description or [])
        order = sql.SQL(", ".join(str(n) for n in range(1, columns + 1)))
        query = sql.SQL("SELECT * FROM {} ORDER BY {}").format(sql.Identifier(table), order)
        return [tuple(row) for row in conn.execute(query)]


def _cells(settings: Settings) -> dict[tuple[str, str, str], tuple[int, Decimal | None]]:
    """(agency, indicator, period) -> (months, figure) of every cell of the year rows."""
    cells = {}
    for agency, indicator, year, entries in _rows(settings, "rm_rollup_years"):
        for period, (months, figure, _) in entries.items():
            assert year_of(period) == year
            cells[(agency, indicator, period)] = (months, None if figure is None else Decimal(figure))
    return cells


def _chunks(events: list[IntegrationEvent], size: int) -> list[list[IntegrationEvent]]:
    return [events[n : n + size] for n in range(0, len(events), size)]


def reference_model(values: list[IntegrationEvent]) -> tuple[dict[Any, Any], dict[Any, Any]]:
    """Cells and statistics computed by domain.rollups from the final month values."""
    latest: dict[tuple[str, str, str], JsonValue] = {}
    for event in sorted(values, key=lambda e: e.position):
        assert event.agency
        assert event.indicator
        assert event.period
        latest[(event.agency, event.indicator, event.period)] = event.value
    definitions = {
        code: (value_type, over_time, over_agencies) for code, value_type, over_time, over_agencies in INDICATORS
    }
    cells: dict[tuple[str, str, str], tuple[int, Decimal | None]] = {}
    periods: dict[tuple[str, str], set[str]] = defaultdict(set)
    for agency, indicator, month in latest:
        periods[(agency, indicator)].update(periods_of_month(month))
    for (agency, indicator), codes in periods.items():
        value_type, over_time, _ = definitions[indicator]
        for code in codes:
            present = [m for m in months_of(code) if (agency, indicator, m) in latest]
            series = [latest[(agency, indicator, m)] for m in present]
            if len(code) == 7:
                cells[(agency, indicator, code)] = (1, to_number(value_type, series[0]))
            else:
                cell = time_cell(over_time, value_type, series)
                assert cell is not None
                cells[(agency, indicator, code)] = (cell.months, cell.figure)
    statistics: dict[tuple[str, str, str], list[Any]] = {}
    scopes = {
        code: ["national", f"kind:{kind}", *([f"region:{region}"] if region else [])] for code, kind, region in AGENCIES
    }
    for (agency, indicator, period), (_, figure) in cells.items():
        over_agencies = definitions[indicator][2]
        for scope in scopes[agency]:
            row = statistics.setdefault((scope, period, indicator), [0, 0, Decimal(0), None, None])
            row[0] += 1
            if figure is not None:
                row[1] += 1
                row[2] += figure
                # Each extreme is kept only where it is the figure.
                if over_agencies is Aggregation.MIN:
                    row[3] = figure if row[3] is None else min(row[3], figure)
                if over_agencies is Aggregation.MAX:
                    row[4] = figure if row[4] is None else max(row[4], figure)
    return cells, statistics


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_projection_equals_the_specification_whatever_the_delivery_order(empty_settings: Settings, seed: int) -> None:
    reference, values = stream(seed)
    in_order = sorted(reference + values, key=lambda e: e.position)
    _apply(empty_settings, "", _chunks(in_order, 7))

    # As a rebuild may see them: each agency's values in order, agencies interleaved at random,
    # reference data (another partition) after everything, other batch sizes.
    rng = random.Random(seed * 100)
    queues = defaultdict(list)
    for event in values:
        queues[event.agency].append(event)
    shuffled: list[IntegrationEvent] = []
    while any(queues.values()):
        agency = rng.choice([a for a, q in queues.items() if q])
        shuffled.append(queues[agency].pop(0))
    # A batch holds events of several partitions, applied in position order within the batch.
    _apply(
        empty_settings,
        "__b",
        [*_chunks(shuffled, 23), reference[: len(reference) // 2], reference[len(reference) // 2 :]],
    )

    for table in Rollups().tables:
        assert _rows(empty_settings, table) == _rows(empty_settings, table + "__b"), table

    cells, statistics = reference_model(values)
    assert _cells(empty_settings) == cells
    projected = {(r[0], r[1], r[2]): list(r[3:]) for r in _rows(empty_settings, "rm_rollups")}
    assert projected == statistics
    # The data exercise what they should: corrections, months of several periods, extremes.
    assert any(e.event_type is EventType.VALUE_CORRECTED for e in values)
    assert {Period.parse(p).kind for _, p, _ in statistics} == {
        Period.parse(c).kind for c in ("2025-01", "2025Q1", "2025S1", "2025")
    }


def test_a_whole_batch_gives_the_rows_of_its_events_applied_one_by_one(empty_settings: Settings) -> None:
    reference, values = stream(4)
    in_order = sorted(reference + values, key=lambda e: e.position)
    # The whole log in one batch: many months, and the same cells corrected again and again in it.
    repeated = Counter((e.agency, e.indicator, e.period) for e in values)
    assert max(repeated.values()) >= 3
    assert any(e.event_type is EventType.VALUE_CORRECTED and repeated[(e.agency, e.indicator, e.period)] > 1
               for e in values)  # fmt: skip
    _apply(empty_settings, "", [in_order])
    _apply(empty_settings, "__one", [[event] for event in in_order])
    for table in Rollups().tables:
        assert _rows(empty_settings, table) == _rows(empty_settings, table + "__one"), table
    cells, statistics = reference_model(values)
    assert _cells(empty_settings) == cells
    assert {(r[0], r[1], r[2]): list(r[3:]) for r in _rows(empty_settings, "rm_rollups")} == statistics


def test_the_rankings_page_through_the_figures_largest_first(empty_settings: Settings) -> None:
    reference, values = stream(5)
    _apply(empty_settings, "", [sorted(reference + values, key=lambda e: e.position)])
    cells, _ = reference_model(values)
    regions = {code: region for code, _, region in AGENCIES}
    pool = open_pool(empty_settings, max_size=1)
    try:
        queries = RollupQueries(pool, ReferenceQueries(pool, empty_settings.kafka_topic), empty_settings.kafka_topic)
        for indicator, period, region in [("S.FLOW", "2025Q1", None), ("S.STOCK", "2025", "north")]:
            expected = sorted(
                ((a, figure, months) for (a, i, p), (months, figure) in cells.items()
                 if i == indicator and p == period and figure is not None and region in (None, regions[a])),
                key=lambda row: (-row[1], row[0]),
            )  # fmt: skip
            assert len(expected) >= 2, "the data rank several agencies"
            pages = [queries.top_agencies(indicator, Period.parse(period), region, 1, n) for n in range(len(expected))]
            assert [row for page, _ in pages for row in page] == expected
            assert {count for _, count in pages} == {len(expected)}
            assert queries.top_agencies(indicator, Period.parse(period), region, 5, 50) == ([], len(expected))
    finally:
        pool.close()
