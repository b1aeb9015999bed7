"""What the data-entry form of one agency and month shows, and the check of a value as it is typed.

Both read the write side (the submission aggregate, its pinned form, the agency's history), so a
clerk sees exactly what the API enforces: a value is parsed by its indicator (`Indicator.parse`, the
type, range and precision the API checks), the form's cross-indicator rules (`domain.rules`) are
evaluated against the other current values, and outliers are judged against the agency's own
previous periods (`domain.outliers`). Nothing here is recorded: writes go through `submissions`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

from domain.agencies import Agency
from domain.catalogue import Indicator
from domain.errors import Forbidden, NotFound
from domain.identity import Principal
from domain.outliers import OutlierWarning, check_value, outlier_warnings
from domain.periods import Period
from domain.rules import RuleOutcome, Severity
from domain.submission import CurrentValue, LifecycleStep, Status, Submission, submission_id
from domain.templates import Form
from domain.values import InvalidValue, Value
from services.ingest.application.errors import PeriodNotOpen
from services.ingest.application.outcomes import SubmissionState
from services.ingest.application.submissions import entry_period, submission_form
from services.ingest.application.write_side import WriteSide


@dataclass(frozen=True)
class EntrySheet:
    """One agency's month as the write side holds it now: its form, values, checks and calendar."""

    agency: Agency
    period: Period
    form: Form
    state: SubmissionState | None  # None until the first value opens the submission
    values: Mapping[str, CurrentValue]
    missing: tuple[str, ...]  # required indicators without a value
    rules: tuple[RuleOutcome, ...]  # every rule of the form, evaluated on the current values
    warnings: Mapping[str, OutlierWarning]  # indicator -> its outlier warning
    last_step: LifecycleStep | None
    days_late: int | None  # of the latest submission (None before the first)
    deadline: date
    window: tuple[date, date]  # the data cut-off window (Decree 09/2019/ND-CP)
    today: date

    @property
    def status(self) -> Status:
        return Status.DRAFT if self.state is None else self.state.status

    @property
    def days_to_deadline(self) -> int:
        """Days left until the deadline (0 on the day itself); negative: days late."""
        return (self.deadline - self.today).days

    @property
    def corrections_need_a_reason(self) -> bool:
        """After a first submission every changed value needs a reason (the domain refuses one without)."""
        return self.state is not None and self.state.times_submitted > 0

    def editable_by(self, principal: Principal) -> bool:
        return principal.can_write_agency(self.agency.code) and self.status.editable

    @property
    def failed(self) -> tuple[RuleOutcome, ...]:
        """Rules that block the submission (severity error, failed)."""
        return tuple(o for o in self.rules if o.status == "failed" and o.rule.severity is Severity.ERROR)

    @property
    def doubtful(self) -> tuple[RuleOutcome, ...]:
        """Rules of severity warning that fail: the report may still be submitted."""
        return tuple(o for o in self.rules if o.status == "failed" and o.rule.severity is Severity.WARNING)

    def failures_of(self, code: str) -> tuple[RuleOutcome, ...]:
        """The failed rules (either severity) naming the indicator."""
        return self._failures.get(code, ())

    @cached_property
    def _failures(self) -> dict[str, tuple[RuleOutcome, ...]]:
        found: dict[str, list[RuleOutcome]] = {}
        for outcome in self.rules:
            if outcome.status == "failed":
                for code in dict.fromkeys(outcome.rule.indicators):
                    found.setdefault(code, []).append(outcome)
        return {code: tuple(outcomes) for code, outcomes in found.items()}

    @property
    def can_submit(self) -> bool:
        return self.status.editable and not self.missing and not self.failed


@dataclass(frozen=True)
class CellCheck:
    """A typed value checked as the API would check it: parsed, against the rules, against the history."""

    indicator: Indicator
    value: Value | None  # None when the cell is empty or the value is refused
    rejection: InvalidValue | None
    rules: tuple[RuleOutcome, ...] = ()  # the failed rules naming this indicator (either severity)
    outlier: OutlierWarning | None = None
    saved: Value | None = None  # the value stored now, if any
    unchanged: bool = False  # the typed value is the one stored
    reason_required: bool = False  # a change now needs a reason (the report was submitted before)

    @property
    def blocking(self) -> bool:
        """The value would be refused (not stored), or it breaks an error rule (the report cannot be submitted)."""
        return self.rejection is not None or any(o.rule.severity is Severity.ERROR for o in self.rules)


@dataclass(frozen=True)
class Opened:
    """The agency, the month and the form a sheet or a check is about; the submission if it exists."""

    agency: Agency
    period: Period
    form: Form
    submission: Submission | None = field(default=None)


