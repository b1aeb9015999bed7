"""What the entry form shows and how a typed value is checked (`services.ingest.application.sheet`), and the
bulk review (`submissions.review_many`), on the in-memory store with a fake clock.

The check must say what the API would: the same parsing, range and rules, against the values the page
shows; nothing it does is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

import pytest

from domain.errors import Forbidden, InvalidTransition, NotFound
from domain.identity import Principal, Role
from domain.submission import Status
from entrypoints.bootstrap import in_memory_write_side
from services.ingest.application.commands import Action, ChangeStatus, EnterValues
from services.ingest.application.demo import load_demo
from services.ingest.application.errors import PeriodNotOpen
from services.ingest.application.idempotency import Idempotency
from services.ingest.application.outcomes import Replayed, StatusChanged
from services.ingest.application.seed import load_seed
from services.ingest.application.sheet import check_cell, entry_sheet
from services.ingest.application.submissions import change_status, enter_values, review_many
from services.ingest.application.write_side import WriteSide
from tests.unit.test_handlers import AGENCY, OPEN, PAST, REVIEWER, TODAY, FakeClock, complete, count

AUDITOR = Principal("auditor:test", Role.AUDITOR)


@pytest.fixture
def ws() -> WriteSide:
    """The seeded write side on a fake clock (today: TODAY)."""
    seeded = in_memory_write_side(clock=FakeClock(TODAY))
    load_seed(seeded)
    return seeded


P79 = Principal("agency_reporter:P79:test", Role.AGENCY_REPORTER, "P79")


def enter(ws: WriteSide, values: list[tuple[str, object]], period: str = OPEN, agency: Principal = AGENCY) -> None:
    enter_values(ws, agency, EnterValues.of(str(agency.agency), period, values))


def test_a_month_nobody_opened_yet_shows_its_form_deadline_and_window(ws: WriteSide) -> None:
    sheet = entry_sheet(ws, AGENCY, "P01", OPEN)
    assert sheet.state is None
    assert sheet.status is Status.DRAFT
    assert sheet.values == {}
    assert len(sheet.form.indicators) > 50
    assert sheet.missing == tuple(code for code, i in sheet.form.indicators.items() if i.required)
    assert sheet.deadline == date(2025, 9, 15)
    assert sheet.window == (date(2025, 8, 15), date(2025, 9, 14))
    assert sheet.days_to_deadline == (date(2025, 9, 15) - TODAY).days
    assert sheet.editable_by(AGENCY)
    assert not sheet.editable_by(REVIEWER), "the ministry reads the same sheet, read-only"
    assert not sheet.can_submit


def test_the_sheet_holds_the_values_the_missing_the_failing_rules_and_the_step(ws: WriteSide) -> None:
    enter(ws, complete(ws, OPEN))
    enter(ws, [("POS.SERVICE_POINTS", 10), ("POS.CULTURAL_POST_OFFICES", 50)])
    sheet = entry_sheet(ws, AGENCY, "P01", OPEN)
    assert sheet.missing == ()
    assert [o.rule.code for o in sheet.failed] == ["POS.CULTURAL_POINTS_WITHIN_SERVICE_POINTS"]
    assert [o.rule.code for o in sheet.failures_of("POS.SERVICE_POINTS")] == [
        "POS.CULTURAL_POINTS_WITHIN_SERVICE_POINTS"
    ]
    assert not sheet.can_submit, "an error rule blocks the submission"
    enter(ws, [("POS.CULTURAL_POST_OFFICES", 5)])
    assert entry_sheet(ws, AGENCY, "P01", OPEN).can_submit

    change_status(ws, AGENCY, ChangeStatus("P01", OPEN, Action.SUBMIT, "chốt số liệu"))
    submitted = entry_sheet(ws, AGENCY, "P01", OPEN)
    assert submitted.status is Status.SUBMITTED
    assert not submitted.editable_by(AGENCY)
    assert submitted.last_step is not None
    assert (submitted.last_step.status, submitted.last_step.reason) == (Status.SUBMITTED, "chốt số liệu")
    assert submitted.days_late == 0
    change_status(ws, REVIEWER, ChangeStatus("P01", OPEN, Action.RETURN, "thiếu số liệu"))
    returned = entry_sheet(ws, AGENCY, "P01", OPEN)
    assert returned.editable_by(AGENCY)
    assert returned.corrections_need_a_reason
    assert returned.last_step is not None
    assert (returned.last_step.reason, returned.last_step.actor) == ("thiếu số liệu", REVIEWER.subject)


def test_another_agency_may_not_open_the_sheet_and_unopened_months_are_refused(ws: WriteSide) -> None:
    with pytest.raises(Forbidden):
        entry_sheet(ws, P79, "P01", OPEN)
    with pytest.raises(Forbidden):
        check_cell(ws, P79, "P01", OPEN, "POS.ITEMS", 3)
    assert entry_sheet(ws, AUDITOR, "P01", OPEN).form.template == "UNIFIED-PROVINCIAL"
    with pytest.raises(PeriodNotOpen):
        entry_sheet(ws, AGENCY, "P01", "2025-10")  # its window opens on 15 September
    with pytest.raises(NotFound):
        check_cell(ws, AGENCY, "P01", OPEN, "NO.SUCH", 1)


def test_a_typed_value_is_checked_as_the_api_checks_it_and_nothing_is_stored(ws: WriteSide) -> None:
    before = count(ws)
    below = check_cell(ws, AGENCY, "P01", OPEN, "POS.ITEMS", -1)
    assert below.value is None
    assert below.rejection is not None
    assert (below.rejection.reason, below.blocking) == ("out-of-range", True)
    fraction = check_cell(ws, AGENCY, "P01", OPEN, "POS.ITEMS", "2.5")
    assert fraction.rejection is not None
    assert fraction.rejection.reason == "wrong-type"
    over = check_cell(ws, AGENCY, "P01", OPEN, "POS.COMMUNES_STAFFED_POINT_PCT", "100.5")
    assert over.rejection is not None
    assert over.rejection.reason == "out-of-range"
    fine = check_cell(ws, AGENCY, "P01", OPEN, "POS.REVENUE", "1250.75")
    assert (fine.value, fine.rejection, fine.rules, fine.blocking) == (Decimal("1250.75"), None, (), False)
    empty = check_cell(ws, AGENCY, "P01", OPEN, "POS.REVENUE", None)
    assert (empty.value, empty.rejection, empty.saved) == (None, None, None)
    assert count(ws) == before, "checking stores nothing"


def test_rules_are_evaluated_with_what_the_page_shows_over_the_stored_values(ws: WriteSide) -> None:
    enter(ws, [("POS.SERVICE_POINTS", 120)])
    stored = check_cell(ws, AGENCY, "P01", OPEN, "POS.CULTURAL_POST_OFFICES", 500)
    assert [o.rule.code for o in stored.rules] == ["POS.CULTURAL_POINTS_WITHIN_SERVICE_POINTS"]
    assert stored.blocking
    assert (stored.rules[0].left, stored.rules[0].right) == (Decimal(500), Decimal(120))
    typed = check_cell(ws, AGENCY, "P01", OPEN, "POS.CULTURAL_POST_OFFICES", 500, {"POS.SERVICE_POINTS": 600})
    assert typed.rules == (), "the page shows 600 service points, not yet saved"
    unreadable = check_cell(ws, AGENCY, "P01", OPEN, "POS.CULTURAL_POST_OFFICES", 500, {"POS.SERVICE_POINTS": "x"})
    assert len(unreadable.rules) == 1, "a value its indicator refuses is left out: the stored one counts"
    warning = check_cell(ws, AGENCY, "P01", OPEN, "POS.LETTERS", 5, {"POS.ITEMS": 10, "POS.PARCELS": 1})
    assert [o.rule.severity.value for o in warning.rules] == ["warning"]
    assert not warning.blocking, "a warning rule does not block"


def test_an_outlier_against_the_agencys_own_history_is_a_warning(ws: WriteSide) -> None:
    for month, value in (("2025-05", 12), ("2025-06", 12), ("2025-07", 13)):
        enter(ws, [("POS.LICENSED_ENTERPRISES", value)], period=month)
    usual = check_cell(ws, AGENCY, "P01", OPEN, "POS.LICENSED_ENTERPRISES", 14)
    assert usual.outlier is None
    slipped = check_cell(ws, AGENCY, "P01", OPEN, "POS.LICENSED_ENTERPRISES", 1200)
    assert slipped.outlier is not None
    assert slipped.outlier.periods == 3
    assert slipped.outlier.median == 12
    assert not slipped.blocking


def test_a_check_says_whether_the_value_changes_and_whether_a_change_needs_a_reason(ws: WriteSide) -> None:
    enter(ws, complete(ws, PAST), period=PAST)
    code = str(complete(ws, PAST)[0][0])
    same = check_cell(ws, AGENCY, "P01", PAST, code, 0)
    assert (same.unchanged, same.saved, same.reason_required) == (True, 0, False)
    change_status(ws, AGENCY, ChangeStatus("P01", PAST, Action.SUBMIT))
    change_status(ws, AGENCY, ChangeStatus("P01", PAST, Action.RECALL, "gửi nhầm"))
    changed = check_cell(ws, AGENCY, "P01", PAST, code, 1)
    assert (changed.unchanged, changed.reason_required) == (False, True)


def key_of(batch: str) -> Callable[[str, str], Idempotency]:
    def keys(agency: str, period: str) -> Idempotency:
        path = f"/agencies/{agency}/periods/{period}/approve"
        return Idempotency.of(REVIEWER.subject, f"{batch}:{agency}:{period}", "POST", path, {"reason": None})

    return keys


def test_bulk_approval_approves_each_report_on_its_own_and_says_why_others_were_refused(ws: WriteSide) -> None:
    p79 = Principal("agency_reporter:P79:test", Role.AGENCY_REPORTER, "P79")
    for principal in (AGENCY, p79):
        enter(ws, complete(ws, OPEN), agency=principal)
        change_status(ws, principal, ChangeStatus(str(principal.agency), OPEN, Action.SUBMIT))
    enter(ws, complete(ws, PAST), period=PAST)  # a draft: nothing to approve
    change_status(ws, REVIEWER, ChangeStatus("P79", OPEN, Action.APPROVE))  # approved meanwhile

    wanted = [("P01", OPEN), ("P79", OPEN), ("P01", PAST), ("P48", OPEN), ("P01", OPEN)]
    results = review_many(ws, REVIEWER, Action.APPROVE, wanted, key_of("b1"))
    assert [(r.agency, r.period) for r in results] == wanted[:4], "each report once"
    approved, approved_before, draft, missing = results
    assert isinstance(approved.outcome, StatusChanged)
    assert (approved.status, approved.refusal) == (Status.APPROVED, None)
    assert isinstance(approved_before.refusal, InvalidTransition)
    assert approved_before.status is Status.APPROVED
    assert isinstance(draft.refusal, InvalidTransition)
    assert draft.status is Status.DRAFT
    assert isinstance(missing.refusal, NotFound)
    assert missing.status is None

    before = count(ws)
    again = review_many(ws, REVIEWER, Action.APPROVE, wanted[:1], key_of("b1"))
    assert isinstance(again[0].outcome, Replayed), "the same form posted twice answers as the first time"
    assert again[0].outcome.body() == approved.outcome.body()
    assert count(ws) == before


def test_the_demo_data_is_a_year_of_reviewed_months_and_a_month_end_in_progress() -> None:
    ws = in_memory_write_side(clock=FakeClock(date(2026, 12, 1)))
    load_seed(ws)
    assert load_demo(ws, date(2026, 12, 1)) > 3000
    for agency in ("P01", "P79", "P48"):
        for month in ("2025-11", "2026-06", "2026-10", "2026-11"):
            sheet = entry_sheet(ws, AUDITOR, agency, month)
            assert sheet.missing == ()
            assert [o for o in sheet.rules if o.status == "failed"] == [], "demo figures satisfy every rule"
            assert sheet.warnings == {}, "steady figures: no outlier"
            assert sheet.days_late == 0, "past months went in on time"
    statuses = {a: entry_sheet(ws, AUDITOR, a, "2026-11").status for a in ("P01", "P79", "P48")}
    assert statuses == {"P01": Status.RETURNED, "P79": Status.SUBMITTED, "P48": Status.SUBMITTED}
    assert entry_sheet(ws, AUDITOR, "P01", "2026-10").status is Status.APPROVED


def test_the_demo_data_is_loaded_once_whatever_the_number_of_starts() -> None:
    ws = in_memory_write_side(clock=FakeClock(date(2026, 12, 1)))
    load_seed(ws)
    assert load_demo(ws, date(2026, 12, 1)) > 3000
    before = count(ws)
    assert load_demo(ws, date(2026, 12, 1)) == 0, "a second start finds its reviewed months"
    assert count(ws) == before
