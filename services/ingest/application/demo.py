"""Demo data for a few agencies: a year of months entered, reviewed and approved, and a month end in progress,
all through the handlers (the same commands, events and audit trail as real use).

Each agency's figures are steady from month to month (a few per cent apart) and satisfy the form's
rules, as real reports do, so a demo form shows last month and the same month last year beside each cell
and no false alarm. The month before the open one is at the ministry: P79's and P48's reports await
review, P01's was returned with a reason, so the clerk, the reviewer and the queue all have work. Past
months are submitted as of the day before their deadline (on time, as they would have been).
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal

from domain.identity import Principal, Role
from domain.periods import Period, PeriodKind, period_for_date
from domain.rules import Rule
from domain.submission import submission_id
from domain.templates import Form
from domain.values import ValueType
from services.ingest.application.commands import Action, ChangeStatus, EnterValues
from services.ingest.application.submissions import change_status, enter_values
from services.ingest.application.write_side import WriteSide

DEMO_AGENCIES = ("P01", "P79", "P48")
DEMO_MONTHS = 13  # a year and a month: the same month last year has figures too
DEMO_REVIEWER = Principal("demo:ministry", Role.MINISTRY_REVIEWER)
RETURN_REASON = "Đề nghị rà soát lại doanh thu dịch vụ bưu chính công ích so với báo cáo của Bưu điện tỉnh"
FIX_PASSES = 6
_PART = Decimal("0.85")  # a part is 85 % of its whole


def demo_value(value_type: ValueType, minimum: Decimal | None, maximum: Decimal | None, rng: random.Random) -> object:
    """A plausible first value of an indicator (later months move around it)."""
    if value_type is ValueType.BOOLEAN:
        return rng.random() < 0.7
    if value_type is ValueType.TEXT:
        return "Số liệu minh họa"
    low = minimum if minimum is not None else Decimal(0)
    high = maximum if maximum is not None else Decimal(50_000)
    number = Decimal(rng.randint(int(low * 10), int(high * 10))) / 10
    return int(number) if value_type is ValueType.INTEGER else number


def _typed(value_type: ValueType, number: Decimal) -> int | Decimal:
    if value_type is ValueType.INTEGER:
        return int(number.to_integral_value(rounding=ROUND_DOWN))
    return number.quantize(Decimal("0.1"), rounding=ROUND_DOWN)


def _satisfy(form: Form, values: dict[str, object]) -> None:
    """Adjust values until every rule of the form holds (a part below its whole, a sum equal to its total)."""
    numbers = {code: v for code, v in values.items() if isinstance(v, int | Decimal) and not isinstance(v, bool)}
    for _ in range(FIX_PASSES):
        failing = [rule for rule in form.rules if rule.check(numbers).status == "failed"]
        if not failing:
            break
        for rule in failing:
            _fix(form, rule, numbers)
    values.update(numbers)


def _fix(form: Form, rule: Rule, numbers: dict[str, int | Decimal]) -> None:
    left, right = rule.left, rule.right
    adjust_right = len(right.indicators) == 1 and (rule.operator == "==" or len(left.indicators) != 1)
    side, other = (right, left) if adjust_right else (left, right)
    if len(side.indicators) != 1:
        return
    target = other.evaluate(numbers)
    if target is None:
        return
    target -= side.constant
    code = side.indicators[0]
    below = (rule.operator in ("<=", "<")) != adjust_right  # the adjusted side must be the smaller one
    if rule.operator == "==":
        wanted = target
    elif rule.operator == "!=":
        wanted = target + 1
    else:
        wanted = target * _PART if below else target / _PART + 1
    indicator = form.indicators[code]
    if indicator.maximum is not None:
        wanted = min(wanted, indicator.maximum)
    numbers[code] = _typed(indicator.value_type, max(wanted, indicator.minimum or Decimal(0)))


def _month_values(form: Form, base: dict[str, object], rng: random.Random) -> list[tuple[str, object]]:
    """This month's figures: each a few per cent from the agency's usual one, then made to satisfy the rules."""
    values: dict[str, object] = {}
    for code, indicator in form.indicators.items():
        usual = base.setdefault(code, demo_value(indicator.value_type, indicator.minimum, indicator.maximum, rng))
        if isinstance(usual, int | Decimal) and not isinstance(usual, bool):
            moved = Decimal(usual) * Decimal(rng.randint(96, 104)) / 100
            if indicator.maximum is not None:
                moved = min(moved, indicator.maximum)
            values[code] = _typed(indicator.value_type, moved)
        else:
            values[code] = usual
    _satisfy(form, values)
    return [(code, str(v) if isinstance(v, Decimal) else v) for code, v in values.items()]


def load_demo(ws: WriteSide, today: date, seed: int = 2025) -> int:
    """Enter, submit and review the demo agencies' months before `today`'s; returns how many values were entered."""
    rng = random.Random(seed)  # noqa: S311 - demo numbers, not secrets
    month = period_for_date(today, PeriodKind.MONTH)
    months: list[Period] = []
    for _ in range(DEMO_MONTHS):
        month = month.previous()
        months.insert(0, month)
    entered = 0
    if ws.store.get(submission_id(DEMO_AGENCIES[0], months[-1].code), read_only=True) is not None:
        return entered  # loaded at an earlier start: its months are reviewed and locked
    for code in DEMO_AGENCIES:
        agency = ws.reference.agency(code)
        if agency.template is None:
            continue
        principal = Principal(subject=f"demo:{code}", role=Role.AGENCY_REPORTER, agency=code)
        base: dict[str, object] = {}
        for period in months:
            start, end = period.cutoff_window()
            if end < agency.effective_from or (agency.effective_to is not None and start > agency.effective_to):
                continue
            entries = _month_values(ws.reference.form(agency.template, period), base, rng)
            enter_values(ws, principal, EnterValues.of(code, period.code, entries))
            entered += len(entries)
            _submit_on(ws, principal, code, period, ws.regime.deadline(period) - timedelta(days=1))
            if period != months[-1]:
                change_status(ws, DEMO_REVIEWER, ChangeStatus(code, period.code, Action.APPROVE))
            elif code == "P01":
                change_status(ws, DEMO_REVIEWER, ChangeStatus(code, period.code, Action.RETURN, RETURN_REASON))
    return entered


class _Day:
    def __init__(self, day: date) -> None:
        self.day = day

    def today(self) -> date:
        return self.day


def _submit_on(ws: WriteSide, principal: Principal, code: str, period: Period, day: date) -> None:
    """Submit as of `day` (the demo's past months went in on time), on the clock the write side keeps."""
    clock, ws.clock = ws.clock, _Day(min(day, ws.clock.today()))
    try:
        change_status(ws, principal, ChangeStatus(code, period.code, Action.SUBMIT))
    finally:
        ws.clock = clock
