"""Reporting periods: codes, cut-off windows (Decree 09/2019/ND-CP) and regime deadlines."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.periods import (
    CIRCULAR_02_2023,
    MAX_YEAR,
    MIN_YEAR,
    DeadlineRule,
    InvalidPeriod,
    InvalidRegime,
    Period,
    PeriodKind,
    ReportingRegime,
    period_for_date,
)

M, Q, H, Y = PeriodKind.MONTH, PeriodKind.QUARTER, PeriodKind.HALF_YEAR, PeriodKind.YEAR
SEED_REGIME = Path(__file__).resolve().parents[2] / "infra" / "seed" / "regime.json"


@st.composite
def periods(draw: st.DrawFn, kinds: tuple[PeriodKind, ...] = tuple(PeriodKind)) -> Period:
    kind = draw(st.sampled_from(kinds))
    year = draw(st.integers(MIN_YEAR, MAX_YEAR))
    return Period(kind, year, draw(st.integers(1, kind.count_per_year)))


# Dates whose every window (up to the year) lies within the supported years.
dates = st.dates(min_value=date(MIN_YEAR, 1, 1), max_value=date(MAX_YEAR, 12, 14))


# ---------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("2025-03", Period(M, 2025, 3)),
        ("2025-01", Period(M, 2025, 1)),
        ("2025-12", Period(M, 2025, 12)),
        ("2025Q1", Period(Q, 2025, 1)),
        ("2025Q4", Period(Q, 2025, 4)),
        ("2025S1", Period(H, 2025, 1)),
        ("2025S2", Period(H, 2025, 2)),
        ("2025", Period(Y, 2025, 1)),
        ("2000-01", Period(M, 2000, 1)),
        ("2100", Period(Y, 2100, 1)),
    ],
)
def test_parse_every_form(code: str, expected: Period) -> None:
    period = Period.parse(code)
    assert period == expected
    assert period.code == code
    assert str(period) == code


@pytest.mark.parametrize(
    "code",
    [
        "",
        " ",
        "2025-3",  # month needs two digits
        "2025-003",
        "2025-00",
        "2025-13",
        "2025-1a",
        "2025/03",
        "2025.03",
        "202503",
        "03-2025",
        "2025-03-01",  # a date, not a period
        "2025Q0",
        "2025Q5",
        "2025Q01",
        "2025q1",  # strict: upper case only
        "2025-Q1",
        "Q1 2025",
        "2025S0",
        "2025S3",
        "2025s1",
        "2025H1",  # the code is S for semester, not H
        "2025Y",
        "25",
        "025",
        "20250",
        "1999",
        "2101",
        "1999-12",
        "2101Q1",
        " 2025",
        "2025 ",
        "2025\n",
        "2025-03\n",
        "\t2025Q1",
        "٢٠٢٥",  # Arabic-Indic digits match \d but are not a year
        "２０２５",  # full-width digits
        "+2025",
        "-2025",
        "2025-+3",
        "x" * 10_000,
    ],
)
def test_parse_rejects(code: str) -> None:
    with pytest.raises(InvalidPeriod) as raised:
        Period.parse(code)
    message = str(raised.value)
    assert "period" in message
    assert len(message) < 200  # never echoes an unbounded input


@pytest.mark.parametrize("value", [None, 2025, b"2025", Period(Y, 2025, 1)])
def test_parse_rejects_non_strings(value: object) -> None:
    with pytest.raises(InvalidPeriod, match="string"):
        Period.parse(value)  # type: ignore[arg-type]


def test_parse_messages_say_what_is_wrong() -> None:
    with pytest.raises(InvalidPeriod, match=r"month must be 1\.\.12"):
        Period.parse("2025-13")
    with pytest.raises(InvalidPeriod, match=r"quarter must be 1\.\.4"):
        Period.parse("2025Q5")
    with pytest.raises(InvalidPeriod, match=r"half-year must be 1\.\.2"):
        Period.parse("2025S3")
    with pytest.raises(InvalidPeriod, match=r"year must be 2000\.\.2100"):
        Period.parse("1999")
    with pytest.raises(InvalidPeriod, match="YYYY-MM"):
        Period.parse("March 2025")


@pytest.mark.parametrize(
    ("kind", "year", "number"),
    [
        (M, 2025, 0),
        (M, 2025, 13),
        (Q, 2025, 5),
        (H, 2025, 3),
        (Y, 2025, 2),
        (Y, 2025, 0),
        (M, 1999, 1),
        (M, 2101, 1),
        (M, True, 1),
        (M, 2025, True),
        (M, "2025", 1),
        (M, 2025, 1.0),
        ("week", 2025, 1),
        (5, 2025, 1),
    ],
)
def test_constructor_validates(kind: object, year: object, number: object) -> None:
    with pytest.raises(InvalidPeriod):
        Period(kind, year, number)  # type: ignore[arg-type]


def test_constructor_accepts_kind_as_string_and_stores_the_enum() -> None:
    period = Period("quarter", 2025, 2)  # type: ignore[arg-type]
    assert period.kind is Q
    assert period == Period.quarter(2025, 2)


def test_named_constructors() -> None:
    assert Period.month(2025, 3) == Period.parse("2025-03")
    assert Period.quarter(2025, 1) == Period.parse("2025Q1")
    assert Period.half_year(2025, 2) == Period.parse("2025S2")
    assert Period.whole_year(2025) == Period.parse("2025")
    assert repr(Period.month(2025, 3)) == "Period.parse('2025-03')"


@given(periods())
def test_code_round_trip(period: Period) -> None:
    assert Period.parse(period.code) == period
    assert Period.parse(str(period)).code == period.code
    assert hash(Period.parse(period.code)) == hash(period)


@given(st.text(alphabet="0123456789-QSqs ", max_size=9))
def test_parse_is_canonical_or_refuses(text: str) -> None:
    # Whatever parses prints back exactly as it was written: one code per period.
    try:
        period = Period.parse(text)
    except InvalidPeriod:
        return
    assert period.code == text


# ---------------------------------------------------------------- structure


def test_months() -> None:
    assert Period.parse("2025-03").months() == (Period.month(2025, 3),)
    assert [p.code for p in Period.parse("2025Q2").months()] == ["2025-04", "2025-05", "2025-06"]
    assert [p.code for p in Period.parse("2025S2").months()] == [f"2025-{m:02d}" for m in range(7, 13)]
    assert Period.parse("2025").months() == tuple(Period.month(2025, m) for m in range(1, 13))


def test_contains_and_containing() -> None:
    march = Period.parse("2025-03")
    assert Period.parse("2025Q1").contains(march)
    assert Period.parse("2025S1").contains(march)
    assert Period.parse("2025").contains(march)
    assert Period.parse("2025S1").contains(Period.parse("2025Q2"))
    assert march.contains(march)
    assert not march.contains(Period.parse("2025Q1"))
    assert not Period.parse("2025Q2").contains(march)
    assert not Period.parse("2024").contains(march)
    assert not Period.parse("2025Q1").contains(Period.parse("2025S1"))
    assert march.containing(Q) == Period.parse("2025Q1")
    assert Period.parse("2025-07").containing(H) == Period.parse("2025S2")
    assert Period.parse("2025Q3").containing(H) == Period.parse("2025S2")
    assert Period.parse("2025S2").containing(Y) == Period.parse("2025")
    assert march.containing(M) == march
    with pytest.raises(InvalidPeriod):
        Period.parse("2025Q1").containing(M)
    with pytest.raises(InvalidPeriod):
        Period.parse("2025S1").containing(Q)
    with pytest.raises(InvalidPeriod):
        Period.parse("2025").containing(H)


@given(periods(), st.sampled_from(list(PeriodKind)))
def test_containing_agrees_with_contains(period: Period, kind: PeriodKind) -> None:
    if kind.length_in_months < period.kind.length_in_months:
        with pytest.raises(InvalidPeriod):
            period.containing(kind)
        return
    container = period.containing(kind)
    assert container.contains(period)
    assert set(period.months()) <= set(container.months())


def test_next_and_previous_across_years() -> None:
    assert Period.parse("2024-12").next() == Period.parse("2025-01")
    assert Period.parse("2025-01").previous() == Period.parse("2024-12")
    assert Period.parse("2025-03").next() == Period.parse("2025-04")
    assert Period.parse("2024Q4").next() == Period.parse("2025Q1")
    assert Period.parse("2025Q1").previous() == Period.parse("2024Q4")
    assert Period.parse("2024S2").next() == Period.parse("2025S1")
    assert Period.parse("2025S1").previous() == Period.parse("2024S2")
    assert Period.parse("2025S1").next() == Period.parse("2025S2")
    assert Period.parse("2024").next() == Period.parse("2025")
    assert Period.parse("2025").previous() == Period.parse("2024")


def test_next_and_previous_stop_at_supported_years() -> None:
    with pytest.raises(InvalidPeriod):
        Period.parse("2100-12").next()
    with pytest.raises(InvalidPeriod):
        Period.parse("2000Q1").previous()


@given(periods())
def test_next_and_previous_are_inverse(period: Period) -> None:
    if period.code not in {"2100-12", "2100Q4", "2100S2", "2100"}:
        assert period.next().previous() == period
        assert period.next() > period
    if period.code not in {"2000-01", "2000Q1", "2000S1", "2000"}:
        assert period.previous().next() == period
        assert period.previous() < period


def test_ordering_within_a_kind_is_chronological() -> None:
    codes = ["2025-01", "2024-12", "2024-02", "2025-10", "2023-11"]
    assert [p.code for p in sorted(map(Period.parse, codes))] == [
        "2023-11",
        "2024-02",
        "2024-12",
        "2025-01",
        "2025-10",
    ]
    assert Period.parse("2024Q4") < Period.parse("2025Q1")
    assert Period.parse("2024S2") < Period.parse("2025S1")
    assert Period.parse("2024") < Period.parse("2025")
    assert max(Period.parse(c) for c in ["2025-02", "2025-10", "2025-09"]) == Period.parse("2025-10")


@given(periods(), periods())
def test_ordering_matches_windows_within_a_kind(a: Period, b: Period) -> None:
    if a.kind is not b.kind:
        return
    assert (a < b) == (a.cutoff_window()[0] < b.cutoff_window()[0])
    assert (a == b) == (a.cutoff_window() == b.cutoff_window())


# ---------------------------------------------------------------- cut-off windows


@pytest.mark.parametrize(
    ("code", "start", "end"),
    [
        ("2025-03", date(2025, 2, 15), date(2025, 3, 14)),
        ("2025-01", date(2024, 12, 15), date(2025, 1, 14)),  # across the year boundary
        ("2025-12", date(2025, 11, 15), date(2025, 12, 14)),
        ("2024-03", date(2024, 2, 15), date(2024, 3, 14)),  # leap year: Feb 29 is in March's window
        ("2025Q1", date(2024, 12, 15), date(2025, 3, 14)),
        ("2025Q2", date(2025, 3, 15), date(2025, 6, 14)),
        ("2025Q3", date(2025, 6, 15), date(2025, 9, 14)),
        ("2025Q4", date(2025, 9, 15), date(2025, 12, 14)),
        ("2025S1", date(2024, 12, 15), date(2025, 6, 14)),
        ("2025S2", date(2025, 6, 15), date(2025, 12, 14)),
        ("2025", date(2024, 12, 15), date(2025, 12, 14)),
        ("2000-01", date(1999, 12, 15), date(2000, 1, 14)),
    ],
)
def test_cutoff_windows(code: str, start: date, end: date) -> None:
    period = Period.parse(code)
    assert period.cutoff_window() == (start, end)
    assert period.contains_date(start)
    assert period.contains_date(end)
    assert not period.contains_date(start - timedelta(days=1))
    assert not period.contains_date(end + timedelta(days=1))


@pytest.mark.parametrize(
    ("day", "month", "quarter", "half", "year"),
    [
        (date(2024, 12, 14), "2024-12", "2024Q4", "2024S2", "2024"),
        (date(2024, 12, 15), "2025-01", "2025Q1", "2025S1", "2025"),
        (date(2024, 12, 31), "2025-01", "2025Q1", "2025S1", "2025"),
        (date(2025, 1, 1), "2025-01", "2025Q1", "2025S1", "2025"),
        (date(2025, 1, 14), "2025-01", "2025Q1", "2025S1", "2025"),
        (date(2025, 1, 15), "2025-02", "2025Q1", "2025S1", "2025"),
        (date(2025, 3, 14), "2025-03", "2025Q1", "2025S1", "2025"),
        (date(2025, 3, 15), "2025-04", "2025Q2", "2025S1", "2025"),
        (date(2025, 6, 14), "2025-06", "2025Q2", "2025S1", "2025"),
        (date(2025, 6, 15), "2025-07", "2025Q3", "2025S2", "2025"),
        (date(2024, 2, 29), "2024-03", "2024Q1", "2024S1", "2024"),
    ],
)
def test_period_for_date(day: date, month: str, quarter: str, half: str, year: str) -> None:
    assert period_for_date(day, M).code == month
    assert period_for_date(day, Q).code == quarter
    assert period_for_date(day, H).code == half
    assert period_for_date(day, Y).code == year


def test_dates_are_calendar_dates_not_datetimes() -> None:
    # A datetime's calendar day depends on its time zone; the caller decides it.
    moment = datetime(2025, 3, 14, 20, 0)
    with pytest.raises(TypeError, match="Vietnam"):
        period_for_date(moment, M)
    with pytest.raises(TypeError):
        Period.parse("2025-03").contains_date(moment)
    with pytest.raises(TypeError):
        CIRCULAR_02_2023.is_late(Period.parse("2025-03"), moment)
    with pytest.raises(TypeError):
        period_for_date("2025-03-14", M)  # type: ignore[arg-type]


def test_period_for_date_outside_supported_years() -> None:
    assert period_for_date(date(1999, 12, 15), M) == Period.parse("2000-01")
    with pytest.raises(InvalidPeriod):
        period_for_date(date(1999, 12, 14), M)
    with pytest.raises(InvalidPeriod):
        period_for_date(date(2100, 12, 15), Y)


@given(dates, st.sampled_from(list(PeriodKind)))
def test_every_date_is_in_exactly_one_window_per_kind(day: date, kind: PeriodKind) -> None:
    period = period_for_date(day, kind)
    assert period.contains_date(day)
    # Windows of one kind are ordered, so checking the neighbours rules out
    # every other period of the kind.
    if period.code not in {"2000-01", "2000Q1", "2000S1", "2000"}:
        assert not period.previous().contains_date(day)
    if period.year < MAX_YEAR or period.number < kind.count_per_year:
        assert not period.next().contains_date(day)


@given(dates)
def test_windows_nest_month_in_quarter_in_half_in_year(day: date) -> None:
    month = period_for_date(day, M)
    for kind in (Q, H, Y):
        assert period_for_date(day, kind) == month.containing(kind)
    for inner, outer in [(M, Q), (Q, H), (H, Y), (M, Y)]:
        inner_start, inner_end = period_for_date(day, inner).cutoff_window()
        outer_start, outer_end = period_for_date(day, outer).cutoff_window()
        assert outer_start <= inner_start <= day <= inner_end <= outer_end


@given(periods())
def test_consecutive_windows_tile_the_calendar(period: Period) -> None:
    start, end = period.cutoff_window()
    assert start <= end
    if period.year < MAX_YEAR or period.number < period.kind.count_per_year:
        next_start, _ = period.next().cutoff_window()
        assert next_start == end + timedelta(days=1)  # no gap, no overlap


@given(periods())
def test_a_period_window_is_its_months_windows_end_to_end(period: Period) -> None:
    months = period.months()
    assert months[0].cutoff_window()[0] == period.cutoff_window()[0]
    assert months[-1].cutoff_window()[1] == period.cutoff_window()[1]
    assert all(period.contains(month) for month in months)
    for earlier, later in pairwise(months):
        assert later.cutoff_window()[0] == earlier.cutoff_window()[1] + timedelta(days=1)


# ---------------------------------------------------------------- deadlines (Circular 02/2023)


@pytest.mark.parametrize(
    ("code", "deadline"),
    [
        ("2025-03", date(2025, 3, 15)),
        ("2025-01", date(2025, 1, 15)),
        ("2025-12", date(2025, 12, 15)),
        ("2025Q1", date(2025, 3, 6)),
        ("2025Q4", date(2025, 12, 6)),
        ("2025S1", date(2025, 6, 6)),
        ("2025S2", date(2025, 12, 6)),
        ("2025", date(2025, 11, 25)),
    ],
)
def test_circular_02_2023_deadlines(code: str, deadline: date) -> None:
    period = Period.parse(code)
    regime = CIRCULAR_02_2023
    assert regime.deadline(period) == deadline
    assert not regime.is_late(period, deadline)  # the deadline day itself is on time
    assert regime.days_late(period, deadline) == 0
    assert not regime.is_late(period, deadline - timedelta(days=30))
    assert regime.days_late(period, deadline - timedelta(days=30)) == 0
    assert regime.is_late(period, deadline + timedelta(days=1))
    assert regime.days_late(period, deadline + timedelta(days=1)) == 1
    assert regime.days_late(period, deadline + timedelta(days=45)) == 45


def test_lateness_across_a_year_end() -> None:
    december = Period.parse("2024-12")
    assert CIRCULAR_02_2023.days_late(december, date(2025, 1, 2)) == 18
    assert CIRCULAR_02_2023.days_late(Period.parse("2024"), date(2025, 1, 1)) == 37


def test_circular_02_2023_matches_the_seed_data() -> None:
    seed = json.loads(SEED_REGIME.read_text(encoding="utf-8"))
    assert ReportingRegime.from_dict(seed) == CIRCULAR_02_2023
    assert CIRCULAR_02_2023.to_dict() == seed


# ---------------------------------------------------------------- custom regimes


CUSTOM = {
    "code": "CUSTOM-1",
    "name": "Chế độ báo cáo thử nghiệm",
    "deadlines": {
        "month": {"month": 2, "day": 20},  # the 20th of the following month
        "quarter": {"day": 31},  # the last day of the quarter's last month
        "year": {"month": 13, "day": 10},  # 10 January of the next year
    },
}


def test_custom_regime_from_dict() -> None:
    regime = ReportingRegime.from_dict(CUSTOM)
    assert regime.code == "CUSTOM-1"
    assert regime.name == "Chế độ báo cáo thử nghiệm"
    assert regime.name_en is None
    assert regime.deadline(Period.parse("2025-03")) == date(2025, 4, 20)
    assert regime.deadline(Period.parse("2025-12")) == date(2026, 1, 20)
    assert regime.deadline(Period.parse("2025Q1")) == date(2025, 3, 31)
    assert regime.deadline(Period.parse("2025Q2")) == date(2025, 6, 30)  # day 31 clamps to June's last day
    assert regime.deadline(Period.parse("2025")) == date(2026, 1, 10)
    february = ReportingRegime("R", "Chế độ", {M: DeadlineRule(day=30)})
    assert february.deadline(Period.parse("2024-02")) == date(2024, 2, 29)  # leap year
    assert february.deadline(Period.parse("2025-02")) == date(2025, 2, 28)
    assert not regime.is_late(Period.parse("2025-03"), date(2025, 4, 20))
    assert regime.days_late(Period.parse("2025-03"), date(2025, 4, 25)) == 5
    with pytest.raises(InvalidPeriod, match="no half_year reports"):
        regime.deadline(Period.parse("2025S1"))


def test_custom_regime_round_trip() -> None:
    regime = ReportingRegime.from_dict(CUSTOM)
    data = regime.to_dict()
    assert data["name_vi"] == CUSTOM["name"]
    assert data["deadlines"] == CUSTOM["deadlines"]
    assert ReportingRegime.from_dict(data) == regime
    assert ReportingRegime.from_dict(json.loads(json.dumps(data))) == regime


def test_regime_is_immutable_and_owns_its_rules() -> None:
    rules = {M: DeadlineRule(day=10)}
    regime = ReportingRegime("R", "Chế độ", rules)
    rules[M] = DeadlineRule(day=20)
    assert regime.deadline(Period.parse("2025-03")) == date(2025, 3, 10)
    with pytest.raises(TypeError):
        regime.deadlines[Q] = DeadlineRule(day=1)  # type: ignore[index]
    assert hash(regime) == hash(ReportingRegime("R", "Chế độ", {M: DeadlineRule(day=10)}))


def test_regime_names_are_nfc() -> None:
    decomposed = "Che\u0302\u0301 đo\u0323\u0302"  # "Chế độ" with combining marks
    regime = ReportingRegime("R", decomposed, {M: DeadlineRule(day=10)})
    assert regime.name == "Chế độ"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"day": 15}, DeadlineRule(day=15)),
        ({"month": 6, "day": 6}, DeadlineRule(day=6, month=6)),
        ({"day": 31, "month": 24}, DeadlineRule(day=31, month=24)),
    ],
)
def test_deadline_rule_from_dict(data: dict[str, int], expected: DeadlineRule) -> None:
    rule = DeadlineRule.from_dict(data)
    assert rule == expected
    assert rule.to_dict() == data


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"month": 6},
        {"day": 0},
        {"day": 32},
        {"day": -1},
        {"day": True},
        {"day": 15.0},
        {"day": "15"},
        {"day": 15, "month": 0},
        {"day": 15, "month": 25},
        {"day": 15, "month": False},
        {"day": 15, "offset": 1},
        [15],
        "day 15",
    ],
)
def test_deadline_rule_rejects(data: object) -> None:
    with pytest.raises(InvalidRegime):
        DeadlineRule.from_dict(data)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "data",
    [
        {"name": "x", "deadlines": {"month": {"day": 15}}},  # no code
        {"code": " ", "name": "x", "deadlines": {"month": {"day": 15}}},
        {"code": "R", "deadlines": {"month": {"day": 15}}},  # no name
        {"code": "R", "name": "", "deadlines": {"month": {"day": 15}}},
        {"code": "R", "name": "x", "name_vi": "x", "deadlines": {"month": {"day": 15}}},  # two names
        {"code": "R", "name": "x"},  # no deadlines
        {"code": "R", "name": "x", "deadlines": {}},
        {"code": "R", "name": "x", "deadlines": [{"day": 15}]},
        {"code": "R", "name": "x", "deadlines": {"week": {"day": 1}}},
        {"code": "R", "name": "x", "deadlines": {"month": {"day": 40}}},
        {"code": "R", "name": "x", "deadlines": {"month": 15}},
        {"code": "R", "name": "x", "name_en": 5, "deadlines": {"month": {"day": 15}}},
        {"code": "R", "name": "x", "deadlines": {"month": {"day": 15}}, "frequency": "monthly"},
        "TT02-2023",
    ],
)
def test_regime_rejects(data: object) -> None:
    with pytest.raises(InvalidRegime):
        ReportingRegime.from_dict(data)  # type: ignore[arg-type]


@given(
    periods(),
    st.builds(DeadlineRule, day=st.integers(1, 31), month=st.none() | st.integers(1, 24)),
)
def test_deadline_rule_lands_in_the_named_month(period: Period, rule: DeadlineRule) -> None:
    offset = (rule.month or period.kind.length_in_months) - 1
    first = period.months()[0]
    if first.year * 12 + first.number - 1 + offset > MAX_YEAR * 12 + 11:
        return  # the deadline month would be after the supported years; dates still work, Periods don't
    deadline = rule.resolve(period)
    expected_month = first
    for _ in range(offset):
        expected_month = expected_month.next()
    assert (deadline.year, deadline.month) == (expected_month.year, expected_month.number)
    if deadline.day != rule.day:  # clamped, and only to the month's last day
        assert deadline.day < rule.day
        assert (deadline + timedelta(days=1)).day == 1
    assert DeadlineRule.from_dict(rule.to_dict()) == rule
