"""The data-entry form of one agency and month, for its clerks; the same page, read-only, for the ministry.

- the form: every indicator of the template by group, last month's value and the same month last year
  beside each cell, the deadline and the cut-off window, the report's status and what to do;
- each cell checked as it is typed (`/check`, the write side's own parsing and rules) and saved on its
  own (`/cells/{indicator}`) with the Idempotency-Key the page's script generated for that edit, so a
  retry after a dropped connection stores nothing twice; without the script, "save all" posts the form;
- the history of a cell (the audit trail, read once it shows the cell's last save);
- submit (after a summary of what is missing and which rules fail) and recall, through the same
  lifecycle commands as the API.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from domain.catalogue import Indicator
from domain.errors import BatchRejected, NotFound, ReasonRequired, SubmissionLocked, ValidationFailed
from domain.identity import Role
from domain.periods import Period, PeriodKind, period_for_date
from domain.values import InvalidValue
from infra.integration_events import LIFECYCLE_EVENTS, VALUE_EVENTS, EventType
from services.ingest.application import submissions as handle
from services.ingest.application.access import Person
from services.ingest.application.commands import Action, ChangeStatus, EnterValues
from services.ingest.application.outcomes import Outcome
from services.ingest.application.sheet import CellCheck, EntrySheet, check_cell, entry_sheet, open_month
from services.readmodels.audit_trail.queries import TrailFilter
from services.web.entry_input import Unreadable, read_input
from services.web.entry_view import Message, Texts, choices, dom_id, groups, names
from services.web.i18n import Language
from services.web.lifecycle_view import (
    EVENT_STEPS,
    STEP_LABELS,
    Fields,
    actor_name,
    calendar,
    field,
    idempotency,
    new_key,
    posted_key,
    reading_after,
    status_label,
    step_view,
    texts,
    visible_or_behind,
)
from services.web.navigation import NavEntry
from services.web.people import PageForbidden, require
from services.web.templating import render
from services.web.web_side import WebSide, web_side

router = APIRouter(include_in_schema=False)
NAV = (NavEntry("Data entry", "/entry", frozenset({Role.AGENCY_REPORTER}), order=10),)

Reader = Annotated[Person, Depends(require(*Role))]
Clerk = Annotated[Person, Depends(require(Role.AGENCY_REPORTER))]
Web = Annotated[WebSide, Depends(web_side)]

BASE = "/agencies/{agency}/periods/{period}"
HISTORY_LIMIT = 200
VALUE_FIELD = "v."  # the grid's inputs are named v.<indicator>
STEPS = tuple(sorted(LIFECYCLE_EVENTS - {EventType.SUBMISSION_OPENED}))


def base_url(agency: str, period: str) -> str:
    return BASE.format(agency=agency, period=period)


def _own(person: Person, agency: str) -> None:
    if not person.principal.can_write_agency(agency):
        raise PageForbidden("only the agency's own clerks change its report")


# ---- the period picker -------------------------------------------------------------------


@router.get("/entry")
def pick_period(request: Request, person: Reader, web: Web, agency: str = "", period: str = "") -> Response:
    """The period picker's target: the form of the month chosen (the clerk's own agency by default)."""
    code = (agency or person.agency or "").strip().upper()
    if not code:
        return RedirectResponse("/", status_code=303)
    chosen = period or period_for_date(web.write.clock.today(), PeriodKind.MONTH).code
    return RedirectResponse(base_url(code, chosen), status_code=303)


# ---- the form ----------------------------------------------------------------------------


def _read_models(web: WebSide, agency: str, period: Period) -> tuple[dict[str, Any], dict[str, Any], dict[str, int]]:
    """Last month's values, the same month last year, and how many times each value of this month was set."""
    last_year = Period.month(period.year - 1, period.number).code
    found = web.read.report_view.values_of(agency, [period.previous().code, last_year, period.code])
    return (
        {code: v.value for code, v in found[period.previous().code].items()},
        {code: v.value for code, v in found[last_year].items()},
        {code: v.revision for code, v in found[period.code].items()},
    )


