"""The write application's handlers on the in-memory event store, with a fake clock and the seed regime.

No PostgreSQL: what is checked here is the handlers' own logic (the execute loop's guarantees,
Idempotency-Key replays, the clock's say on lateness and open periods); the e2e tests check the
same guarantees over HTTP on the real store.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.domain import Aggregate

from domain.access import Secret
from domain.agencies import AgencyKind
from domain.catalogue import Indicator
from domain.errors import (
    BatchRejected,
    Conflict,
    DomainError,
    Forbidden,
    InvalidAgencyChange,
    InvalidDefinition,
    InvalidReference,
    InvalidTemplateChange,
    InvalidTransition,
    NotFound,
    ReasonRequired,
    SubmissionLocked,
)
from domain.identity import Principal, Role
from domain.periods import Period
from domain.report_definitions import InvalidReportDefinition, ReportSpec
from domain.submission import Status, Submission, submission_id
from entrypoints.bootstrap import in_memory_write_side, write_side
from infra.memory_event_store import InMemoryEventStore
from services.ingest.application.catalogue import define_indicators, define_report, publish_template
from services.ingest.application.commands import (
    Action,
    AssignTemplate,
    ChangeStatus,
    CloseAgency,
    DefineIndicators,
    DefineReport,
    EnterValues,
    PublishTemplate,
    RegisterAgency,
    RenameAgency,
)
from services.ingest.application.errors import IdempotencyKeyReused, InvalidPeriodError, PeriodNotOpen, TooManyValues
from services.ingest.application.idempotency import Idempotency
from services.ingest.application.outcomes import (
    AgencyChanged,
    IndicatorsDefined,
    Outcome,
    Replayed,
    ReportDefined,
    StatusChanged,
    TemplatePublished,
    ValuesEntered,
)
from services.ingest.application.ports import PendingAnswer
from services.ingest.application.registry import assign_template, close_agency, register_agency, rename_agency
from services.ingest.application.seed import load_seed
from services.ingest.application.submissions import change_status, enter_values, read_submission
from services.ingest.application.write_side import WriteSide

TODAY = date(2025, 8, 20)  # in the cut-off window of 2025-09 (it opened on 15 August)
OPEN = "2025-09"  # deadline 2025-09-15: on time today
PAST = "2025-07"  # deadline 2025-07-15: 36 days late today
TEMPLATE = "UNIFIED-PROVINCIAL"

AGENCY = Principal("agency_reporter:P01:test", Role.AGENCY_REPORTER, "P01")
REVIEWER = Principal("ministry_reviewer:test", Role.MINISTRY_REVIEWER)
ADMIN = Principal("admin:test", Role.ADMIN)


class FakeClock:
    def __init__(self, today: date) -> None:
        self.day = today

    def today(self) -> date:
        return self.day


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(TODAY)


@pytest.fixture
def ws(clock: FakeClock) -> WriteSide:
    seeded = in_memory_write_side(clock=clock)
    load_seed(seeded)
    return seeded


def memory(ws: WriteSide) -> InMemoryEventStore:
    assert isinstance(ws.store, InMemoryEventStore)
    return ws.store


def count(ws: WriteSide) -> int:
    return memory(ws).event_count()


def events(ws: WriteSide, agency: str, period: str) -> list[Any]:
    return list(memory(ws).application.events.get(submission_id(agency, period)))


def codes(ws: WriteSide, value_type: str, period: str = OPEN) -> list[str]:
    form = ws.reference.form(TEMPLATE, Period.parse(period))
    return [code for code, indicator in form.indicators.items() if indicator.value_type == value_type]


def complete(ws: WriteSide, period: str) -> list[tuple[str, object]]:
    """Every required indicator, with values that pass every rule: zeros, false and "-"."""
    defaults: dict[str, object] = {"integer": 0, "decimal": "0", "percentage": "0", "boolean": False, "text": "-"}
    form = ws.reference.form(TEMPLATE, Period.parse(period))
    return [(code, defaults[i.value_type]) for code, i in form.indicators.items() if i.required]


def enter(ws: WriteSide, entries: Sequence[tuple[str, object]], period: str = OPEN, **kwargs: Any) -> ValuesEntered:
    reason = kwargs.pop("reason", None)
    command = EnterValues.of("P01", period, entries, reason)
    if "expected_version" in kwargs:
        command = EnterValues(command.agency, command.period, command.entries, reason, kwargs.pop("expected_version"))
    outcome = enter_values(ws, AGENCY, command, **kwargs)
    assert isinstance(outcome, ValuesEntered)
    return outcome


AGENCY_STEPS = (Action.SUBMIT, Action.RECALL)


def step(
    ws: WriteSide, action: Action, reason: str | None = None, period: str = OPEN, key: Idempotency | None = None
) -> StatusChanged | Replayed:
    principal = AGENCY if action in AGENCY_STEPS else REVIEWER
    return change_status(ws, principal, ChangeStatus("P01", period, action, reason), key)


def key(name: str, body: object, principal: Principal = AGENCY, path: str = "/agencies/P01/periods/x") -> Idempotency:
    return Idempotency.of(principal.subject, name, "POST", path, body)


def refused(ws: WriteSide, error: type[DomainError], call: Callable[[], object]) -> DomainError:
    """`call` is refused with `error`, and stores nothing."""
    before = count(ws)
    with pytest.raises(error) as raised:
        call()
    assert count(ws) == before, f"{error.__name__} stored something"
    return raised.value


# ---- values -------------------------------------------------------------------


def test_each_value_is_one_event_and_the_answer_names_their_positions(ws: WriteSide) -> None:
    integers = codes(ws, "integer")[:3]
    before = count(ws)
    entered = enter(ws, [(code, n) for n, code in enumerate(integers)])
    assert entered.submitted == tuple(integers)
    assert (entered.corrected, entered.unchanged, entered.warnings) == ((), (), ())
    assert entered.positions == tuple(range(before + 1, before + 5)), "the opening and one event per value"
    assert entered.to_json()["position"] == before + 4
    assert (entered.submission.status, entered.submission.version) == (Status.DRAFT, 4)

    again = enter(ws, [(code, n) for n, code in enumerate(integers)])
    assert (again.unchanged, again.positions, again.to_json()["position"]) == (tuple(integers), (), None)
    assert count(ws) == before + 4

    read = read_submission(ws, "P01", OPEN).to_json()
    assert [(v["indicator"], v["value"]) for v in read["values"]] == [(c, n) for n, c in enumerate(integers)]
    assert read["version"] == 4
    assert read["missing_required"], "a draft with three values misses required indicators"


def test_corrections_need_a_reason_only_after_a_first_submission(ws: WriteSide) -> None:
    values = complete(ws, OPEN)
    code = str(values[0][0])
    enter(ws, values)
    assert enter(ws, [(code, 5)]).corrected == (code,), "a draft is corrected freely"
    enter(ws, [(code, 0)])
    step(ws, Action.SUBMIT)
    step(ws, Action.RETURN, "thiếu số liệu")

    refused(ws, ReasonRequired, lambda: enter(ws, [(code, 7)]))
    fixed = enter(ws, [(code, 7)], reason="bổ sung theo yêu cầu")
    assert fixed.corrected == (code,)
    correction = events(ws, "P01", OPEN)[-1]
    assert isinstance(correction, Submission.IndicatorValueCorrected)
    assert (correction.previous_value, correction.value, correction.reason) == (0, 7, "bổ sung theo yêu cầu")


def test_submitting_is_on_time_or_late_by_the_clock(ws: WriteSide, clock: FakeClock) -> None:
    for period in (OPEN, PAST):
        enter(ws, complete(ws, period), period=period)
        submitted = step(ws, Action.SUBMIT, period=period)
        assert isinstance(submitted, StatusChanged)
        assert submitted.submission.status is Status.SUBMITTED
        assert submitted.to_json()["warnings"] == []
    on_time, late = events(ws, "P01", OPEN)[-1], events(ws, "P01", PAST)[-1]
    assert isinstance(on_time, Submission.ReportSubmitted)
    assert isinstance(late, Submission.ReportSubmitted)
    assert (on_time.deadline, on_time.late, on_time.days_late) == ("2025-09-15", False, 0)
    assert (late.deadline, late.late, late.days_late) == ("2025-07-15", True, 36)

    # The same month submitted again after the deadline (returned, then resubmitted) is late.
    step(ws, Action.RETURN, "kiểm tra lại")
    clock.day = date(2025, 9, 20)
    step(ws, Action.SUBMIT)
    resubmitted = events(ws, "P01", OPEN)[-1]
    assert (resubmitted.late, resubmitted.days_late) == (True, 5)


def test_the_review_lifecycle(ws: WriteSide) -> None:
    enter(ws, complete(ws, OPEN))
    refused(ws, InvalidTransition, lambda: step(ws, Action.APPROVE))
    step(ws, Action.SUBMIT)
    refused(ws, SubmissionLocked, lambda: enter(ws, [(codes(ws, "integer")[0], 1)]))
    refused(ws, InvalidTransition, lambda: step(ws, Action.SUBMIT))
    refused(ws, ReasonRequired, lambda: step(ws, Action.RETURN, "  "))
    statuses = []
    for action, reason in (
        (Action.APPROVE, None),
        (Action.REOPEN, "điều chỉnh số liệu"),
        (Action.SUBMIT, None),
        (Action.RETURN, "thiếu số liệu"),
    ):
        if action is Action.REOPEN:
            refused(ws, ReasonRequired, lambda: step(ws, Action.REOPEN))
        outcome = step(ws, action, reason)
        assert isinstance(outcome, StatusChanged)
        assert len(outcome.positions) == 1
        statuses.append(outcome.submission.status)
    assert statuses == [Status.APPROVED, Status.REOPENED, Status.SUBMITTED, Status.RETURNED]
    refused(ws, InvalidTransition, lambda: step(ws, Action.REOPEN, "only an approved report"))
    refused(ws, NotFound, lambda: step(ws, Action.APPROVE, period="2024-01"))


def test_a_reason_given_with_submit_is_kept_in_its_event(ws: WriteSide) -> None:
    enter(ws, complete(ws, OPEN))
    step(ws, Action.SUBMIT, "Số liệu chốt ngày 14, đã đối chiếu với Cục Thống kê")
    submitted = events(ws, "P01", OPEN)[-1]
    assert isinstance(submitted, Submission.ReportSubmitted)
    assert submitted.reason == "Số liệu chốt ngày 14, đã đối chiếu với Cục Thống kê"
    step(ws, Action.RETURN, "thiếu số liệu")
    step(ws, Action.SUBMIT)
    again = events(ws, "P01", OPEN)[-1]
    assert isinstance(again, Submission.ReportSubmitted)
    assert again.reason is None


def test_the_agency_recalls_a_report_nobody_reviewed_corrects_it_with_a_reason_and_resubmits(ws: WriteSide) -> None:
    values = complete(ws, OPEN)
    code = str(values[0][0])
    enter(ws, values)
    refused(ws, InvalidTransition, lambda: step(ws, Action.RECALL, "chưa gửi"))
    step(ws, Action.SUBMIT)
    refused(ws, ReasonRequired, lambda: step(ws, Action.RECALL))
    refused(ws, ReasonRequired, lambda: step(ws, Action.RECALL, "   "))
    refused(
        ws,
        InvalidTransition,
        lambda: change_status(ws, REVIEWER, ChangeStatus("P01", OPEN, Action.RECALL, "thẩm định viên")),
    )
    other = Principal("agency_reporter:P79:test", Role.AGENCY_REPORTER, "P79")
    refused(ws, InvalidTransition, lambda: change_status(ws, other, ChangeStatus("P01", OPEN, Action.RECALL, "x")))

    recalled = step(ws, Action.RECALL, "Gửi nhầm số liệu của tháng trước")
    assert isinstance(recalled, StatusChanged)
    assert recalled.submission.status is Status.RECALLED
    assert "warnings" not in recalled.to_json()
    event = events(ws, "P01", OPEN)[-1]
    assert isinstance(event, Submission.ReportRecalled)
    assert (event.reason, event.actor, event.role) == (
        "Gửi nhầm số liệu của tháng trước",
        AGENCY.subject,
        "agency_reporter",
    )

    refused(ws, ReasonRequired, lambda: enter(ws, [(code, 3)]))
    assert enter(ws, [(code, 3)], reason="sửa số liệu gửi nhầm").corrected == (code,)
    again = step(ws, Action.SUBMIT)
    assert isinstance(again, StatusChanged)
    assert (again.submission.status, again.submission.times_submitted) == (Status.SUBMITTED, 2)
    step(ws, Action.APPROVE)
    refused(ws, InvalidTransition, lambda: step(ws, Action.RECALL, "đã duyệt rồi"))


def test_the_aggregate_keeps_the_last_step_with_its_reason(ws: WriteSide) -> None:
    enter(ws, complete(ws, OPEN))
    step(ws, Action.SUBMIT)
    step(ws, Action.RETURN, "Thiếu số liệu bưu chính")
    submission = memory(ws).get(submission_id("P01", OPEN))
    assert isinstance(submission, Submission)
    assert submission.last_step is not None
    last = submission.last_step
    assert (last.status, last.reason, last.actor, last.role) == (
        Status.RETURNED,
        "Thiếu số liệu bưu chính",
        REVIEWER.subject,
        "ministry_reviewer",
    )
    assert last.at.tzinfo is not None


# ---- concurrency ----------------------------------------------------------------


def test_a_named_version_that_is_no_longer_current_is_a_conflict(ws: WriteSide) -> None:
    code = codes(ws, "integer")[0]
    version = enter(ws, [(code, 1)]).submission.version
    error = refused(ws, Conflict, lambda: enter(ws, [(code, 2)], expected_version=version - 1))
    assert error.extra() == {"current_version": version}
    assert enter(ws, [(code, 2)], expected_version=version).corrected == (code,)


@dataclass
class RacingStore:
    """The event store, with another writer's batch slipped in just before the first save."""

    store: InMemoryEventStore
    rival: Callable[[], object]
    raced: bool = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def save(
        self, aggregate: Aggregate, answer: PendingAnswer | None = None, secrets: Sequence[Secret] = ()
    ) -> Sequence[int]:
        if not self.raced:
            self.raced = True
            self.rival()
        return self.store.save(aggregate, answer, secrets)

    def get(self, aggregate_id: UUID, *, read_only: bool = False) -> Aggregate | None:
        return self.store.get(aggregate_id, read_only=read_only)


