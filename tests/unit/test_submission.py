"""The submission aggregate: values, corrections and every lifecycle transition, without a server."""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal
from enum import Enum
from uuid import UUID

import pytest

from domain.catalogue import Catalogue, Indicator, IndicatorGroup
from domain.errors import (
    BatchRejected,
    Forbidden,
    InvalidTransition,
    ReasonRequired,
    SubmissionLocked,
    ValidationFailed,
)
from domain.identity import Principal, Role
from domain.periods import CIRCULAR_02_2023, Period
from domain.rules import Expression, Rule, Severity
from domain.submission import Status, Submission
from domain.templates import Form, Template
from domain.values import Aggregation, ValueType

AGENCY = Principal("agency:P01:x", Role.AGENCY_REPORTER, "P01")
OTHER_AGENCY = Principal("agency:P79:y", Role.AGENCY_REPORTER, "P79")
REVIEWER = Principal("reviewer:z", Role.MINISTRY_REVIEWER)
ADMIN = Principal("admin:a", Role.ADMIN)
PERIOD = Period.parse("2025-03")
ON_TIME = date(2025, 3, 10)


def indicator(code: str, value_type: ValueType = ValueType.INTEGER, **kwargs: object) -> Indicator:
    numeric = value_type.is_numeric
    defaults: dict[str, object] = {
        "name_vi": f"Chỉ tiêu {code}",
        "name_en": code,
        "group": IndicatorGroup.TELECOM_INTERNET,
        "unit": "thuê bao",
        "value_type": value_type,
        "aggregation_time": Aggregation.LAST if numeric else Aggregation.NONE,
        "aggregation_agencies": Aggregation.SUM if numeric else Aggregation.NONE,
    }
    defaults.update(kwargs)
    return Indicator(code=code, **defaults)  # type: ignore[arg-type]


def make_form(required_total: bool = True) -> Form:
    catalogue = Catalogue(actor="admin:a")
    for item in (
        indicator("TOTAL", minimum=Decimal(0), required=required_total),
        indicator("BROADBAND", minimum=Decimal(0)),
        indicator("RATE", ValueType.PERCENTAGE, minimum=Decimal(0), maximum=Decimal(100)),
        indicator("HAS_PLAN", ValueType.BOOLEAN),
        indicator("NOTE", ValueType.TEXT),
        indicator("OFF_FORM"),
    ):
        catalogue.define(item, "admin:a", "admin")
    catalogue.define_rule(
        Rule(
            "BB_LE_TOTAL",
            "Băng rộng không vượt tổng",
            "broadband <= total",
            Expression(("BROADBAND",)),
            "<=",
            Expression(("TOTAL",)),
        ),
        "admin:a",
        "admin",
    )
    catalogue.define_rule(
        Rule(
            "RATE_HIGH",
            "",
            "rate >= 10",
            Expression(("RATE",)),
            ">=",
            Expression(constant=Decimal(10)),
            Severity.WARNING,
        ),
        "admin:a",
        "admin",
    )
    template = Template.open("T", "Biểu mẫu", "Form", "provincial_department", None, "admin:a", "admin")
    version = template.publish(
        "2024-01", ["TOTAL", "BROADBAND", "RATE", "HAS_PLAN", "NOTE"], catalogue, "admin:a", "admin"
    )
    return Form.build(template, version, catalogue)


@pytest.fixture
def form() -> Form:
    return make_form()


def new_submission(form: Form) -> Submission:
    return Submission.open("P01", PERIOD, form, AGENCY)


def event_names(submission: Submission) -> list[str]:
    return [type(e).__name__ for e in submission.collect_events()]


def test_each_value_is_its_own_event(form: Form) -> None:
    submission = new_submission(form)
    result = submission.enter_values([("TOTAL", 100), ("RATE", "12.50"), ("HAS_PLAN", True)], form, AGENCY)
    assert result.submitted == ["TOTAL", "RATE", "HAS_PLAN"]
    assert event_names(submission) == ["Opened"] + ["IndicatorValueSubmitted"] * 3
    assert submission.values["RATE"].value == Decimal("12.5")


def test_changed_value_is_a_correction_carrying_the_previous_value(form: Form) -> None:
    submission = new_submission(form)
    submission.enter_values([("TOTAL", 100)], form, AGENCY)
    submission.collect_events()
    result = submission.enter_values([("TOTAL", 120), ("BROADBAND", 5)], form, AGENCY)
    assert result.corrected == ["TOTAL"]
    assert result.submitted == ["BROADBAND"]
    (correction, _) = submission.collect_events()
    assert isinstance(correction, Submission.IndicatorValueCorrected)
    assert (correction.previous_value, correction.value) == (100, 120)