def _timeline(web: WebSide, t: Texts, agency: str, period: str, after: int | None) -> tuple[list[Any], bool]:
    """The report's lifecycle steps from the audit trail, newest first; False if the trail is still behind."""
    current = visible_or_behind(web.read.audit_trail.visible, reading_after(after))
    rows = web.read.audit_trail.page(TrailFilter(agency=agency, period=period, event_types=STEPS), 0, HISTORY_LIMIT)
    steps = []
    for row in reversed(rows):
        event = row.to_json()
        status = EVENT_STEPS[event["event_type"]]
        late = event["data"].get("days_late") if event["event_type"] == EventType.REPORT_SUBMITTED else None
        steps.append(
            {
                "label": t._(STEP_LABELS[status]),
                "status": str(status),
                "reason": event["reason"],
                "who": actor_name(web.write, event["actor"]),
                "at": event["occurred_at"],
                "days_late": late,
            }
        )
    return steps, current


def timing(sheet: EntrySheet, t: Texts) -> dict[str, Any]:
    """Days left or late while the report is with the agency; once it is with the ministry, how late it came."""
    if not sheet.status.editable and sheet.days_late is not None:
        if sheet.days_late:
            return {"timing": t._("submitted %(days)s days late") % {"days": sheet.days_late}, "timing_late": True}
        return {"timing": t._("submitted on time"), "timing_late": False}
    days = calendar(sheet.deadline, sheet.today)
    return {"timing": days.phrase(t), "timing_late": days.days < 0}


def sheet_context(request: Request, web: WebSide, person: Person, sheet: EntrySheet, **extra: Any) -> dict[str, Any]:
    t = texts(request)
    agency, period = sheet.agency.code, sheet.period
    previous, last_year, revisions = _read_models(web, agency, period)
    after = request.query_params.get("after")
    timeline, timeline_current = _timeline(
        web, t, agency, period.code, int(after) if after and after.isdigit() else None
    )
    editable = sheet.editable_by(person.principal)
    name = sheet.agency.name_on(sheet.window[1])  # the name it reports under for this month
    principal = person.principal
    return {
        "sheet": sheet,
        "t": t,
        "groups": groups(sheet, t, previous, last_year, revisions, extra.get("errors")),
        "choices": choices(t),
        "editable": editable,
        "own": principal.can_write_agency(agency),
        "reviewer": principal.can_review,
        "base": base_url(agency, period.code),
        "agency_name": name.name_vi if t.language is Language.VI else (name.name_en or name.name_vi),
        "status": str(sheet.status),
        "status_label": status_label(t, str(sheet.status)),
        **timing(sheet, t),
        "step": None if sheet.last_step is None else step_view(web.write, t, sheet.last_step),
        "timeline": timeline,
        "timeline_current": timeline_current,
        **summary_context(sheet, t, principal.can_write_agency(agency)),
        "previous_period": period.previous().code,
        "last_year_period": Period.month(period.year - 1, period.number).code,
        "request_key": new_key(),
        "review_keys": {action: new_key() for action in ("approve", "return", "reopen")},
        "review_note": "",
        "errors": {},
        "typed": {},
        "reason": "",
        **extra,
    }


@router.get(BASE)
def form_page(request: Request, agency: str, period: str, person: Reader, web: Web) -> Response:
    sheet = entry_sheet(web.write, person.principal, agency, period)
    return render(request, "entry.html", sheet_context(request, web, person, sheet))


@router.get(BASE + "/summary")
def summary(request: Request, agency: str, period: str, person: Reader, web: Web) -> Response:
    """The live summary beside the form: what is filled, missing and failing (refreshed after each save)."""
    sheet = entry_sheet(web.write, person.principal, agency, period)
    t = texts(request)
    context = {"t": t, **summary_context(sheet, t, person.principal.can_write_agency(sheet.agency.code))}
    return render(request, "_entry_summary.html", context)


