"""Demo values for a few agencies and recent months, entered through the handlers."""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal

from domain.identity import Principal, Role
from domain.periods import Period, PeriodKind, period_for_date
from domain.values import ValueType
from services.ingest.application.commands import EnterValues
from services.ingest.application.submissions import enter_values
from services.ingest.application.write_side import WriteSide

DEMO_AGENCIES = ("P01", "P79", "P48")
DEMO_MONTHS = 3


def demo_value(value_type: ValueType, minimum: Decimal | None, maximum: Decimal | None, rng: random.Random) -> object:
    if value_type is ValueType.BOOLEAN:
        return rng.random() < 0.7
    if value_type is ValueType.TEXT:
        return "Số liệu minh họa"
    low = int(minimum) if minimum is not None else 0
    high = int(maximum) if maximum is not None else 50_000
    if value_type is ValueType.INTEGER:
        return rng.randint(low, high)
    return str(Decimal(rng.randint(low * 10, high * 10)) / 10)


def load_demo(ws: WriteSide, today: date, seed: int = 2025) -> int:
    """Enter values for the demo agencies in the months before `today`'s; returns how many were entered."""
    rng = random.Random(seed)  # noqa: S311 - demo numbers, not secrets
    month = period_for_date(today, PeriodKind.MONTH)
    months: list[Period] = []
    for _ in range(DEMO_MONTHS):
        month = month.previous()
        months.insert(0, month)
    entered = 0
    for code in DEMO_AGENCIES:
        agency = ws.reference.agency(code)
        if agency.template is None:
            continue
        principal = Principal(subject=f"demo:{code}", role=Role.AGENCY_REPORTER, agency=code)
        for period in months:
            form = ws.reference.form(agency.template, period)
            entries = [
                (indicator.code, demo_value(indicator.value_type, indicator.minimum, indicator.maximum, rng))
                for indicator in form.indicators.values()
            ]
            enter_values(ws, principal, EnterValues.of(code, period.code, entries))
            entered += len(entries)
    return entered
