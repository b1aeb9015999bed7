"""The ministry's review queue: submitted reports by month, region and kind of agency, longest waiting first;
approve or return (with a required reason) one report from its read-only form, or approve a selection.

Every step goes through the same lifecycle command as the API (`submissions.change_status`), each with
its own Idempotency-Key, so posting a form twice (a double click, a reload) does nothing twice.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from domain.errors import InvalidTransition, NotFound, ReasonRequired
from domain.identity import Role
from domain.periods import InvalidPeriod, Period
from services.ingest.application import submissions as handle
from services.ingest.application.access import Person
from services.ingest.application.commands import Action, ChangeStatus
from services.ingest.application.outcomes import Outcome
from services.ingest.application.sheet import entry_sheet
from services.readmodels.compliance.queries import QueueFilter
from services.web.entry_view import Message, Texts
from services.web.lifecycle_view import (
    Fields,
    field,
    idempotency,
    kind_label,
    new_key,
    period_label,
    posted_key,
    reading_after,
    region_label,
    status_label,
    texts,
    visible_or_behind,
)
from services.web.navigation import NavEntry
from services.web.pages.entry import BASE, base_url, sheet_context
from services.web.people import require
from services.web.templating import render
from services.web.web_side import WebSide, web_side

router = APIRouter(include_in_schema=False)
NAV = (NavEntry("Review queue", "/review", frozenset({Role.MINISTRY_REVIEWER}), order=20),)

Reviewer = Annotated[Person, Depends(require(Role.MINISTRY_REVIEWER))]
Web = Annotated[WebSide, Depends(web_side)]

PAGE_SIZE = 50
MAX_SELECTION = 500
REPORT_SEPARATOR = "|"


def _period(code: str) -> Period | None:
    try:
        return Period.parse(code) if code else None
    except InvalidPeriod:
        return None


def _report(value: str) -> tuple[str, str] | None:
    """A selected report, `AGENCY|YYYY-MM` (anything else is ignored)."""
    agency, _, period = value.partition(REPORT_SEPARATOR)
    return (agency, period) if agency and _period(period) is not None else None


@router.get("/review")
def queue(
    request: Request,
    person: Reviewer,
    web: Web,
    period: str = "",
    region: str = "",
    kind: str = "",
    page: int = 1,
    after: int = 0,
) -> Response:
    t = texts(request)
    current = visible_or_behind(web.read.compliance.visible, reading_after(after or None))
    ref = web.read.reference.snapshot()
    chosen = QueueFilter(
        _period(period), region if region in ref.regions() else None, kind if kind in ref.kinds() else None
    )
    page = max(1, page)
    found = web.read.compliance.queue(chosen, PAGE_SIZE, (page - 1) * PAGE_SIZE)
    today = web.write.clock.today()
    rows = []
    for entry in found.entries:
        report = entry.report
        submitted = report.last_submitted_at
        rows.append(
            {
                "agency": report.agency,
                "name": entry.name_vi or report.agency,
                "region": region_label(t, entry.region),
                "kind": kind_label(t, entry.kind),
                "period": report.period,
                "value": f"{report.agency}{REPORT_SEPARATOR}{report.period}",
                "submitted_at": submitted,
                "waiting": None if submitted is None else (today - submitted.date()).days,
                "days_late": report.last_days_late or 0,
                "times": report.times_submitted,
                "note": report.step_reason,
                "returned_before": report.return_reason,
                "url": base_url(report.agency, report.period),
            }
        )
    context = {
        "t": t,
        "rows": rows,
        "total": found.total,
        "per_period": [(code, period_label(t, code), count) for code, count in found.per_period.items()],
        "regions": [(code, region_label(t, code)) for code in ref.regions()],
        "kinds": [(code, kind_label(t, code)) for code in ref.kinds()],
        "chosen": {
            "period": chosen.period.code if chosen.period else "",
            "region": chosen.region or "",
            "kind": chosen.kind or "",
        },
        "page": page,
        "pages": max(1, -(-found.total // PAGE_SIZE)),
        "request_key": new_key(),
        "current": current,
        "done": request.query_params.get("done"),
        "done_report": _report(request.query_params.get("report", "")),
    }
    return render(request, "review.html", context)


@router.post("/review/approve")
def approve_selection(request: Request, person: Reviewer, web: Web, fields: Fields) -> Response:
    """Approve every selected report, each through its own lifecycle command and Idempotency-Key."""
    t = texts(request)
    selected = [
        found
        for value in fields.getlist("report")[:MAX_SELECTION]
        if isinstance(value, str) and (found := _report(value))
    ]
    batch = posted_key(fields)
    subject = person.principal.subject

    def key(agency: str, period: str) -> Any:
        path = f"{base_url(agency, period)}/approve"
        return idempotency(subject, f"{batch}:{agency}:{period}", path, {"reason": None})

    results = handle.review_many(web.write, person.principal, Action.APPROVE, selected, key)
    approved, refused = [], []
    last_position = 0
    for result in results:
        item = {"agency": result.agency, "period": result.period, "url": base_url(result.agency, result.period)}
        if result.outcome is not None:
            last_position = max(last_position, result.outcome.to_json().get("position") or 0)
            approved.append(item)
        else:
            item["why"] = _refusal(t, result.refusal, result.status)
            refused.append(item)
    context = {"t": t, "approved": approved, "refused": refused, "nothing": not selected, "after": last_position}
    return render(request, "review_done.html", context)


def _refusal(t: Texts, refusal: Exception | None, status: Any) -> str:
    if isinstance(refusal, NotFound) or status is None:
        return t._("There is no such report.")
    if isinstance(refusal, InvalidTransition):
        return t._("It is no longer awaiting review: %(status)s.") % {"status": status_label(t, str(status))}
    return str(getattr(refusal, "detail", refusal))


# ---- one report: approve, return, reopen ------------------------------------------------------------


def _step(web: WebSide, person: Person, request: Request, action: Action, agency: str, period: str,
          reason: str | None, key: str) -> Outcome:  # fmt: skip
    path = request.url.path
    command = ChangeStatus(agency, period, action, reason)
    return handle.change_status(
        web.write, person.principal, command, idempotency(person.principal.subject, key, path, {"reason": reason})
    )


def _reviewed(agency: str, period: str, what: str, outcome: Outcome) -> Response:
    position = outcome.to_json().get("position") or 0
    target = f"/review?done={what}&report={agency}{REPORT_SEPARATOR}{period}&after={position}"
    return RedirectResponse(target, status_code=303)


def _review_form(request: Request, web: WebSide, person: Person, agency: str, period: str, action: Action,
                 fields: Any, message: str) -> Response:  # fmt: skip
    """The report again, the reason's error next to its field (422: nothing was recorded)."""
    sheet = entry_sheet(web.write, person.principal, agency, period)
    errors = {f"{action.value}_reason": (Message("error", message),)}
    context = sheet_context(request, web, person, sheet, errors=errors, review_note=field(fields, "reason", 2000))
    return render(request, "entry.html", context, status_code=422)


