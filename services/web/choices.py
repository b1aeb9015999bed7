"""What the pages' selects offer: recent periods of a kind, counted back from the one open today."""

from __future__ import annotations

from datetime import date

from domain.periods import Period, PeriodKind, period_for_date


def current_period(kind: PeriodKind, today: date) -> Period:
    """The period of `kind` whose cut-off window holds `today` (Vietnam's date)."""
    return period_for_date(today, kind)


def recent_periods(kind: PeriodKind, today: date, count: int) -> list[Period]:
    """The `count` periods of `kind` up to the one open today, latest first."""
    periods = [current_period(kind, today)]
    while len(periods) < count:
        periods.append(periods[-1].previous())
    return periods


def same_period_last_year(period: Period) -> Period:
    return Period(period.kind, period.year - 1, period.number)