def test_a_version_clash_is_retried_on_fresh_state_or_refused_when_the_version_was_named(ws: WriteSide) -> None:
    first, second = codes(ws, "integer")[:2]
    enter(ws, [(first, 1)])
    racing = RacingStore(memory(ws), lambda: enter(ws, [(first, 2)]))
    raced = write_side(racing, clock=ws.clock)

    # The rival took the next version: the command runs again on the state after it.
    retried = enter_values(raced, AGENCY, EnterValues.of("P01", OPEN, [(first, 3), (second, 1)]))
    assert isinstance(retried, ValuesEntered)
    assert (retried.corrected, retried.submitted) == ((first,), (second,))
    correction = [e for e in events(ws, "P01", OPEN) if isinstance(e, Submission.IndicatorValueCorrected)][-1]
    assert (correction.previous_value, correction.value) == (2, 3), "no update lost"

    # Named, the version the client saw is gone: a conflict, and only the rival's event is stored.
    racing.raced = False
    version = retried.submission.version
    command = EnterValues("P01", OPEN, EnterValues.of("P01", OPEN, [(first, 4)]).entries, None, version)
    before = count(ws)
    with pytest.raises(Conflict) as raised:
        enter_values(raced, AGENCY, command)
    assert raised.value.extra() == {"current_version": version + 1}
    assert count(ws) == before + 1