def summary_context(sheet: EntrySheet, t: Texts, own: bool) -> dict[str, Any]:
    """What the summary says: how much is filled, what is missing or failing (with the names to link them)."""
    return {
        "sheet": sheet,
        "base": base_url(sheet.agency.code, sheet.period.code),
        "own": own,
        "names": names(sheet.form, t),
        "dom": dom_id,
        "filled": len(sheet.values),
        "total": len(sheet.form.indicators),
    }


# ---- checking and saving a cell --------------------------------------------------------------


def _typed(fields: FormData, form_indicators: dict[str, Indicator], t: Texts) -> dict[str, object]:
    """The other cells as the page shows them, read as the API would receive them (unreadable ones left out)."""
    found: dict[str, object] = {}
    for name, value in fields.multi_items():
        if not name.startswith(VALUE_FIELD) or not isinstance(value, str):
            continue
        definition = form_indicators.get(name[len(VALUE_FIELD) :])
        if definition is None:
            continue
        try:
            raw = read_input(definition.value_type, value, t.language)
        except Unreadable:
            continue
        if raw is not None:
            found[definition.code] = raw
    return found


def _cell_check(
    web: WebSide, person: Person, t: Texts, agency: str, period: str, indicator: str, text: str, fields: FormData
) -> tuple[CellCheck | None, tuple[Message, ...], object | None]:
    """The check of what was typed in a cell: (the check, its messages, the raw value for the API)."""
    opened = open_month(web.write, person.principal, agency, period)
    definition = opened.form.indicators.get(indicator)
    if definition is None:
        raise NotFound(f"{indicator} is not on this form")
    try:
        raw = read_input(definition.value_type, text, t.language)
    except Unreadable as problem:
        return None, (Message("error", t.unreadable(problem)),), None
    others = _typed(fields, dict(opened.form.indicators), t)
    others.pop(indicator, None)
    check = check_cell(web.write, person.principal, agency, period, indicator, raw, others)
    return check, t.check_messages(check), raw


def _cell_message(request: Request, code: str, messages: tuple[Message, ...], *, status_code: int = 200,
                  headers: dict[str, str] | None = None) -> Response:  # fmt: skip
    return render(request, "_entry_message.html", {"code": code, "messages": messages}, status_code=status_code,
                  headers=headers)  # fmt: skip


@router.post(BASE + "/check")
def check(
    request: Request, agency: str, period: str, person: Clerk, web: Web, fields: Fields, indicator: str
) -> Response:
    """What the write side would say of the value typed in a cell (nothing is stored)."""
    _own(person, agency)
    t = texts(request)
    _, messages, _ = _cell_check(
        web, person, t, agency, period, indicator, field(fields, VALUE_FIELD + indicator), fields
    )
    return _cell_message(request, indicator, messages)