def test_identical_values_are_unchanged_and_produce_no_event(form: Form) -> None:
    submission = new_submission(form)
    submission.enter_values([("TOTAL", 100), ("RATE", "12.5")], form, AGENCY)
    submission.collect_events()
    result = submission.enter_values([("TOTAL", 100), ("RATE", 12.50)], form, AGENCY)
    assert result.unchanged == ["TOTAL", "RATE"]
    assert submission.collect_events() == []


def test_zero_is_a_value_and_not_reporting_is_its_absence(form: Form) -> None:
    submission = new_submission(form)
    submission.enter_values([("BROADBAND", 0)], form, AGENCY)
    assert submission.values["BROADBAND"].value == 0
    assert "TOTAL" not in submission.values


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        (("UNKNOWN", 1), "unknown-indicator"),
        (("OFF_FORM", 1), "unknown-indicator"),
        (("TOTAL", "many"), "wrong-type"),
        (("TOTAL", 1.5), "wrong-type"),
        (("TOTAL", True), "wrong-type"),
        (("TOTAL", -1), "out-of-range"),
        (("RATE", 101), "out-of-range"),
        (("HAS_PLAN", 1), "wrong-type"),
        (("NOTE", 5), "wrong-type"),
        (("RATE", "NaN"), "wrong-type"),
    ],
)
def test_a_bad_value_rejects_the_whole_batch(form: Form, entry: tuple[str, object], reason: str) -> None:
    submission = new_submission(form)
    submission.collect_events()
    with pytest.raises(BatchRejected) as raised:
        submission.enter_values([("BROADBAND", 1), entry], form, AGENCY)
    (rejection,) = raised.value.rejections
    assert (rejection.index, rejection.indicator, rejection.reason) == (1, entry[0], reason)
    assert submission.collect_events() == []
    assert submission.values == {}


def test_an_indicator_twice_in_one_batch_is_rejected(form: Form) -> None:
    with pytest.raises(BatchRejected) as raised:
        new_submission(form).enter_values([("TOTAL", 1), ("TOTAL", 2)], form, AGENCY)
    assert raised.value.rejections[0].reason == "duplicate-indicator"


def test_text_is_nfc_normalised(form: Form) -> None:
    submission = new_submission(form)
    decomposed = "Ha\u0300 No\u0302\u0323i"  # "Hà Nội" with combining marks
    submission.enter_values([("NOTE", decomposed)], form, AGENCY)
    assert submission.values["NOTE"].value == "Hà Nội"


def submitted(form: Form) -> Submission:
    submission = new_submission(form)
    submission.enter_values([("TOTAL", 100), ("BROADBAND", 10)], form, AGENCY)
    submission.submit(form, CIRCULAR_02_2023, ON_TIME, AGENCY)
    return submission


def test_submit_records_deadline_and_lateness(form: Form) -> None:
    on_time = submitted(form)
    event = on_time.collect_events()[-1]
    assert isinstance(event, Submission.ReportSubmitted)
    assert (event.late, event.days_late, event.deadline) == (False, 0, "2025-03-15")
    late = new_submission(form)
    late.enter_values([("TOTAL", 100)], form, AGENCY)
    late.submit(form, CIRCULAR_02_2023, date(2025, 3, 20), AGENCY)
    event = late.collect_events()[-1]
    assert isinstance(event, Submission.ReportSubmitted)
    assert (event.late, event.days_late) == (True, 5)
    assert late.status is Status.SUBMITTED


def test_submit_refuses_missing_required_and_failed_rules(form: Form) -> None:
    submission = new_submission(form)
    submission.enter_values([("BROADBAND", 10)], form, AGENCY)
    with pytest.raises(ValidationFailed) as raised:
        submission.submit(form, CIRCULAR_02_2023, ON_TIME, AGENCY)
    assert raised.value.failures == [{"rule": "required", "indicator": "TOTAL", "status": "missing"}]
    submission.enter_values([("TOTAL", 5)], form, AGENCY)
    with pytest.raises(ValidationFailed) as raised:
        submission.submit(form, CIRCULAR_02_2023, ON_TIME, AGENCY)
    assert [f["rule"] for f in raised.value.failures] == ["BB_LE_TOTAL"]
    assert submission.status is Status.DRAFT


def test_warnings_do_not_block_submission(form: Form) -> None:
    submission = new_submission(form)
    submission.enter_values([("TOTAL", 5), ("RATE", 1)], form, AGENCY)
    _, outcomes = submission.check(form)
    assert {o.rule.code: o.status for o in outcomes} == {"BB_LE_TOTAL": "skipped", "RATE_HIGH": "failed"}
    submission.submit(form, CIRCULAR_02_2023, ON_TIME, AGENCY)
    assert submission.status is Status.SUBMITTED