# ---- Idempotency-Key --------------------------------------------------------------


def replay(outcome: Outcome, first: Outcome) -> None:
    assert isinstance(outcome, Replayed)
    assert outcome.body() == first.body()


def test_a_retried_values_post_answers_as_the_first_did_even_once_the_report_is_locked(ws: WriteSide) -> None:
    values = complete(ws, OPEN)
    body = {"values": [{"indicator": c, "value": v} for c, v in values]}
    first = enter(ws, values, idempotency=key("values-1", body))
    step(ws, Action.SUBMIT)
    before = count(ws)
    retried = enter_values(ws, AGENCY, EnterValues.of("P01", OPEN, values), key("values-1", body))
    replay(retried, first)
    assert count(ws) == before
    assert retried.to_json()["submitted"] == [code for code, _ in values]

    other = {"values": [{"indicator": values[0][0], "value": 99}]}
    refused(
        ws,
        IdempotencyKeyReused,
        lambda: enter_values(ws, AGENCY, EnterValues.of("P01", OPEN, [(values[0][0], 99)]), key("values-1", other)),
    )


@pytest.mark.parametrize("action", list(Action))
def test_a_retried_lifecycle_step_answers_as_the_first_did_after_the_state_moved_on(
    ws: WriteSide, action: Action
) -> None:
    reason = {Action.RETURN: "thiếu số liệu", Action.REOPEN: "điều chỉnh", Action.RECALL: "gửi nhầm"}.get(action)
    principal = AGENCY if action in AGENCY_STEPS else REVIEWER
    enter(ws, complete(ws, OPEN))
    if action is not Action.SUBMIT:
        step(ws, Action.SUBMIT)
    if action is Action.REOPEN:
        step(ws, Action.APPROVE)
    the_key = key(f"{action}-1", {"reason": reason}, principal)
    first = step(ws, action, reason, key=the_key)
    assert isinstance(first, StatusChanged)
    # The report moves on, so running the step again would be refused (an invalid transition).
    moves = {
        Action.SUBMIT: (Action.APPROVE, None),
        Action.APPROVE: (Action.REOPEN, "mở lại"),
        Action.RETURN: (Action.SUBMIT, None),
        Action.REOPEN: (Action.SUBMIT, None),
        Action.RECALL: (Action.SUBMIT, None),
    }
    step(ws, *moves[action])
    before = count(ws)
    replay(step(ws, action, reason, key=the_key), first)
    assert count(ws) == before
    refused(ws, IdempotencyKeyReused, lambda: step(ws, action, "another reason", key=key(f"{action}-1", {}, principal)))


