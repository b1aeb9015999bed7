"""Warnings for values far from the agency's own history (they never block a submission)."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from domain.values import Value

# A value more than FACTOR times above, or below 1/FACTOR of, the median of the
# agency's previous periods is flagged; with fewer than MIN_HISTORY past values
# there is no history to compare with.
FACTOR = Decimal(3)
MIN_HISTORY = 3


@dataclass(frozen=True)
class OutlierWarning:
    indicator: str
    value: Decimal
    median: Decimal
    periods: int

    def to_dict(self) -> dict[str, object]:
        return {
            "indicator": self.indicator,
            "reason": "outlier",
            "value": format(self.value, "f"),
            "median_of_history": format(self.median, "f"),
            "history_periods": self.periods,
            "detail": f"more than {FACTOR}x away from the median of the agency's previous {self.periods} periods",
        }


def outlier_warnings(
    values: Mapping[str, Value], history: Mapping[str, Sequence[Value]], factor: Decimal = FACTOR
) -> list[OutlierWarning]:
    """Numeric values of this period compared with the same indicator in the agency's previous periods."""
    warnings = []
    for code, value in values.items():
        past = [Decimal(v) for v in history.get(code, ()) if not isinstance(v, bool | str)]
        if isinstance(value, bool | str) or len(past) < MIN_HISTORY:
            continue
        median = Decimal(statistics.median(past))
        current = Decimal(value)
        if median == 0:
            far = current != 0 and abs(current) > max(abs(p) for p in past) * factor
        else:
            far = current > median * factor or current < median / factor
        if far:
            warnings.append(OutlierWarning(code, current, median, len(past)))
    return warnings