def test_values_cannot_change_while_submitted_or_approved(form: Form) -> None:
    submission = submitted(form)
    with pytest.raises(SubmissionLocked):
        submission.enter_values([("TOTAL", 1)], form, AGENCY)
    submission.approve(REVIEWER)
    with pytest.raises(SubmissionLocked):
        submission.enter_values([("TOTAL", 1)], form, AGENCY)


def test_review_path_approve_then_reopen_then_corrections_need_a_reason(form: Form) -> None:
    submission = submitted(form)
    submission.approve(REVIEWER, "ok")
    assert submission.status is Status.APPROVED
    with pytest.raises(ReasonRequired):
        submission.reopen(REVIEWER, "  ")
    submission.reopen(REVIEWER, "số liệu quý cần điều chỉnh")
    assert submission.status is Status.REOPENED
    with pytest.raises(ReasonRequired):
        submission.enter_values([("TOTAL", 150)], form, AGENCY)
    submission.enter_values([("TOTAL", 150)], form, AGENCY, reason="điều chỉnh theo kiểm tra")
    correction = submission.collect_events()[-1]
    assert isinstance(correction, Submission.IndicatorValueCorrected)
    assert correction.reason == "điều chỉnh theo kiểm tra"
    submission.submit(form, CIRCULAR_02_2023, ON_TIME, AGENCY)
    assert submission.times_submitted == 2


def test_return_for_revision_needs_a_reason_and_reopens_editing(form: Form) -> None:
    submission = submitted(form)
    with pytest.raises(ReasonRequired):
        submission.return_for_revision(REVIEWER, None)
    submission.return_for_revision(REVIEWER, "thiếu số liệu")
    assert submission.status is Status.RETURNED
    submission.enter_values([("TOTAL", 101)], form, AGENCY, reason="bổ sung")
    assert submission.values["TOTAL"].value == 101


@pytest.mark.parametrize(
    ("status_path", "action"),
    [
        ([], "approve"),
        ([], "return"),
        ([], "reopen"),
        (["submit"], "reopen"),
        (["submit"], "submit"),
        (["submit", "approve"], "approve"),
        (["submit", "approve"], "return"),
        (["submit", "approve"], "submit"),
        (["submit", "return"], "approve"),
        (["submit", "return"], "reopen"),
    ],
)
def test_refused_transitions(form: Form, status_path: list[str], action: str) -> None:
    submission = new_submission(form)
    submission.enter_values([("TOTAL", 100)], form, AGENCY)
    steps = {
        "submit": lambda: submission.submit(form, CIRCULAR_02_2023, ON_TIME, AGENCY),
        "approve": lambda: submission.approve(REVIEWER),
        "return": lambda: submission.return_for_revision(REVIEWER, "lý do"),
        "reopen": lambda: submission.reopen(REVIEWER, "lý do"),
    }
    for step in status_path:
        steps[step]()
    before = submission.status
    submission.collect_events()
    with pytest.raises(InvalidTransition):
        steps[action]()
    assert submission.status is before
    assert submission.collect_events() == []


@pytest.mark.parametrize("actor", [OTHER_AGENCY, REVIEWER, ADMIN])
def test_only_the_agency_submits(form: Form, actor: Principal) -> None:
    submission = new_submission(form)
    submission.enter_values([("TOTAL", 100)], form, AGENCY)
    with pytest.raises(InvalidTransition):
        submission.submit(form, CIRCULAR_02_2023, ON_TIME, actor)


@pytest.mark.parametrize("actor", [AGENCY, ADMIN, Principal("auditor:q", Role.AUDITOR)])
def test_only_a_reviewer_reviews(form: Form, actor: Principal) -> None:
    submission = submitted(form)
    with pytest.raises(InvalidTransition):
        submission.approve(actor)
    with pytest.raises(InvalidTransition):
        submission.return_for_revision(actor, "x")


@pytest.mark.parametrize("actor", [OTHER_AGENCY, REVIEWER, ADMIN, Principal("auditor:q", Role.AUDITOR)])
def test_only_the_agency_enters_its_values(form: Form, actor: Principal) -> None:
    submission = new_submission(form)
    submission.collect_events()
    with pytest.raises(Forbidden):
        submission.enter_values([("TOTAL", 100)], form, actor)
    assert submission.collect_events() == []
    assert submission.values == {}