def test_an_answer_that_stored_no_event_is_replayed_too(ws: WriteSide) -> None:
    code = codes(ws, "integer")[0]
    enter(ws, [(code, 1)])
    body = {"values": [{"indicator": code, "value": 1}]}
    unchanged = enter(ws, [(code, 1)], idempotency=key("same-1", body))
    assert unchanged.positions == ()
    enter(ws, [(code, 2)])
    replay(enter_values(ws, AGENCY, EnterValues.of("P01", OPEN, [(code, 1)]), key("same-1", body)), unchanged)


def test_a_refusal_stores_no_answer_so_the_same_key_may_succeed_later(ws: WriteSide, clock: FakeClock) -> None:
    code = codes(ws, "integer")[0]
    body = {"values": [{"indicator": code, "value": 1}]}
    command = EnterValues.of("P01", "2025-10", [(code, 1)])  # opens on 15 September
    refused(ws, PeriodNotOpen, lambda: enter_values(ws, AGENCY, command, key("october-1", body)))
    clock.day = date(2025, 9, 15)
    assert isinstance(enter_values(ws, AGENCY, command, key("october-1", body)), ValuesEntered)


# ---- refusals ------------------------------------------------------------------------


def test_refused_values_store_nothing(ws: WriteSide) -> None:
    integer, percentage = codes(ws, "integer")[0], codes(ws, "percentage")[0]
    error = refused(ws, BatchRejected, lambda: enter(ws, [(integer, 1), ("NO.SUCH", 1), (percentage, 101)]))
    assert [(e["index"], e["reason"]) for e in error.extra()["errors"]] == [
        (1, "unknown-indicator"),
        (2, "out-of-range"),
    ]
    refused(ws, PeriodNotOpen, lambda: enter(ws, [(integer, 1)], period="2025-10"))
    refused(ws, PeriodNotOpen, lambda: enter(ws, [(integer, 1)], period="2007-12"))
    refused(ws, InvalidPeriodError, lambda: enter(ws, [(integer, 1)], period="2025Q3"))
    refused(ws, InvalidPeriodError, lambda: enter(ws, [(integer, 1)], period="soon"))
    ws.max_values_per_batch = 2
    refused(ws, TooManyValues, lambda: enter(ws, [(code, 1) for code in codes(ws, "integer")[:3]]))
    other = Principal("agency_reporter:P79:test", Role.AGENCY_REPORTER, "P79")
    refused(ws, Forbidden, lambda: enter_values(ws, other, EnterValues.of("P01", OPEN, [(integer, 1)])))