@router.post(BASE + "/cells/{indicator}")
def save_cell(
    request: Request, agency: str, period: str, indicator: str, person: Clerk, web: Web, fields: Fields
) -> Response:
    """Store one cell's value through the write side; the script's Idempotency-Key makes a retry harmless.

    Answers the cell's message (rules, warnings) and, in headers, the position of the stored event
    (for the history's read-your-writes) and the report's version. A refusal is a 4xx with the reason.
    """
    _own(person, agency)
    t = texts(request)
    text = field(fields, VALUE_FIELD + indicator)
    reason = field(fields, "reason", 2000).strip() or None
    checked, messages, raw = _cell_check(web, person, t, agency, period, indicator, text, fields)
    if checked is None or checked.rejection is not None:
        return _cell_message(request, indicator, messages, status_code=422)
    if raw is None:
        status = 422 if checked.saved is not None else 200
        return _cell_message(request, indicator, messages, status_code=status)
    key = request.headers.get("idempotency-key")
    body = {"indicator": indicator, "value": raw, "reason": reason}
    path = request.url.path
    command = EnterValues.of(agency, period, [(indicator, raw)], reason)
    try:
        outcome = handle.enter_values(
            web.write,
            person.principal,
            command,
            idempotency(person.principal.subject, key, path, body) if key else None,
        )
    except ReasonRequired:
        message = Message(
            "error",
            t._("The report was submitted before: give the reason for corrections above the form, then save again."),
        )
        return _cell_message(request, indicator, (message,), status_code=422)
    except SubmissionLocked:
        message = Message("error", t._("The report is locked (submitted or approved): this value was not saved."))
        return _cell_message(request, indicator, (message,), status_code=409)
    except BatchRejected as error:
        detail = error.rejections[0]
        problem = InvalidValue(detail.reason, detail.detail)
        return _cell_message(
            request, indicator, (Message("error", t.rejection(checked.indicator, problem)),), status_code=422
        )
    answer = outcome.to_json()
    headers = {"X-Version": str(answer["version"])}
    if answer.get("position") is not None:
        headers["X-Position"] = str(answer["position"])
    # The check above is of the value now stored (the rules against the same page), so its messages stand.
    return _cell_message(request, indicator, tuple(m for m in messages if m.level != "note"), headers=headers)


@router.post(BASE + "/values")
def save_all(request: Request, agency: str, period: str, person: Clerk, web: Web, fields: Fields) -> Response:
    """Without the page's script: every changed cell of the form in one batch (all stored or none)."""
    _own(person, agency)
    t = texts(request)
    sheet = entry_sheet(web.write, person.principal, agency, period)
    reason = field(fields, "reason", 2000).strip() or None
    entries: list[tuple[str, object]] = []
    errors: dict[str, tuple[Message, ...]] = {}
    typed: dict[str, str] = {}
    for code, definition in sheet.form.indicators.items():
        text = field(fields, VALUE_FIELD + code)
        typed[code] = text
        try:
            raw = read_input(definition.value_type, text, t.language)
        except Unreadable as problem:
            errors[code] = (Message("error", t.unreadable(problem)),)
            continue
        current = sheet.values.get(code)
        if raw is None:
            if current is not None:
                errors[code] = (
                    Message("error", t._("A saved value cannot be emptied: enter the right value (zero is a value).")),
                )
            continue
        try:
            value = definition.parse(raw)
        except InvalidValue as problem:
            errors[code] = (Message("error", t.rejection(definition, problem)),)
            continue
        if current is None or type(current.value) is not type(value) or current.value != value:
            entries.append((code, raw))
    if not errors and entries:
        key = posted_key(fields)
        body = {"values": [{"indicator": c, "value": v} for c, v in entries], "reason": reason}
        try:
            outcome: Outcome = handle.enter_values(
                web.write, person.principal, EnterValues.of(agency, period, entries, reason),
                idempotency(person.principal.subject, key, request.url.path, body),
            )  # fmt: skip
        except ReasonRequired:
            errors["reason"] = (
                Message("error", t._("The report was submitted before: give the reason for the corrections.")),
            )
        else:
            position = outcome.to_json().get("position")
            target = base_url(agency, period) + "?saved=all" + (f"&after={position}" if position else "")
            return RedirectResponse(target, status_code=303)
    if not errors:
        return RedirectResponse(base_url(agency, period) + "?saved=all", status_code=303)
    context = sheet_context(request, web, person, sheet, errors=errors, typed=typed, reason=reason or "")
    return render(request, "entry.html", context, status_code=422)


# ---- the history of a cell ------------------------------------------------------------------------


