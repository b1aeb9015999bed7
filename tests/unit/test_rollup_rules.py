"""Roll-up arithmetic, report definitions, expected counts and rebuild helpers, without any server."""

from __future__ import annotations

import io
from collections import Counter
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kafka.partitioner.default import DefaultPartitioner

from domain.periods import Period, PeriodKind
from domain.report_definitions import InvalidReportDefinition, ReportDefinition, ReportSpec
from domain.rollups import Cell, agencies_figure, months_of, number_to_json, periods_of_month, time_cell
from domain.values import Aggregation, ValueType
from infra.progress import Progress
from services.projector.rebuild import partition_for
from services.readmodels.reference.snapshot import AgencyInfo, Reference, TemplateInfo

D = Decimal


# ---------------------------------------------------------------- over time, per agency


@pytest.mark.parametrize(
    ("aggregation", "values", "figure"),
    [
        (Aggregation.SUM, [1, 2, 3], D(6)),  # a flow
        (Aggregation.LAST, [100, 120, 110], D(110)),  # a stock: the latest month reported
        (Aggregation.AVERAGE, [50, 60, 65], D("58.333333")),  # a ratio: 175 / 3, six places
        (Aggregation.AVERAGE, ["0.0000005", "0"], D(0)),  # 0.00000025, six places: 0
        (Aggregation.MIN, [5, 8, 7], D(5)),
        (Aggregation.MAX, ["1.5", "2.5", "2"], D("2.5")),
        (Aggregation.NONE, [1, 2], None),
    ],
)
def test_time_aggregation(aggregation: Aggregation, values: list[int | str], figure: Decimal | None) -> None:
    cell = time_cell(aggregation, ValueType.DECIMAL, values)
    assert cell is not None
    assert cell.months == len(values)
    assert cell.figure == figure


@settings(max_examples=300, deadline=None)
@given(
    aggregation=st.sampled_from(list(Aggregation)),
    values=st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), min_size=1, max_size=12),
)
def test_integers_give_the_figure_the_decimal_arithmetic_gives(aggregation: Aggregation, values: list[int]) -> None:
    """The integers' own arithmetic (the common case, cheaper) is the decimals' result, digit for digit."""
    whole = time_cell(aggregation, ValueType.INTEGER, values)
    as_text = time_cell(aggregation, ValueType.INTEGER, [str(v) for v in values])  # parsed as decimals
    assert whole == as_text
    assert whole is not None
    assert as_text is not None
    assert str(whole.figure) == str(as_text.figure), "the same normal form"
    assert type(whole.value) is type(as_text.value)


def test_half_up_rounding_and_json_forms() -> None:
    cell = time_cell(Aggregation.AVERAGE, ValueType.PERCENTAGE, ["0.0000015", "0"])  # 0.00000075 -> 0.000001
    assert cell == Cell(2, D("0.000001"), "0.000001")
    assert time_cell(Aggregation.SUM, ValueType.DECIMAL, ["1.25", "0.75"]) == Cell(2, D(2), 2)
    assert number_to_json(D("100.00")) == 100
    assert number_to_json(D("-2.50")) == "-2.5"
    assert number_to_json(D("1E+3")) == 1000


def test_non_numeric_and_unknown_definitions() -> None:
    assert time_cell(Aggregation.LAST, ValueType.BOOLEAN, [False, True]) == Cell(2, None, True)
    assert time_cell(Aggregation.NONE, ValueType.TEXT, ["a", "b"]) == Cell(2, None, None)
    assert time_cell(None, None, [1, 2]) == Cell(2, None, None), "definition not seen yet: coverage only"
    assert time_cell(Aggregation.SUM, ValueType.INTEGER, []) is None


# ---------------------------------------------------------------- over agencies


def test_agency_aggregation() -> None:
    total, low, high = D("216.633333"), D(40), D(85)
    assert agencies_figure(Aggregation.SUM, 4, total, low, high) == total
    assert agencies_figure(Aggregation.AVERAGE, 4, total, low, high) == D("54.158333")  # 54.15833325
    assert agencies_figure(Aggregation.MIN, 4, total, low, high) == low
    assert agencies_figure(Aggregation.MAX, 4, total, low, high) == high
    assert agencies_figure(Aggregation.NONE, 4, total, low, high) is None
    assert agencies_figure(Aggregation.SUM, 0, D(0), None, None) is None, "nobody reported: no figure, not 0"


def test_months_roll_up_by_cut_off_windows() -> None:
    assert periods_of_month("2025-03") == ("2025-03", "2025Q1", "2025S1", "2025")
    assert periods_of_month("2025-07") == ("2025-07", "2025Q3", "2025S2", "2025")
    assert months_of("2025Q4") == ("2025-10", "2025-11", "2025-12")
    assert months_of("2025S1")[0] == "2025-01"
    assert len(months_of("2025")) == 12
    # January 2025's window opens on 15 December 2024, like its quarter's, half-year's and year's.
    assert Period.parse("2025").cutoff_window()[0] == Period.parse("2025-01").cutoff_window()[0] == date(2024, 12, 15)