# ---- the registry --------------------------------------------------------------------


def new_agency(code: str = "P99", **fields: Any) -> RegisterAgency:
    return RegisterAgency(
        code=code,
        name_vi=f"Sở thử nghiệm {code}",
        kind=AgencyKind.PROVINCIAL_DEPARTMENT,
        effective_from=date(2020, 1, 1),
        **{"template": TEMPLATE, **fields},
    )


def test_registering_renaming_and_merging_an_agency(ws: WriteSide, clock: FakeClock) -> None:
    registered = register_agency(ws, ADMIN, new_agency())
    assert isinstance(registered, AgencyChanged)
    assert registered.position is not None
    assert registered.to_json()["template"] == TEMPLATE
    again = register_agency(ws, ADMIN, new_agency())
    assert isinstance(again, AgencyChanged)
    assert again.position is None, "registering it again changes nothing"

    renamed = rename_agency(ws, ADMIN, RenameAgency("P99", date(2025, 3, 1), "Sở Khoa học thử nghiệm"))
    assert isinstance(renamed, AgencyChanged)
    assert [n["name_vi"] for n in renamed.agency["names"]] == ["Sở thử nghiệm P99", "Sở Khoa học thử nghiệm"]
    refused(ws, InvalidAgencyChange, lambda: rename_agency(ws, ADMIN, RenameAgency("P99", date(2024, 1, 1), "Cũ")))
    refused(ws, InvalidReference, lambda: close_agency(ws, ADMIN, CloseAgency("P99", date(2025, 6, 30), "NOPE")))
    refused(ws, NotFound, lambda: close_agency(ws, ADMIN, CloseAgency("NOPE", date(2025, 6, 30))))

    merged = close_agency(ws, ADMIN, CloseAgency("P99", date(2025, 6, 30), "P79"))
    assert isinstance(merged, AgencyChanged)
    assert (merged.agency["effective_to"], merged.agency["successor"]) == ("2025-06-30", "P79")
    refused(ws, InvalidTransition, lambda: assign_template(ws, ADMIN, AssignTemplate("P99", TEMPLATE)))
    reporter = Principal("agency_reporter:P99:test", Role.AGENCY_REPORTER, "P99")
    command = EnterValues.of("P99", "2025-08", [(codes(ws, "integer")[0], 1)])
    refused(ws, PeriodNotOpen, lambda: enter_values(ws, reporter, command))
    assert isinstance(enter_values(ws, reporter, EnterValues("P99", "2025-06", command.entries)), ValuesEntered)


