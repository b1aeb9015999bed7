"""Handlers of one agency's monthly submission: enter values, the lifecycle, and its strongly consistent reads."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import assert_never
from uuid import UUID

from domain.agencies import Agency, agency_id
from domain.errors import BatchRejected, DomainError, NotFound
from domain.identity import Principal
from domain.outliers import OutlierWarning, outlier_warnings
from domain.periods import InvalidPeriod, Period, PeriodKind
from domain.submission import EntryResult, Status, Submission, submission_id
from domain.templates import Form
from domain.values import Value
from infra import metrics
from infra.request_context import current_channel
from services.ingest.application.commands import Action, ChangeStatus, EnterValues
from services.ingest.application.errors import InvalidPeriodError, PeriodNotOpen, TooManyValues
from services.ingest.application.execute import execute
from services.ingest.application.idempotency import Idempotency
from services.ingest.application.outcomes import (
    Replayed,
    StatusChanged,
    SubmissionRead,
    SubmissionState,
    ValuesEntered,
)
from services.ingest.application.reference import get
from services.ingest.application.write_side import WriteSide


def parse_period(code: str) -> Period:
    try:
        return Period.parse(code)
    except InvalidPeriod as error:
        raise InvalidPeriodError(str(error)) from None


def entry_period(ws: WriteSide, agency: Agency, code: str) -> Period:
    """The month values are entered for: its cut-off window has started, and the agency existed in it."""
    period = parse_period(code)
    if period.kind is not PeriodKind.MONTH:
        raise InvalidPeriodError("data is entered per month (YYYY-MM); other periods are derived")
    start, end = period.cutoff_window()
    if start > ws.clock.today():
        raise PeriodNotOpen(f"{period} opens on {start.isoformat()}")
    if end < agency.effective_from or (agency.effective_to is not None and start > agency.effective_to):
        raise PeriodNotOpen(f"agency {agency.code} did not exist in {period}")
    return period


def submission_for_entry(ws: WriteSide, principal: Principal, agency_code: str, period_code: str) -> Submission:
    """The submission values are entered in: the stored one, or a new one on the agency's form for the month."""
    agency = ws.reference.agency(agency_code)
    period = entry_period(ws, agency, period_code)
    try:
        return get(ws.store, submission_id(agency_code, period.code), Submission, "submission")
    except NotFound:
        if agency.template is None:
            raise PeriodNotOpen(f"agency {agency_code} has no template assigned") from None
        return Submission.open(agency_code, period, ws.reference.form(agency.template, period), principal)


def entry_form(ws: WriteSide, principal: Principal, agency_code: str, period_code: str) -> Form:
    """The form values for the month are entered on: the stored submission's, or the agency's template's."""
    return submission_form(ws, submission_for_entry(ws, principal, agency_code, period_code))


def submission_form(ws: WriteSide, submission: Submission) -> Form:
    """The form the submission was opened on (its template version, pinned)."""
    return ws.reference.form(submission.template, Period.parse(submission.period), submission.template_version)


def _existing(ws: WriteSide, agency: str, period: str) -> Submission:
    parsed = parse_period(period)
    return get(ws.store, submission_id(agency, parsed.code), Submission, f"submission {agency} {parsed}")


def _history(ws: WriteSide, submission: Submission) -> Mapping[str, Sequence[Value]]:
    return ws.history.previous_values(submission.agency, Period.parse(submission.period))


def warnings(ws: WriteSide, submission: Submission) -> tuple[OutlierWarning, ...]:
    """Outlier warnings for every current value of the submission."""
    current = {code: entry.value for code, entry in submission.values.items()}
    return tuple(outlier_warnings(current, _history(ws, submission)))


def enter_values(
    ws: WriteSide, principal: Principal, command: EnterValues, idempotency: Idempotency | None = None
) -> ValuesEntered | Replayed:
    """Submit or correct values: each accepted value becomes one event (a correction carries the previous one).

    Counted in the metrics by the channel of the request (api, web, import): the values of an
    acknowledged batch by change, those of a refused batch by reason (a retry's replayed answer is
    not counted again).
    """
    channel = current_channel()
    try:
        entered = _enter_values(ws, principal, command, idempotency)
    except BatchRejected as refused:
        reasons = Counter(rejection.reason for rejection in refused.rejections)
        reasons[refused.code] += max(0, len(command.entries) - len(refused.rejections))  # refused with their batch
        metrics.values_rejected(channel, reasons)
        raise
    except DomainError as refused:
        metrics.values_rejected(channel, {refused.code: len(command.entries)})
        raise
    if isinstance(entered, ValuesEntered):
        metrics.values_accepted(channel, len(entered.submitted), len(entered.corrected), len(entered.unchanged))
    return entered


