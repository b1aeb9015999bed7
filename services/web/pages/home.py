"""The home page: what each person does first, by role.

- a clerk: the agency's months (status, deadline, days left or late, a return's reason, a link to each
  form) and a picker for any other month;
- a reviewer: the queue (its oldest reports) and, per month, how many agencies are at each status;
- an auditor (and any ministry role): a picker to open any agency's report, read-only;
- an administrator: the people and the API tokens.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from domain.identity import Role
from domain.periods import Period, PeriodKind, period_for_date
from services.ingest.application.access import Person
from services.readmodels.compliance.queries import BOARD_STATUSES, QueueFilter, ReportStatus
from services.readmodels.reference.snapshot import AgencyInfo, Reference
from services.web.entry_view import Texts
from services.web.lifecycle_view import (
    Calendar,
    calendar,
    period_label,
    reading_after,
    region_label,
    status_label,
    texts,
    visible_or_behind,
)
from services.web.navigation import NavEntry
from services.web.pages.entry import base_url
from services.web.people import signed_in
from services.web.templating import render
from services.web.web_side import WebSide, web_side

router = APIRouter(include_in_schema=False)
NAV = (NavEntry("Home", "/", frozenset(Role), order=0),)

Web = Annotated[WebSide, Depends(web_side)]

CLERK_MONTHS = 12  # the months listed on a clerk's home page
PICKER_MONTHS = 36  # how far back the period picker goes
REVIEW_MONTHS = 6
QUEUE_PREVIEW = 8
ATTENTION_DAYS = 5  # a month not submitted yet is pointed out this many days before its deadline
MAX_AGENCY_CHOICES = 500  # beyond, the agency is typed (a list that long helps nobody)


def entry_months(ref: Reference, agency: AgencyInfo | None, today: date, count: int) -> list[Period]:
    """The months the agency reports for, newest first: the one open now and those before it, back to the
    agency's start and its template's first version."""
    if agency is None or agency.template is None:
        return []
    template = ref.templates.get(agency.template)
    first = template.versions[0][0] if template and template.versions else None
    months = []
    month = period_for_date(today, PeriodKind.MONTH)
    for _ in range(count):
        if (first is not None and month < first) or not agency.active_in(month):
            break
        months.append(month)
        month = month.previous()
    return months


def _clerk(web: WebSide, person: Person, t: Texts, today: date, after: int | None) -> dict[str, Any]:
    code = person.agency or ""
    current = visible_or_behind(web.read.compliance.visible, reading_after(after))
    ref = web.read.reference.snapshot()
    agency = ref.agencies.get(code)
    months = entry_months(ref, agency, today, CLERK_MONTHS)
    reports = web.read.compliance.agency_reports(code, months)
    rows = []
    for month in months:
        report: ReportStatus | None = reports.get(month.code)
        status = report.status if report else "not_started"
        deadline = web.read.compliance.regime.deadline(month)
        days = calendar(deadline, today)
        rows.append(
            {
                "period": month.code,
                "status": status,
                "label": status_label(t, status),
                "deadline": deadline,
                "timing": _timing(t, report, days),
                "late": (report is None or report.times_submitted == 0) and days.days < 0,
                "reason": report.step_reason if report and status in ("returned", "recalled", "reopened") else None,
                "step_at": report.step_at if report else None,
                "url": base_url(code, month.code),
                "attention": status in ("returned", "reopened", "recalled")
                or (status == "draft" and days.days <= ATTENTION_DAYS)
                or (month == months[0] and status == "not_started" and days.days <= ATTENTION_DAYS),
            }
        )
    picker = entry_months(ref, agency, today, PICKER_MONTHS)
    return {
        "agency": code,
        "agency_name": agency.name_in(months[0]) if agency and months else code,
        "months": rows,
        "attention": [row for row in rows if row["attention"]],
        "picker": [(m.code, period_label(t, m)) for m in picker],
        "current": current,
    }


def _timing(t: Texts, report: ReportStatus | None, days: Calendar) -> str:
    if report is not None and report.times_submitted and report.status in ("submitted", "approved"):
        late = report.last_days_late or 0
        return t._("submitted %(days)s days late") % {"days": late} if late else t._("submitted on time")
    return days.phrase(t)


def _reviewer(web: WebSide, t: Texts, today: date) -> dict[str, Any]:
    month = period_for_date(today, PeriodKind.MONTH)
    periods = []
    for _ in range(REVIEW_MONTHS):
        periods.append(month)
        month = month.previous()
    counts = web.read.compliance.counts(periods)
    queue = web.read.compliance.queue(QueueFilter(), QUEUE_PREVIEW)
    ref = web.read.reference.snapshot()
    return {
        "counts": [(p.code, counts[p.code]) for p in periods],
        "statuses": [(status, status_label(t, status)) for status in BOARD_STATUSES],
        "queue": [
            {
                "agency": e.report.agency,
                "name": e.name_vi or e.report.agency,
                "region": region_label(t, e.region),
                "period": e.report.period,
                "submitted_at": e.report.last_submitted_at,
                "url": base_url(e.report.agency, e.report.period),
            }
            for e in queue.entries
        ],
        "waiting": queue.total,
        "agency_choices": sorted(ref.agencies) if len(ref.agencies) <= MAX_AGENCY_CHOICES else [],
    }


@router.get("/")
def home(request: Request, person: Annotated[Person, Depends(signed_in)], web: Web, after: int = 0) -> Response:
    t = texts(request)
    today = web.write.clock.today()
    context: dict[str, Any] = {"person": person, "t": t, "today": today, "clerk": None, "reviewer": None,
                               "open_report": None, "agency_choices": []}  # fmt: skip
    if person.holds(Role.AGENCY_REPORTER):
        context["clerk"] = _clerk(web, person, t, today, after or None)
    ministry = person.holds(Role.MINISTRY_REVIEWER) or person.holds(Role.AUDITOR) or person.holds(Role.ADMIN)
    if person.holds(Role.MINISTRY_REVIEWER):
        context["reviewer"] = _reviewer(web, t, today)
    if ministry:
        month = period_for_date(today, PeriodKind.MONTH)
        months = [month]
        for _ in range(PICKER_MONTHS - 1):
            months.append(months[-1].previous())
        context["open_report"] = {"months": [(m.code, period_label(t, m)) for m in months]}
        if context["reviewer"] is None:
            ref = web.read.reference.snapshot()
            context["agency_choices"] = sorted(ref.agencies) if len(ref.agencies) <= MAX_AGENCY_CHOICES else []
        else:
            context["agency_choices"] = context["reviewer"]["agency_choices"]
    context["admin"] = person.holds(Role.ADMIN)
    return render(request, "home.html", context)