def test_registration_refuses_what_it_cannot_resolve(ws: WriteSide) -> None:
    refused(ws, InvalidReference, lambda: register_agency(ws, ADMIN, new_agency(template="NO-SUCH-TEMPLATE")))
    refused(ws, InvalidReference, lambda: register_agency(ws, ADMIN, new_agency(parent="NO-SUCH-PARENT")))
    refused(ws, InvalidAgencyChange, lambda: register_agency(ws, ADMIN, new_agency(merged_into="P79")))
    refused(ws, InvalidAgencyChange, lambda: RegisterAgency.from_dict({"code": "P98", "kind": "planet"}))
    parsed = RegisterAgency.from_dict(
        {"code": "P98", "name_vi": "Sở P98", "kind": "provincial_department", "effective_from": "2020-01-01"}
    )
    assert (parsed.kind, parsed.effective_from) == (AgencyKind.PROVINCIAL_DEPARTMENT, date(2020, 1, 1))


# ---- the catalogue, templates, report definitions -----------------------------------------


def test_indicators_are_defined_once_and_their_type_never_changes(ws: WriteSide) -> None:
    new = {
        "code": "TEST.NEW",
        "name_vi": "Chỉ tiêu mới",
        "name_en": "New",
        "group": "postal",
        "unit": "cái",
        "value_type": "integer",
        "aggregation_time": "sum",
        "aggregation_agencies": "sum",
    }
    defined = define_indicators(ws, ADMIN, DefineIndicators.from_dicts([new]))
    assert isinstance(defined, IndicatorsDefined)
    assert (defined.changed, defined.indicators, len(defined.positions)) == (("TEST.NEW",), 105, 1)
    unchanged = define_indicators(ws, ADMIN, DefineIndicators.from_dicts([new]))
    assert isinstance(unchanged, IndicatorsDefined)
    assert (unchanged.changed, unchanged.positions) == ((), ())
    retyped = DefineIndicators((Indicator.from_dict({**new, "value_type": "decimal"}),))
    refused(ws, InvalidDefinition, lambda: define_indicators(ws, ADMIN, retyped))
    with pytest.raises(InvalidDefinition):
        DefineIndicators.from_dicts([{**new, "min": "q8"}])


