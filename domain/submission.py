"""The submission of one agency for one reporting period, and its lifecycle.

draft -> submitted -> approved | returned (by the ministry) | recalled (by the agency, before any
review); approved -> reopened (by the ministry). Every accepted value is its own event; a changed
value is a correction carrying the previous one. Values can change only in draft, returned,
recalled or reopened.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.errors import (
    BatchRejected,
    Forbidden,
    InvalidSource,
    InvalidTransition,
    ReasonRequired,
    SubmissionLocked,
    ValidationFailed,
    ValueRejection,
)
from domain.identity import Principal
from domain.ids import aggregate_id
from domain.periods import Period, ReportingRegime
from domain.rules import RuleOutcome, Severity
from domain.templates import Form
from domain.values import InvalidValue, Value, has_control_characters, nfc

MAX_REASON_LENGTH = 2000
# Where imported values came from: the SHA-256 of the file, kept by the import file store.
_SOURCE = re.compile(r"sha256:[0-9a-f]{64}")


class Status(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    RETURNED = "returned"
    RECALLED = "recalled"
    REOPENED = "reopened"

    @property
    def editable(self) -> bool:
        return self in (Status.DRAFT, Status.RETURNED, Status.RECALLED, Status.REOPENED)


_CONTAINERS = (dict, list, set)


@dataclass(frozen=True)
class CurrentValue:
    value: Value
    actor: str
    version: int


@dataclass(frozen=True)
class LifecycleStep:
    """The latest lifecycle step of a report: what the agency is told on its form (why it was returned...)."""

    status: Status
    reason: str | None
    actor: str
    role: str
    at: datetime
    days_late: int | None = None  # of a submission


@dataclass
class EntryResult:
    """What a batch did, value by value (indicator codes in batch order)."""

    submitted: list[str] = field(default_factory=list)
    corrected: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def submission_id(agency: str, period: str) -> UUID:
    return aggregate_id("submission", agency, period)


class Submission(Aggregate):
    class Opened(Aggregate.Created):
        agency: str
        period: str
        template: str
        template_version: int
        actor: str
        role: str

    class IndicatorValueSubmitted(Aggregate.Event):
        agency: str
        period: str
        indicator: str
        value: Value
        actor: str
        role: str
        source: str | None  # `sha256:<hex>` of the imported file; None when entered directly

        def apply(self, aggregate: Submission) -> None:
            aggregate.values[self.indicator] = CurrentValue(self.value, self.actor, self.originator_version)

    class IndicatorValueCorrected(Aggregate.Event):
        agency: str
        period: str
        indicator: str
        value: Value
        previous_value: Value
        reason: str | None
        actor: str
        role: str
        source: str | None

        def apply(self, aggregate: Submission) -> None:
            aggregate.values[self.indicator] = CurrentValue(self.value, self.actor, self.originator_version)

    class ReportSubmitted(Aggregate.Event):
        agency: str
        period: str
        deadline: str
        late: bool
        days_late: int
        reason: str | None
        actor: str
        role: str

        def apply(self, aggregate: Submission) -> None:
            aggregate.status = Status.SUBMITTED
            aggregate.times_submitted += 1
            aggregate.days_late = self.days_late
            aggregate.last_step = LifecycleStep(
                Status.SUBMITTED, self.reason, self.actor, self.role, self.timestamp, self.days_late
            )

    class ReportRecalled(Aggregate.Event):
        """The agency withdraws a report it submitted, before the ministry reviewed it."""

        agency: str
        period: str
        reason: str
        actor: str
        role: str

        def apply(self, aggregate: Submission) -> None:
            aggregate.status = Status.RECALLED
            aggregate.last_step = LifecycleStep(Status.RECALLED, self.reason, self.actor, self.role, self.timestamp)

    class ReportApproved(Aggregate.Event):
        agency: str
        period: str
        reason: str | None
        actor: str
        role: str

        def apply(self, aggregate: Submission) -> None:
            aggregate.status = Status.APPROVED
            aggregate.last_step = LifecycleStep(Status.APPROVED, self.reason, self.actor, self.role, self.timestamp)

    class ReportReturned(Aggregate.Event):
        agency: str
        period: str
        reason: str
        actor: str
        role: str

        def apply(self, aggregate: Submission) -> None:
            aggregate.status = Status.RETURNED
            aggregate.last_step = LifecycleStep(Status.RETURNED, self.reason, self.actor, self.role, self.timestamp)

    class ReportReopened(Aggregate.Event):
        agency: str
        period: str
        reason: str
        actor: str
        role: str

        def apply(self, aggregate: Submission) -> None:
            aggregate.status = Status.REOPENED
            aggregate.last_step = LifecycleStep(Status.REOPENED, self.reason, self.actor, self.role, self.timestamp)

    def __init__(
        self,
        agency: str,
        period: str,
        template: str,
        template_version: int,
        actor: str,
        role: str,
    ) -> None:
        self.agency = agency
        self.period = period
        self.template = template
        self.template_version = template_version
        self.status = Status.DRAFT
        self.times_submitted = 0
        self.values: dict[str, CurrentValue] = {}
        self.last_step: LifecycleStep | None = None
        self.days_late: int | None = None  # of the latest submission

    def __deepcopy__(self, memo: dict[int, object]) -> Submission:
        """The copy a command changes, made in microseconds: its containers are copied, what they hold
        is immutable (frozen values and steps, strings, numbers, events), so nothing is shared that
        could change. The store copies its cached aggregate so for every command.
        """
        copied = copy.copy(self)
        for name, value in vars(self).items():
            if type(value) in _CONTAINERS:
                setattr(copied, name, type(value)(value))
        return copied

    @staticmethod
    def create_id(agency: str, period: str) -> UUID:
        return submission_id(agency, period)

    @classmethod
    def open(cls, agency: str, period: Period, form: Form, actor: Principal) -> Submission:
        return cls(
            agency=agency,
            period=period.code,
            template=form.template,
            template_version=form.version,
            actor=actor.subject,
            role=str(actor.role),
        )

    def _who(self, actor: Principal) -> dict[str, str]:
        return {
            "agency": self.agency,
            "period": self.period,
            "actor": actor.subject,
            "role": str(actor.role),
        }

    def enter_values(
        self,
        entries: Sequence[tuple[str, object]],
        form: Form,
        actor: Principal,
        reason: str | None = None,
        source: str | None = None,
    ) -> EntryResult:
        """Record a batch of (indicator, raw value): all of it, or nothing.

        `source` names the imported file the values come from (`sha256:<hex>`); every event carries it.
        """
        if source is not None and _SOURCE.fullmatch(source) is None:
            raise InvalidSource("a source is sha256: and the file's 64 hexadecimal digits")
        if not actor.can_write_agency(self.agency):
            raise Forbidden(f"only agency {self.agency} enters its own values")
        if not self.status.editable:
            raise SubmissionLocked(f"the report for {self.period} is {self.status}; values cannot change")
        reason = clean_reason(reason)
        parsed = self._validate(entries, form)
        # Checked before any event is triggered, so that the batch is refused whole.
        corrects = any(code in self.values and not _same(self.values[code].value, value) for code, value in parsed)
        if corrects and self.times_submitted > 0 and reason is None:
            raise ReasonRequired("after a report has been submitted, every correction needs a reason")
        result = EntryResult()
        for code, value in parsed:
            current = self.values.get(code)
            if current is None:
                self.trigger_event(
                    self.IndicatorValueSubmitted, indicator=code, value=value, source=source, **self._who(actor)
                )
                result.submitted.append(code)
            elif _same(current.value, value):
                result.unchanged.append(code)
            else:
                self.trigger_event(
                    self.IndicatorValueCorrected,
                    indicator=code,
                    value=value,
                    previous_value=current.value,
                    reason=reason,
                    source=source,
                    **self._who(actor),
                )
                result.corrected.append(code)
        return result

    def _validate(self, entries: Sequence[tuple[str, object]], form: Form) -> list[tuple[str, Value]]:
        rejections: list[ValueRejection] = []
        parsed: list[tuple[str, Value]] = []
        seen: set[str] = set()
        for index, (code, raw) in enumerate(entries):
            indicator = form.indicators.get(code)
            if indicator is None:
                rejections.append(
                    ValueRejection(
                        index,
                        code,
                        "unknown-indicator",
                        f"{code} is not on template {form.template} v{form.version}",
                    )
                )
                continue
            if code in seen:
                rejections.append(ValueRejection(index, code, "duplicate-indicator", "listed twice in the batch"))
                continue
            seen.add(code)
            try:
                parsed.append((code, indicator.parse(raw)))
            except InvalidValue as error:
                rejections.append(ValueRejection(index, code, error.reason, error.detail))
        if rejections:
            raise BatchRejected(rejections)
        return parsed

    def check(self, form: Form) -> tuple[list[str], list[RuleOutcome]]:
        """Missing required indicators and the outcome of every rule of the form."""
        current = {code: entry.value for code, entry in self.values.items()}
        missing = [code for code, indicator in form.indicators.items() if indicator.required and code not in current]
        return missing, [rule.check(current) for rule in form.rules]

    def submit(
        self, form: Form, regime: ReportingRegime, today: date, actor: Principal, reason: str | None = None
    ) -> None:
        """Submit the period's report; late submissions are accepted and marked late."""
        if not actor.can_write_agency(self.agency):
            raise InvalidTransition("only the agency itself submits its report")
        if not self.status.editable:
            raise InvalidTransition(f"the report is {self.status}; it cannot be submitted")
        missing, outcomes = self.check(form)
        failures: list[dict[str, object]] = [
            {"rule": "required", "indicator": code, "status": "missing"} for code in missing
        ]
        failures += [
            outcome.to_dict()
            for outcome in outcomes
            if outcome.status == "failed" and outcome.rule.severity is Severity.ERROR
        ]
        if failures:
            raise ValidationFailed(f"{len(failures)} check(s) failed; the report was not submitted", failures)
        period = Period.parse(self.period)
        self.trigger_event(
            self.ReportSubmitted,
            deadline=regime.deadline(period).isoformat(),
            late=regime.is_late(period, today),
            days_late=regime.days_late(period, today),
            reason=clean_reason(reason),
            **self._who(actor),
        )

    def recall(self, actor: Principal, reason: str | None) -> None:
        """Withdraw a submitted report to change it; only the agency, and only before any review."""
        if not actor.can_write_agency(self.agency):
            raise InvalidTransition("only the agency itself recalls its report")
        if self.status is not Status.SUBMITTED:
            raise InvalidTransition(f"only a submitted, not yet reviewed report can be recalled; it is {self.status}")
        self.trigger_event(self.ReportRecalled, reason=require_reason(reason), **self._who(actor))

    def approve(self, actor: Principal, reason: str | None = None) -> None:
        self._require_reviewer(actor)
        if self.status is not Status.SUBMITTED:
            raise InvalidTransition(f"only a submitted report can be approved; it is {self.status}")
        self.trigger_event(self.ReportApproved, reason=clean_reason(reason), **self._who(actor))

    def return_for_revision(self, actor: Principal, reason: str | None) -> None:
        self._require_reviewer(actor)
        if self.status is not Status.SUBMITTED:
            raise InvalidTransition(f"only a submitted report can be returned; it is {self.status}")
        self.trigger_event(self.ReportReturned, reason=require_reason(reason), **self._who(actor))

    def reopen(self, actor: Principal, reason: str | None) -> None:
        self._require_reviewer(actor)
        if self.status is not Status.APPROVED:
            raise InvalidTransition(f"only an approved report can be reopened; it is {self.status}")
        self.trigger_event(self.ReportReopened, reason=require_reason(reason), **self._who(actor))

    @staticmethod
    def _require_reviewer(actor: Principal) -> None:
        if not actor.can_review:
            raise InvalidTransition("only a ministry reviewer approves, returns or reopens")

    def describe(self) -> dict[str, Any]:
        return {
            "agency": self.agency,
            "period": self.period,
            "status": str(self.status),
            "version": self.version,
            "template": self.template,
            "template_version": self.template_version,
            "times_submitted": self.times_submitted,
        }

    def current_values(self) -> Mapping[str, CurrentValue]:
        return self.values


def _same(left: Value, right: Value) -> bool:
    # True == 1 in Python; a type change is a change.
    return type(left) is type(right) and left == right


def clean_reason(reason: str | None) -> str | None:
    if reason is None:
        return None
    text = nfc(reason).strip()
    if has_control_characters(text):
        raise ReasonRequired("a reason holds no control characters (e.g. NUL)")
    if len(text) > MAX_REASON_LENGTH:
        raise ReasonRequired(f"a reason is at most {MAX_REASON_LENGTH} characters")
    return text or None


def require_reason(reason: str | None) -> str:
    text = clean_reason(reason)
    if text is None:
        raise ReasonRequired("a reason is required")
    return text
