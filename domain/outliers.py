"""Warnings for values far from the agency's own history (they never block anything).

The service layer loads the agency's values of its previous periods (from the
event store) and passes them here; this module only computes. Two tests, each
with its threshold in an `OutlierPolicy`:

- **ratio**: the value is more than `factor` times the median of the history,
  or less than the median divided by `factor` (scale-free; catches a slipped
  digit or a wrong unit). Applies when the median and the value are not
  negative; against an all-zero history any other value is flagged.
- **z-score**: the value is more than `z_limit` standard deviations (of the
  history, sample deviation) from the history's mean, *and* it differs from
  the median by at least `min_change` (a fraction of the median), so that a
  normally very stable series (a stock of subscribers growing 0.1 % a month)
  does not warn on ordinary growth.

With fewer than `min_history` past values of an indicator there is no history
to compare with, and no warning. Only numeric values are compared.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from domain.values import Value

FACTOR = Decimal(3)
Z_LIMIT = Decimal(3)
MIN_CHANGE = Decimal("0.25")
MIN_HISTORY = 3

RATIO = "ratio"
Z_SCORE = "z-score"


@dataclass(frozen=True)
class OutlierPolicy:
    factor: Decimal = FACTOR
    z_limit: Decimal = Z_LIMIT
    min_change: Decimal = MIN_CHANGE
    min_history: int = MIN_HISTORY

    def __post_init__(self) -> None:
        if self.factor <= 1:
            raise ValueError("factor must be above 1")
        if self.z_limit <= 0 or self.min_change < 0:
            raise ValueError("z_limit must be positive and min_change not negative")
        if self.min_history < 2:
            raise ValueError("a history needs at least 2 values (a deviation needs 2)")


DEFAULT_POLICY = OutlierPolicy()


@dataclass(frozen=True)
class OutlierWarning:
    indicator: str
    value: Decimal
    median: Decimal
    mean: Decimal
    stdev: Decimal
    z_score: Decimal | None  # None when the history does not vary
    periods: int
    tests: tuple[str, ...]  # which tests flagged it: "ratio", "z-score"

    def to_dict(self) -> dict[str, object]:
        return {
            "indicator": self.indicator,
            "reason": "outlier",
            "tests": list(self.tests),
            "value": _text(self.value),
            "median_of_history": _text(self.median),
            "mean_of_history": _text(self.mean),
            "stdev_of_history": _text(self.stdev),
            "z_score": None if self.z_score is None else _text(self.z_score),
            "history_periods": self.periods,
            "detail": self.detail(),
        }

    def detail(self) -> str:
        parts = []
        if RATIO in self.tests:
            parts.append(f"far from the median {_text(self.median)}")
        if Z_SCORE in self.tests and self.z_score is not None:
            parts.append(f"{_text(abs(self.z_score))} standard deviations from the mean {_text(self.mean)}")
        return f"{' and '.join(parts)} of the agency's previous {self.periods} periods; check the value"


def _text(number: Decimal) -> str:
    return format(number, "f")


def _round(number: Decimal) -> Decimal:
    """Two decimals for statistics shown to people (the value itself is never rounded)."""
    return number.quantize(Decimal("0.01")).normalize()


def _number(value: Value) -> Decimal | None:
    if isinstance(value, bool | str):
        return None
    return Decimal(value)


def check_value(
    indicator: str, value: Value, history: Sequence[Value], policy: OutlierPolicy = DEFAULT_POLICY
) -> OutlierWarning | None:
    """The warning for one value against its indicator's history, or None."""
    current = _number(value)
    past = [number for number in map(_number, history) if number is not None]
    if current is None or len(past) < policy.min_history:
        return None
    median = Decimal(statistics.median(past))
    mean = sum(past, Decimal(0)) / len(past)
    stdev = Decimal(statistics.stdev(past))
    tests: list[str] = []
    if current >= 0 and median >= 0:
        if median == 0:
            far = current != 0 and all(p == 0 for p in past)
        else:
            far = current > median * policy.factor or current < median / policy.factor
        if far:
            tests.append(RATIO)
    z_score = None
    if stdev > 0:
        z_score = (current - mean) / stdev
        material = abs(current - median) >= abs(median) * policy.min_change if median != 0 else current != 0
        if abs(z_score) > policy.z_limit and material:
            tests.append(Z_SCORE)
    if not tests:
        return None
    return OutlierWarning(
        indicator,
        current,
        _round(median),
        _round(mean),
        _round(stdev),
        None if z_score is None else _round(z_score),
        len(past),
        tuple(tests),
    )


def outlier_warnings(
    values: Mapping[str, Value], history: Mapping[str, Sequence[Value]], policy: OutlierPolicy = DEFAULT_POLICY
) -> list[OutlierWarning]:
    """Values of this period compared with the same indicators in the agency's previous periods, in order."""
    warnings = []
    for code, value in values.items():
        warning = check_value(code, value, history.get(code, ()), policy)
        if warning is not None:
            warnings.append(warning)
    return warnings