def test_a_template_version_starts_at_a_month_not_yet_open(ws: WriteSide) -> None:
    indicators = tuple(ws.reference.form(TEMPLATE, Period.parse(OPEN)).indicators)[:5]
    too_early = PublishTemplate(TEMPLATE, OPEN, indicators)  # after the latest version, but already open
    error = refused(ws, InvalidTemplateChange, lambda: publish_template(ws, ADMIN, too_early))
    assert "2025-10 or later" in error.detail
    published = publish_template(ws, ADMIN, PublishTemplate(TEMPLATE, "2025-10", indicators))
    assert isinstance(published, TemplatePublished)
    assert published.to_json() == {"template": TEMPLATE, "version": published.version, "position": published.position}
    assert tuple(ws.reference.form(TEMPLATE, Period.parse("2025-10")).indicators) == indicators
    refused(
        ws, InvalidTemplateChange, lambda: publish_template(ws, ADMIN, PublishTemplate("NEW-T", "2025-10", indicators))
    )
    base = PublishTemplate("NEW-T", "2025-10", indicators, name_vi="Mới", applies_to="x", base="NEW-T")
    refused(ws, InvalidReference, lambda: publish_template(ws, ADMIN, base))


def test_a_form_already_built_follows_a_new_template_version_and_a_catalogue_change(ws: WriteSide) -> None:
    before = ws.reference.form(TEMPLATE, Period.parse("2025-10"))
    assert ws.reference.form(TEMPLATE, Period.parse("2025-10")) is before, "built once while nothing changes"
    indicators = tuple(before.indicators)[:5]
    publish_template(ws, ADMIN, PublishTemplate(TEMPLATE, "2025-10", indicators))
    after = ws.reference.form(TEMPLATE, Period.parse("2025-10"))
    assert tuple(after.indicators) == indicators
    renamed = {**before.indicators[indicators[0]].to_dict(), "name_vi": "Tên mới"}
    define_indicators(ws, ADMIN, DefineIndicators.from_dicts([renamed]))
    assert ws.reference.form(TEMPLATE, Period.parse("2025-10")).indicators[indicators[0]].name_vi == "Tên mới"


def test_report_definitions_select_known_indicators(ws: WriteSide) -> None:
    spec = ReportSpec("TEST-REPORT", "Báo cáo thử", "", Period.parse("2025").kind, "national", ("POS.ITEMS",))
    defined = define_report(ws, ADMIN, DefineReport(spec))
    assert isinstance(defined, ReportDefined)
    assert (defined.revision, defined.to_json()["indicators"]) == (1, ["POS.ITEMS"])
    revised = define_report(
        ws, REVIEWER, DefineReport(ReportSpec(**{**spec.to_dict(), "indicators": ("POS.LETTERS",)}))
    )
    assert isinstance(revised, ReportDefined)
    assert revised.revision == 2
    unknown = ReportSpec("TEST-REPORT", "Báo cáo thử", "", spec.period_kind, "national", ("NO.SUCH",))
    refused(ws, InvalidReportDefinition, lambda: define_report(ws, ADMIN, DefineReport(unknown)))