# ---------------------------------------------------------------- report definitions

SPEC = {
    "code": "TEL-QUARTERLY",
    "name_vi": "Báo cáo quý về viễn thông",
    "name_en": "Quarterly telecom report",
    "period_kind": "quarter",
    "scope": "national",
    "indicators": ["TEL.MOBILE_SUBSCRIBERS", "TEL.REVENUE"],
}


def test_report_definition_is_validated_data() -> None:
    spec = ReportSpec.from_dict(SPEC)
    assert spec.period_kind is PeriodKind.QUARTER
    assert spec.to_dict() == SPEC
    for change, message in (
        ({"code": "có dấu"}, "ASCII"),
        ({"period_kind": "week"}, "period_kind"),
        ({"scope": "province"}, "scope"),
        ({"indicators": []}, "1-500"),
        ({"indicators": ["A", "A"]}, "twice"),
        ({"name_vi": "  "}, "name_vi"),
        ({"extra": 1}, "unknown field"),
    ):
        with pytest.raises(InvalidReportDefinition, match=message):
            ReportSpec.from_dict({**SPEC, **change})
    with pytest.raises(InvalidReportDefinition, match=r"unknown indicators: TEL\.REVENUE"):
        spec.check_indicators({"TEL.MOBILE_SUBSCRIBERS": object()})


def test_report_definition_events() -> None:
    spec = ReportSpec.from_dict(SPEC)
    definition = ReportDefinition.define(spec, "system:seed", "admin")
    assert not definition.revise(spec, "reviewer", "ministry_reviewer"), "no change, no event"
    regional = ReportSpec.from_dict({**SPEC, "scope": "region"})
    assert definition.revise(regional, "reviewer", "ministry_reviewer")
    assert definition.spec.scope == "region"
    assert [type(e).__name__ for e in definition.collect_events()] == ["Created", "Revised"]
    with pytest.raises(InvalidReportDefinition, match="code"):
        definition.revise(ReportSpec.from_dict({**SPEC, "code": "OTHER"}), "reviewer", "ministry_reviewer")


# ---------------------------------------------------------------- expected counts


def _agency(code: str, template: str | None, region: str, start: str, end: str | None = None) -> AgencyInfo:
    begin = date.fromisoformat(start)
    return AgencyInfo(code, f"Đơn vị {code}", code, ((begin, f"Đơn vị {code}", code),), "provincial_department",
                      region, template, begin, date.fromisoformat(end) if end else None, None)  # fmt: skip


def test_expected_counts_follow_activity_templates_and_versions() -> None:
    base = TemplateInfo("BASE", None, ((Period.parse("2024-01"), frozenset({"X"})),))
    unified = TemplateInfo(
        "UNI",
        "BASE",
        ((Period.parse("2024-01"), frozenset({"A"})), (Period.parse("2025-07"), frozenset({"A", "B"}))),
    )
    ref = Reference(
        1,
        {
            "P1": _agency("P1", "UNI", "north", "2008-01-01"),
            "P2": _agency("P2", "UNI", "south", "2008-01-01", "2025-06-30"),  # merged away on 30 June 2025
            "M": _agency("M", None, "north", "2008-01-01"),  # no template: reports nothing
        },
        {},
        {"BASE": base, "UNI": unified},
        {},
    )
    assert ref.expected(Period.parse("2025-06")) == Counter({"A": 2, "X": 2})
    # July's window (15 Jun - 14 Jul) still holds P2's last days; version 2 adds B.
    assert ref.expected(Period.parse("2025-07")) == Counter({"A": 2, "B": 2, "X": 2})
    assert ref.expected(Period.parse("2025-08")) == Counter({"A": 1, "B": 1, "X": 1})
    assert ref.expected(Period.parse("2025-08"), "region:south") == Counter()
    # A quarter uses the version in force for its first month.
    assert ref.expected(Period.parse("2025Q3"))["B"] == 2


# ---------------------------------------------------------------- rebuild helpers


def test_store_replay_puts_each_event_on_the_relays_partition() -> None:
    partitioner = DefaultPartitioner()
    cluster = SimpleNamespace(
        topics=lambda: {"t"},
        partitions_for_topic=lambda _t: {0, 1, 2},
        available_partitions_for_topic=lambda _t: {0, 1},
    )
    for key in (b"P01", b"P79", b"~agency", b"~catalogue", "Hà Nội".encode(), b"MIC-VNTA"):
        assert partition_for(key, (2, 0, 1)) == partitioner.partition("t", key, key, None, None, cluster)


def test_progress_bar_shows_rate_and_eta() -> None:
    out = io.StringIO()
    progress = Progress(out, "rebuild")
    progress.update(0, 1000)
    progress.update(1000, 1000, final=True)
    lines = out.getvalue().splitlines()
    assert "0/1,000 events" in lines[0]
    assert "100.0% 1,000/1,000 events" in lines[-1]
    assert "events/s" in lines[-1]
    assert "ETA 0:00" in lines[-1]