def test_after_a_return_only_real_changes_need_a_reason(form: Form) -> None:
    submission = submitted(form)
    submission.return_for_revision(REVIEWER, "kiểm tra lại")
    submission.collect_events()
    # The same values again change nothing, so they need no reason and store nothing.
    result = submission.enter_values([("TOTAL", 100), ("BROADBAND", 10)], form, AGENCY)
    assert (result.unchanged, submission.collect_events()) == (["TOTAL", "BROADBAND"], [])
    # A first value and a change in one batch: without a reason the whole batch is refused, the first value too...
    with pytest.raises(ReasonRequired):
        submission.enter_values([("RATE", 20), ("BROADBAND", 11)], form, AGENCY, reason="   ")
    assert submission.collect_events() == []
    assert submission.values["BROADBAND"].value == 10
    assert "RATE" not in submission.values
    # ...and with one, each change is a correction carrying it; first entries of an indicator are submissions.
    result = submission.enter_values([("BROADBAND", 11), ("RATE", 20)], form, AGENCY, reason="số liệu mới")
    assert (result.corrected, result.submitted) == (["BROADBAND"], ["RATE"])
    correction, first = submission.collect_events()
    assert isinstance(correction, Submission.IndicatorValueCorrected)
    assert (correction.previous_value, correction.value, correction.reason) == (10, 11, "số liệu mới")
    assert isinstance(first, Submission.IndicatorValueSubmitted)


def test_a_reason_given_with_submit_is_kept(form: Form) -> None:
    submission = new_submission(form)
    submission.enter_values([("TOTAL", 100)], form, AGENCY)
    submission.submit(form, CIRCULAR_02_2023, ON_TIME, AGENCY, "Số liệu chốt ngày 14")
    event = submission.collect_events()[-1]
    assert isinstance(event, Submission.ReportSubmitted)
    assert event.reason == "Số liệu chốt ngày 14"


def test_the_agency_recalls_a_report_nobody_reviewed_yet_then_corrects_and_resubmits(form: Form) -> None:
    submission = submitted(form)
    with pytest.raises(ReasonRequired):
        submission.recall(AGENCY, "  ")
    submission.recall(AGENCY, "Gửi nhầm số liệu tháng trước")
    assert submission.status is Status.RECALLED
    submission.enter_values([("TOTAL", 101)], form, AGENCY, reason="Sửa số liệu")
    submission.submit(form, CIRCULAR_02_2023, ON_TIME, AGENCY)
    assert submission.status is Status.SUBMITTED
    assert submission.times_submitted == 2
    recalled = [e for e in submission.collect_events() if isinstance(e, Submission.ReportRecalled)]
    assert [e.reason for e in recalled] == ["Gửi nhầm số liệu tháng trước"]


@pytest.mark.parametrize("actor", [OTHER_AGENCY, REVIEWER, ADMIN])
def test_only_the_agency_recalls(form: Form, actor: Principal) -> None:
    submission = submitted(form)
    with pytest.raises(InvalidTransition):
        submission.recall(actor, "x")


def test_a_reviewed_report_cannot_be_recalled(form: Form) -> None:
    for review in (lambda s: s.approve(REVIEWER), lambda s: s.return_for_revision(REVIEWER, "Thiếu")):
        submission = submitted(form)
        review(submission)
        with pytest.raises(InvalidTransition, match="not yet reviewed"):
            submission.recall(AGENCY, "x")
    with pytest.raises(InvalidTransition):
        new_submission(form).recall(AGENCY, "x")


def _immutable(value: object) -> bool:
    """Whether nothing reachable from `value` can change (what a command's copy may share with the store's)."""
    if value is None or isinstance(value, (str, int, float, Decimal, date, UUID, Enum, bytes)):
        return True
    if isinstance(value, tuple):
        return all(_immutable(item) for item in value)
    params = getattr(type(value), "__dataclass_params__", None)
    if params is not None and params.frozen:
        return all(_immutable(item) for item in vars(value).values())
    return False


def test_a_commands_copy_shares_nothing_that_can_change(form: Form) -> None:
    submission = submitted(form)
    submission.return_for_revision(REVIEWER, "thiếu số liệu")
    submission.enter_values([("TOTAL", 151), ("NOTE", "ghi chú")], form, AGENCY, reason="bổ sung")
    for name, value in vars(submission).items():
        contents = (
            list(value.values())
            if isinstance(value, dict)
            else list(value)
            if isinstance(value, (list, set))
            else [value]
        )
        assert all(_immutable(item) for item in contents), f"{name} holds something mutable: the copy would share it"
    cheap, full = copy.deepcopy(submission), copy.deepcopy(vars(submission))
    assert vars(cheap) == full, "the same state as a full deep copy"
    cheap.enter_values([("TOTAL", 152)], form, AGENCY, reason="sửa")
    cheap.collect_events()
    assert submission.values["TOTAL"].value == 151, "the original is untouched by a change to its copy"
    assert len(submission.collect_events()) > 0, "and keeps its own pending events"