def open_month(ws: WriteSide, principal: Principal, agency_code: str, period_code: str) -> Opened:
    """The agency's month as entry sees it: an open month of an existing agency, on the form it is filled on."""
    agency = ws.reference.agency(agency_code)
    if not principal.can_read_agency(agency.code):
        raise Forbidden(f"you may not read agency {agency.code}")
    period = entry_period(ws, agency, period_code)
    # A copy, not the store's cached object: a save in another thread may move that one on as we read it.
    submission = ws.store.get(submission_id(agency.code, period.code))
    if isinstance(submission, Submission):
        return Opened(agency, period, submission_form(ws, submission), submission)
    if agency.template is None:
        raise PeriodNotOpen(f"agency {agency.code} has no template assigned")
    return Opened(agency, period, ws.reference.form(agency.template, period))


def entry_sheet(ws: WriteSide, principal: Principal, agency_code: str, period_code: str) -> EntrySheet:
    """The sheet of the agency's month (strongly consistent: the aggregate, not a read model)."""
    opened = open_month(ws, principal, agency_code, period_code)
    submission = opened.submission
    values: Mapping[str, CurrentValue] = {} if submission is None else dict(submission.values)
    current = {code: entry.value for code, entry in values.items()}
    missing = [code for code, ind in opened.form.indicators.items() if ind.required and code not in current]
    rules = tuple(rule.check(current) for rule in opened.form.rules)
    history = ws.history.previous_values(opened.agency.code, opened.period) if current else {}
    found = {warning.indicator: warning for warning in outlier_warnings(current, history)}
    return EntrySheet(
        agency=opened.agency,
        period=opened.period,
        form=opened.form,
        state=None if submission is None else SubmissionState.of(submission),
        values=values,
        missing=tuple(missing),
        rules=rules,
        warnings=found,
        last_step=None if submission is None else submission.last_step,
        days_late=None if submission is None else submission.days_late,
        deadline=ws.regime.deadline(opened.period),
        window=opened.period.cutoff_window(),
        today=ws.clock.today(),
    )


def check_cell(
    ws: WriteSide,
    principal: Principal,
    agency_code: str,
    period_code: str,
    indicator: str,
    raw: object | None,
    others: Mapping[str, object] | None = None,
) -> CellCheck:
    """Check `raw` for `indicator` as the API would, the rules evaluated with `others` (what the page shows
    in the other cells, raw) over the stored values; `raw` None is an empty cell."""
    opened = open_month(ws, principal, agency_code, period_code)
    definition = opened.form.indicators.get(indicator)
    if definition is None:
        raise NotFound(f"{indicator} is not on the form of {opened.agency.code} for {opened.period}")
    stored = {} if opened.submission is None else {c: v.value for c, v in opened.submission.values.items()}
    saved = stored.get(indicator)
    reason_required = opened.submission is not None and opened.submission.times_submitted > 0
    if raw is None:
        return CellCheck(definition, None, None, saved=saved, reason_required=reason_required)
    try:
        value = definition.parse(raw)
    except InvalidValue as error:
        return CellCheck(definition, None, error, saved=saved, reason_required=reason_required)
    values = dict(stored)
    values.update(_parsed(opened.form, others or {}))
    values[indicator] = value
    failed = tuple(
        outcome
        for rule in opened.form.rules
        if indicator in rule.indicators and (outcome := rule.check(values)).status == "failed"
    )
    history = ws.history.previous_values(opened.agency.code, opened.period).get(indicator, ())
    return CellCheck(
        definition,
        value,
        None,
        failed,
        check_value(indicator, value, history),
        saved=saved,
        unchanged=saved is not None and type(saved) is type(value) and saved == value,
        reason_required=reason_required,
    )


def _parsed(form: Form, raw: Mapping[str, object]) -> dict[str, Value]:
    """The values of `raw` that their indicators accept (the others are left out of the rules)."""
    found: dict[str, Value] = {}
    for code, item in raw.items():
        definition = form.indicators.get(code)
        if definition is None or item is None:
            continue
        try:
            found[code] = definition.parse(item)
        except InvalidValue:
            continue
    return found


def indicators_in_groups(form: Form) -> list[tuple[str, list[Indicator]]]:
    """The form's indicators by indicator group, groups in the order they first appear on the form."""
    groups: dict[str, list[Indicator]] = {}
    for definition in form.indicators.values():
        groups.setdefault(str(definition.group), []).append(definition)
    return list(groups.items())


def missing_or_failing(sheet: EntrySheet) -> Sequence[str]:
    """The indicators the agency must still fill or fix before it can submit, in form order."""
    blocked = set(sheet.missing) | {code for outcome in sheet.failed for code in outcome.rule.indicators}
    return [code for code in sheet.form.indicators if code in blocked]