@router.get(BASE + "/cells/{indicator}/history")
def history(
    request: Request, agency: str, period: str, indicator: str, person: Reader, web: Web, min_position: int = 0
) -> Response:
    """Every value the cell had: who, when, old → new, why; read once the trail shows `min_position`."""
    opened = open_month(web.write, person.principal, agency, period)
    definition = opened.form.indicators.get(indicator)
    if definition is None:
        raise NotFound(f"{indicator} is not on this form")
    t = texts(request)
    current = visible_or_behind(web.read.audit_trail.visible, reading_after(min_position or None))
    wanted = TrailFilter(
        agency=agency, period=opened.period.code, indicator=indicator, event_types=tuple(sorted(VALUE_EVENTS))
    )
    rows = web.read.audit_trail.page(wanted, 0, HISTORY_LIMIT)
    entries = []
    for row in reversed(rows):
        event = row.to_json()
        entries.append(
            {
                "new": t.stored(event["value"], definition.value_type),
                "old": t.stored(event["previous_value"], definition.value_type),
                "reason": event["reason"],
                "who": actor_name(web.write, event["actor"]),
                "role": event["role"],
                "at": event["occurred_at"],
                "position": event["position"],
            }
        )
    context = {
        "code": indicator,
        "name": names(opened.form, t)[indicator],
        "unit": definition.unit,
        "entries": entries,
        "current": current,
    }
    return render(request, "_entry_history.html", context)


# ---- submit and recall ----------------------------------------------------------------------------


def _lifecycle(web: WebSide, person: Person, request: Request, action: Action, agency: str, period: str,
               reason: str | None, key: str) -> Outcome:  # fmt: skip
    body = {"reason": reason}
    command = ChangeStatus(agency, period, action, reason)
    return handle.change_status(
        web.write, person.principal, command, idempotency(person.principal.subject, key, request.url.path, body)
    )


@router.get(BASE + "/submit")
def submit_summary(request: Request, agency: str, period: str, person: Clerk, web: Web) -> Response:
    """Before submitting: what is missing, which rules fail, which values look doubtful, and the deadline."""
    _own(person, agency)
    sheet = entry_sheet(web.write, person.principal, agency, period)
    return render(request, "entry_submit.html", _submit_context(request, sheet))


def _submit_context(request: Request, sheet: EntrySheet, **extra: Any) -> dict[str, Any]:
    t = texts(request)
    return {
        "t": t,
        **summary_context(sheet, t, own=True),
        "calendar": calendar(sheet.deadline, sheet.today),
        "status_label": status_label(t, str(sheet.status)),
        "request_key": new_key(),
        "reason": "",
        "refused": False,
        **extra,
    }


@router.post(BASE + "/submit")
def submit(request: Request, agency: str, period: str, person: Clerk, web: Web, fields: Fields) -> Response:
    _own(person, agency)
    reason = field(fields, "reason", 2000).strip() or None
    try:
        outcome = _lifecycle(web, person, request, Action.SUBMIT, agency, period, reason, posted_key(fields))
    except ValidationFailed:
        sheet = entry_sheet(web.write, person.principal, agency, period)
        context = _submit_context(request, sheet, reason=reason or "", refused=True)
        return render(request, "entry_submit.html", context, status_code=422)
    return _done(agency, period, "submitted", outcome)


@router.post(BASE + "/recall")
def recall(request: Request, agency: str, period: str, person: Clerk, web: Web, fields: Fields) -> Response:
    """The agency withdraws its submitted report to correct it (a reason is required)."""
    _own(person, agency)
    reason = field(fields, "reason", 2000).strip() or None
    try:
        outcome = _lifecycle(web, person, request, Action.RECALL, agency, period, reason, posted_key(fields))
    except ReasonRequired:
        t = texts(request)
        sheet = entry_sheet(web.write, person.principal, agency, period)
        errors = {"recall_reason": (Message("error", t._("Say why you recall the report.")),)}
        return render(request, "entry.html", sheet_context(request, web, person, sheet, errors=errors), status_code=422)
    return _done(agency, period, "recalled", outcome)


def _done(agency: str, period: str, what: str, outcome: Outcome) -> Response:
    position = outcome.to_json().get("position")
    target = f"{base_url(agency, period)}?done={what}" + (f"&after={position}" if position else "")
    return RedirectResponse(target, status_code=303)
