"""Outlier warnings against the agency's own history: pure domain, no server."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.outliers import DEFAULT_POLICY, RATIO, Z_SCORE, OutlierPolicy, check_value, outlier_warnings
from domain.values import Value

STABLE = [100, 110, 90, 105]  # median 102.5, mean 101.25, sample deviation 8.54


def flagged_by(value: Value, history: list[Value], policy: OutlierPolicy = DEFAULT_POLICY) -> tuple[str, ...]:
    warning = check_value("X", value, history, policy)
    return () if warning is None else warning.tests


@pytest.mark.parametrize(
    ("value", "history", "expected"),
    [
        (101, STABLE, ()),  # ordinary
        (120, STABLE, ()),  # z = 2.2: ordinary month-to-month variation
        (130, STABLE, (Z_SCORE,)),  # z = 3.4 and 27 % above the median
        (400, STABLE, (RATIO, Z_SCORE)),  # a slipped digit
        (1025, STABLE, (RATIO, Z_SCORE)),
        (30, STABLE, (RATIO, Z_SCORE)),  # far below is an outlier too
        (Decimal("307.5"), STABLE, (Z_SCORE,)),  # exactly 3x the median: not beyond the ratio
        (Decimal("307.6"), STABLE, (RATIO, Z_SCORE)),  # just beyond
        # A very stable stock growing steadily: a 1 % step is many deviations away but not material.
        (9_200_000, [9_100_000, 9_110_000, 9_120_000], ()),
        # A constant history: no deviation to divide by; only the ratio test speaks.
        (101, [100, 100, 100], ()),
        (301, [100, 100, 100], (RATIO,)),
        # All zeros before: anything else is flagged; zero again is not.
        (5, [0, 0, 0], (RATIO,)),
        (0, [0, 0, 0], ()),
        # Negative series (e.g. a net change): the z-score alone judges.
        (-50, [-10, -12, -11], (Z_SCORE,)),
        (-11, [-10, -12, -11], ()),
        # Not enough history, or nothing numeric to compare.
        (1000, [100, 110], ()),
        (1000, [], ()),
        (True, [False, False, False], ()),
        ("text", ["a", "b", "c"], ()),
        (1000, [100, "n/a", True, 110], ()),  # only 2 numeric past values
    ],
)
def test_outlier_tests(value: Value, history: list[Value], expected: tuple[str, ...]) -> None:
    assert flagged_by(value, history) == expected


def test_the_boundaries_are_strict() -> None:
    # Exactly `factor` times the median is not an outlier; anything beyond is.
    history: list[Value] = [100, 100, 100]
    assert flagged_by(300, history) == ()
    assert flagged_by(Decimal("300.01"), history) == (RATIO,)
    assert flagged_by(Decimal("33.34"), history) == ()
    assert flagged_by(Decimal("33.33"), history) == (RATIO,)


def test_the_policy_sets_the_thresholds() -> None:
    strict = OutlierPolicy(factor=Decimal("1.5"), z_limit=Decimal(2), min_change=Decimal("0.1"), min_history=2)
    assert flagged_by(120, STABLE, strict) == (Z_SCORE,)  # z = 2.2 > 2 and 17 % from the median > 10 %
    assert flagged_by(160, STABLE, strict) == (RATIO, Z_SCORE)
    assert flagged_by(160, [100, 110], strict) == (RATIO, Z_SCORE), "two past values are enough for this policy"
    lenient = OutlierPolicy(factor=Decimal(10), z_limit=Decimal(50), min_history=3)
    assert flagged_by(400, STABLE, lenient) == ()
    for bad in (
        {"factor": Decimal(1)},
        {"z_limit": Decimal(0)},
        {"min_change": Decimal(-1)},
        {"min_history": 1},
    ):
        with pytest.raises(ValueError):  # noqa: PT011
            OutlierPolicy(**bad)  # type: ignore[arg-type]


def test_the_warning_says_what_was_compared() -> None:
    warning = check_value("TEL.MOBILE", 400, STABLE)
    assert warning is not None
    assert warning.to_dict() == {
        "indicator": "TEL.MOBILE",
        "reason": "outlier",
        "tests": ["ratio", "z-score"],
        "value": "400",
        "median_of_history": "102.5",
        "mean_of_history": "101.25",
        "stdev_of_history": "8.54",
        "z_score": "34.99",
        "history_periods": 4,
        "detail": warning.detail(),
    }
    assert "102.5" in warning.detail()
    assert "34.99 standard deviations" in warning.detail()


def test_warnings_for_a_period_in_the_order_of_its_values() -> None:
    history: dict[str, list[Value]] = {"A": STABLE, "B": STABLE, "C": [0, 0, 0], "D": [1, 2]}
    values: dict[str, Value] = {"C": 5, "A": 400, "B": 101, "D": 1000, "E": 7, "F": True}
    assert [w.indicator for w in outlier_warnings(values, history)] == ["C", "A"]
    assert outlier_warnings({}, history) == []
    assert outlier_warnings(values, {}) == [], "no history, no warning"
