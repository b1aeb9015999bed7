"""What the entry form, the review queue and the home pages say about a report: its status, its deadline,
its latest step and who took it, in the reader's language; and what those pages share (keys of their
forms, the fields of a post, the reads that wait for a write).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData

from domain.periods import Period
from domain.submission import LifecycleStep, Status
from services.ingest.application.access import person as find_person
from services.ingest.application.idempotency import MAX_KEY_LENGTH, Idempotency
from services.ingest.application.write_side import WriteSide
from services.readmodels.errors import NotYetVisible
from services.readmodels.freshness import Freshness
from services.web.entry_view import Texts
from services.web.i18n import translations
from services.web.labels import KINDS, REGIONS, STATUSES
from services.web.templating import language_of

# How long a page waits for the read models to show the write that led to it.
READ_YOUR_WRITES_MS = 3000

STEP_LABELS: dict[Status, str] = {
    Status.SUBMITTED: "Submitted",
    Status.APPROVED: "Approved",
    Status.RETURNED: "Returned for revision",
    Status.RECALLED: "Recalled by the agency",
    Status.REOPENED: "Reopened by the ministry",
}
EVENT_STEPS: dict[str, Status] = {
    "ReportSubmitted": Status.SUBMITTED,
    "ReportApproved": Status.APPROVED,
    "ReportReturned": Status.RETURNED,
    "ReportRecalled": Status.RECALLED,
    "ReportReopened": Status.REOPENED,
}


def texts(request: Request) -> Texts:
    language = language_of(request)
    return Texts(language, translations(language).gettext)


async def form_fields(request: Request) -> FormData:
    """The posted fields (read once; the CSRF check read them already)."""
    return await request.form()


Fields = Annotated[FormData, Depends(form_fields)]


def field(fields: FormData, name: str, limit: int = 4000) -> str:
    value = fields.get(name)
    return value[:limit] if isinstance(value, str) else ""


def new_key() -> str:
    """The Idempotency-Key a page puts in a form: posting the same form twice gets the first answer."""
    return "web-" + secrets.token_urlsafe(18)


def posted_key(fields: FormData) -> str:
    """The form's key as posted (a fresh one if the form had none: then a repeat is not recognised)."""
    key = field(fields, "request_key", MAX_KEY_LENGTH)
    return key if key.isprintable() and key else new_key()


def idempotency(subject: str, key: str, path: str, body: object) -> Idempotency:
    return Idempotency.of(subject, key, "POST", path, body)


def reading_after(position: int | None) -> Freshness:
    """A read that waits (a little) for the write the page was redirected from."""
    return Freshness(position, READ_YOUR_WRITES_MS if position else 0)


def visible_or_behind(visible: Callable[[Freshness], int], wanted: Freshness) -> bool:
    """Wait for the read model to show `wanted`; False if it is still behind (the page says so)."""
    if wanted.min_position is None:
        return True  # no write to wait for
    try:
        visible(wanted)
    except NotYetVisible:
        return False
    return True


@dataclass(frozen=True)
class Calendar:
    """A month's deadline as a person reads it."""

    deadline: date
    days: int  # until the deadline: negative when it has passed

    def phrase(self, t: Texts) -> str:
        _ = t._
        if self.days > 1:
            return _("%(days)s days left") % {"days": self.days}
        if self.days == 1:
            return _("1 day left")
        if self.days == 0:
            return _("due today")
        return _("%(days)s days late") % {"days": -self.days}


def calendar(deadline: date, today: date) -> Calendar:
    return Calendar(deadline, (deadline - today).days)


def status_label(t: Texts, status: str) -> str:
    return t._(STATUSES.get(status, status))


def actor_name(ws: WriteSide, subject: str | None) -> str:
    """Who took a step: a person's display name, or the system's subject."""
    if not subject:
        return ""
    if subject.startswith("user:"):
        found = find_person(ws, subject.removeprefix("user:"))
        if found is not None:
            return found.display_name
        return subject.removeprefix("user:")
    return subject


@dataclass(frozen=True)
class StepView:
    label: str
    status: str
    reason: str | None
    who: str
    at: datetime
    days_late: int | None = None


def step_view(ws: WriteSide, t: Texts, step: LifecycleStep) -> StepView:
    return StepView(t._(STEP_LABELS[step.status]), str(step.status), step.reason, actor_name(ws, step.actor), step.at,
                    step.days_late)  # fmt: skip


def period_label(t: Texts, period: Period | str) -> str:
    return t.formats.period(str(period))


def region_label(t: Texts, region: str | None) -> str:
    return "" if region is None else t._(REGIONS[region]) if region in REGIONS else region


def kind_label(t: Texts, kind: str | None) -> str:
    return "" if kind is None else t._(KINDS[kind]) if kind in KINDS else kind