# What the form says next to the reason's field when it was left empty (English message ids).
MISSING_REASON = {
    Action.RETURN: "Say what the agency must correct: the reason is sent to it.",
    Action.REOPEN: "Say why the report is reopened: the reason is sent to the agency.",
}


class ReviewStep:
    """What a review form posts: the report, the reviewer, the reason, the form's key."""

    def __init__(self, request: Request, agency: str, period: str, person: Reviewer, web: Web, fields: Fields) -> None:
        self.request, self.agency, self.period, self.person, self.web, self.fields = (
            request, agency, period, person, web, fields
        )  # fmt: skip

    def take(self, action: Action, done: str) -> Response:
        """The step through the lifecycle command; back to the queue, or the form again when the reason is missing."""
        reason = field(self.fields, "reason", 2000).strip() or None
        try:
            outcome = _step(self.web, self.person, self.request, action, self.agency, self.period, reason,
                            posted_key(self.fields))  # fmt: skip
        except ReasonRequired:
            message = texts(self.request)._(MISSING_REASON[action])
            return _review_form(self.request, self.web, self.person, self.agency, self.period, action, self.fields,
                                message)  # fmt: skip
        return _reviewed(self.agency, self.period, done, outcome)


Step = Annotated[ReviewStep, Depends()]


@router.post(BASE + "/approve")
def approve(step: Step) -> Response:
    return step.take(Action.APPROVE, "approved")


@router.post(BASE + "/return")
def return_for_revision(step: Step) -> Response:
    """Return the report to its agency; the reason is required and shown to the agency."""
    return step.take(Action.RETURN, "returned")


@router.post(BASE + "/reopen")
def reopen(step: Step) -> Response:
    """Reopen an approved report so that its agency can correct it; the reason is required."""
    return step.take(Action.REOPEN, "reopened")