def _enter_values(
    ws: WriteSide, principal: Principal, command: EnterValues, idempotency: Idempotency | None
) -> ValuesEntered | Replayed:
    if len(command.entries) > ws.max_values_per_batch:
        raise TooManyValues(f"at most {ws.max_values_per_batch} values per batch")
    entries = [(entry.indicator, entry.value) for entry in command.entries]

    def change(submission: Submission) -> tuple[EntryResult, tuple[OutlierWarning, ...]]:
        result = submission.enter_values(entries, submission_form(ws, submission), principal, command.reason)
        # Warnings about this batch's values, computed before the save (the save only stores).
        batch = {code: submission.values[code].value for code, _ in entries}
        return result, tuple(outlier_warnings(batch, _history(ws, submission)))

    def outcome(
        submission: Submission, done: tuple[EntryResult, tuple[OutlierWarning, ...]], positions: Sequence[int]
    ) -> ValuesEntered:
        result, found = done
        return ValuesEntered(
            SubmissionState.of(submission),
            tuple(result.submitted),
            tuple(result.corrected),
            tuple(result.unchanged),
            found,
            positions=tuple(positions),
        )

    return execute(
        ws.store,
        lambda: submission_for_entry(ws, principal, command.agency, command.period),
        change,
        outcome,
        idempotency=idempotency,
        expected_version=command.expected_version,
        reads=lambda: _submission_reads(ws, command.agency, command.period),
    )


def _submission_reads(ws: WriteSide, agency_code: str, period_code: str) -> list[UUID]:
    """What a command on one month's submission reads: the agency, the submission, its form's definitions,
    the months before (`versions_read_together`).

    The form's template is the cached submission's or agency's: if it changed since, `Reference.form`
    reads what it needs itself.
    """
    try:
        period = parse_period(period_code)
    except InvalidPeriodError:
        return []  # refused by `submission_for_entry`, after the agency's own checks
    agency, submission = agency_id(agency_code), submission_id(agency_code, period.code)
    ids = [agency, submission, *ws.history.previous_ids(agency_code, period)]
    cached = ws.store.cached(submission)
    template = cached.template if isinstance(cached, Submission) else None
    if template is None:
        cached_agency = ws.store.cached(agency)
        template = cached_agency.template if isinstance(cached_agency, Agency) else None
    if template is not None:
        ids += ws.reference.definition_ids(template)
    return ids


def change_status(
    ws: WriteSide, principal: Principal, command: ChangeStatus, idempotency: Idempotency | None = None
) -> StatusChanged | Replayed:
    """Submit (marked late after the regime's deadline, with the reason given), recall (the agency, before any
    review, with a reason), approve, return or reopen one period's report."""

    def change(submission: Submission) -> tuple[OutlierWarning, ...]:
        match command.action:
            case Action.SUBMIT:
                form = submission_form(ws, submission)
                submission.submit(form, ws.regime, ws.clock.today(), principal, command.reason)
                return warnings(ws, submission)
            case Action.RECALL:
                submission.recall(principal, command.reason)
            case Action.APPROVE:
                submission.approve(principal, command.reason)
            case Action.RETURN:
                submission.return_for_revision(principal, command.reason)
            case Action.REOPEN:
                submission.reopen(principal, command.reason)
            case _:
                assert_never(command.action)
        return ()

    def outcome(submission: Submission, found: tuple[OutlierWarning, ...], positions: Sequence[int]) -> StatusChanged:
        return StatusChanged(SubmissionState.of(submission), command.action, found, positions=tuple(positions))

    return execute(
        ws.store,
        lambda: _existing(ws, command.agency, command.period),
        change,
        outcome,
        idempotency=idempotency,
        expected_version=command.expected_version,
        reads=lambda: _submission_reads(ws, command.agency, command.period),
    )


def read_submission(ws: WriteSide, agency: str, period: str) -> SubmissionRead:
    """The submission as stored now (strongly consistent: the aggregate, not a read model), with its checks."""
    with ws.store.versions_read_together() as read_versions:
        read_versions(_submission_reads(ws, agency, period))
        submission = _existing(ws, agency, period)
        missing, rules = submission.check(submission_form(ws, submission))
        return SubmissionRead(
            SubmissionState.of(submission),
            dict(submission.values),
            warnings(ws, submission),
            tuple(missing),
            tuple(rules),
        )


def template_form(ws: WriteSide, template: str, period: str) -> Form:
    """The indicators and rules of a template for a period."""
    return ws.reference.form(template, parse_period(period))


@dataclass(frozen=True)
class ReviewResult:
    """One report of a bulk review: its outcome, or why it was refused; its status now."""

    agency: str
    period: str
    outcome: StatusChanged | Replayed | None
    refusal: DomainError | None
    status: Status | None  # None when the report does not exist


def review_many(
    ws: WriteSide,
    principal: Principal,
    action: Action,
    reports: Sequence[tuple[str, str]],
    keys: Callable[[str, str], Idempotency | None],
    reason: str | None = None,
) -> list[ReviewResult]:
    """The same lifecycle step for each report, one command each (its own Idempotency-Key from `keys`): a
    report that is refused (reviewed meanwhile, recalled...) does not stop the others."""
    results = []
    for agency, period in dict.fromkeys(reports):
        try:
            outcome = change_status(ws, principal, ChangeStatus(agency, period, action, reason), keys(agency, period))
        except DomainError as refusal:
            try:
                status: Status | None = _existing(ws, agency, period).status
            except DomainError:
                status = None
            results.append(ReviewResult(agency, period, None, refusal, status))
            continue
        status = Status(outcome.to_json()["status"])
        results.append(ReviewResult(agency, period, outcome, None, status))
    return results
