"""The audit trail page: every event of the log, filtered, keyset-paged both ways, downloadable.

The same read-model queries as the reports API's `/audit/events` (and its one CSV/XLSX rendering);
a clerk reads only their own agency's events. Linked from a change just made (`min_position`), it
waits for that change to reach the trail and marks its row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from infra.integration_events import VALUE_EVENTS, EventType, IntegrationEvent
from services.http.audit_export import trail_export
from services.ingest.application.access import Person
from services.readmodels.audit_trail.queries import TrailEvent, TrailFilter, TrailWindow
from services.readmodels.errors import NotYetVisible
from services.readmodels.freshness import Freshness
from services.readmodels.reference.snapshot import Reference
from services.web.i18n import Formats
from services.web.labels import ROLES
from services.web.navigation import NavEntry
from services.web.pages.audit_common import (
    AUDIT_READERS,
    EVENT_GROUPS,
    EVENT_LABELS,
    Fields,
    agency_choices,
    agency_name,
    indicator_name,
    label,
    local_input,
    only_agency,
    period_label,
    precise_instant,
    query,
    require_agency,
    tabs,
    value_text,
)
from services.web.people import require
from services.web.templating import gettext, language_of, render
from services.web.web_side import WebSide, web_side

router = APIRouter(include_in_schema=False)
NAV: tuple[NavEntry, ...] = ()  # reached from the console's overview (audit_home) and its tabs

PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50
LAST = 2**63 - 1  # `before` the end of the log: the newest page
WAIT_MS = 5000  # read-your-writes: how long the page waits for a change to reach the trail
FILTER_FIELDS = ("agency", "period", "indicator", "actor", "since", "until")

Reader = Annotated[Person, Depends(require(*AUDIT_READERS))]
Web = Annotated[WebSide, Depends(web_side)]


class TrailParameters:
    """The page's query: the filters as typed, and where the page stands in the trail."""

    def __init__(
        self,
        agency: Annotated[str, Query(max_length=100)] = "",
        period: Annotated[str, Query(max_length=20)] = "",
        indicator: Annotated[str, Query(max_length=100)] = "",
        actor: Annotated[str, Query(max_length=200)] = "",
        since: Annotated[str, Query(max_length=40)] = "",
        until: Annotated[str, Query(max_length=40)] = "",
        event_type: Annotated[list[str] | None, Query(max_length=50)] = None,
        after: Annotated[int | None, Query(ge=0)] = None,
        before: Annotated[int | None, Query(ge=1, le=LAST)] = None,
        limit: Annotated[int, Query(ge=1, le=max(PAGE_SIZES))] = DEFAULT_PAGE_SIZE,
        min_position: Annotated[int | None, Query(ge=1)] = None,
    ) -> None:
        self.fields = Fields(
            {"agency": agency, "period": period, "indicator": indicator, "actor": actor, "since": since, "until": until}
        )
        self.event_types = list(dict.fromkeys(event_type or ()))
        self.after = after
        self.before = before
        self.limit = limit if limit in PAGE_SIZES else DEFAULT_PAGE_SIZE
        self.min_position = min_position

    def filter_query(self) -> dict[str, str | list[str]]:
        """The filters as a query (for the paging and download links)."""
        return {**{name: self.fields[name] for name in FILTER_FIELDS}, "event_type": self.event_types}

    def trail_filter(self, request: Request, ref: Reference, person: Person) -> TrailFilter | None:
        """The filter, or None when a field is wrong (its error set); a clerk's agency is their own."""
        fields = self.fields
        own = only_agency(person)
        agency = fields.text("agency", request)
        if own is not None:
            require_agency(person, agency or own)
            agency = own
            fields.values["agency"] = own
        elif agency is not None and agency not in ref.agencies:
            fields.refuse("agency", gettext(request, "No agency has this code."))
        period = fields.period("period", request)
        indicator = fields.text("indicator", request)
        if indicator is not None and indicator not in ref.indicators:
            fields.refuse("indicator", gettext(request, "No indicator has this code."))
        actor = fields.text("actor", request)
        since = fields.instant("since", request)
        until = fields.instant("until", request)
        if since is not None and until is not None and until <= since:
            fields.refuse("until", gettext(request, "The end of the time range must come after its start."))
        known = {str(t) for t in EventType}
        if any(t not in known for t in self.event_types):
            fields.refuse("event_type", gettext(request, "Choose event types from the list."))
        if not fields.valid:
            return None
        fields.values["since"], fields.values["until"] = local_input(since), local_input(until)
        fields.values["period"] = period.code if period else ""
        return TrailFilter(
            agency, period.code if period else None, indicator, actor, tuple(self.event_types), since, until
        )


Parameters = Annotated[TrailParameters, Depends()]


@dataclass(frozen=True)
class TrailRow:
    """One event as the page shows it (every text in the reader's language and formats)."""

    position: int
    occurred_at: str
    occurred_iso: str
    event_type: str
    type_label: str
    agency: str
    agency_name: str
    period: str
    period_label: str
    indicator: str
    indicator_name: str
    is_value: bool
    previous: str | None  # None: the value had none before
    value: str
    actor: str
    role: str
    reason: str
    details: str
    verify_href: str
    as_of_href: str
    highlighted: bool


def trail_row(
    request: Request, ref: Reference, stored: TrailEvent, highlight: int | None, *, named_agency: bool = True
) -> TrailRow:
    """A row; `named_agency`: the agency's name on it (not when the trail is of one agency, named above)."""
    event = IntegrationEvent.from_bytes(stored.canonical)
    is_value = event.event_type in VALUE_EVENTS
    corrected = event.event_type is EventType.VALUE_CORRECTED
    as_of = ""
    if event.agency and event.period:  # the agency's report as it stood right after this event
        as_of = "/audit/as-of/report" + query(
            {"agency": event.agency, "period": event.period, "when": "position", "position": event.position}
        )
    return TrailRow(
        position=event.position,
        occurred_at=precise_instant(language_of(request), event.occurred_at),
        occurred_iso=event.occurred_at.isoformat(),
        event_type=str(event.event_type),
        type_label=label(request, EVENT_LABELS, event.event_type),
        agency=event.agency or "",
        agency_name=agency_name(request, ref, event.agency, event.period) if named_agency else "",
        period=event.period or "",
        period_label=period_label(request, event.period),
        indicator=event.indicator or "",
        indicator_name=indicator_name(request, ref, event.indicator),
        is_value=is_value,
        previous=value_text(request, event.previous_value) if corrected else None,
        value=value_text(request, event.value) if is_value else "",
        actor=event.actor or "",
        role=label(request, ROLES, event.role),
        reason=event.reason or "",
        details=event_details(request, event),
        verify_href=f"/audit/verify?position={event.position}",
        as_of_href=as_of,
        highlighted=highlight == event.position,
    )


def event_details(request: Request, event: IntegrationEvent) -> str:
    """What an event that is not a value did, in a few words (from its published `data`)."""
    data = event.data
    t = EventType

    def say(message: str, **values: object) -> str:
        return gettext(request, message) % values

    if event.event_type is t.REPORT_SUBMITTED:
        if data.get("late"):
            return say(
                "late by %(days)s day(s); deadline %(deadline)s",
                days=data.get("days_late"),
                deadline=_day(request, data.get("deadline")),
            )
        return say("on time; deadline %(deadline)s", deadline=_day(request, data.get("deadline")))
    if event.event_type is t.SUBMISSION_OPENED:
        return say(
            "form %(template)s, version %(version)s",
            template=data.get("template"),
            version=data.get("template_version"),
        )
    if event.event_type in {t.ACCOUNT_ROLE_GRANTED, t.ACCOUNT_ROLE_WITHDRAWN}:
        role = data.get("granted") or data.get("withdrawn")
        return f"{data.get('username')}: {label(request, ROLES, str(role))}"
    if event.event_type is t.ACCOUNT_CREATED:
        roles = ", ".join(label(request, ROLES, str(r)) for r in data.get("roles", ()))
        return f"{data.get('username')} ({data.get('display_name')}): {roles}"
    if str(event.event_type).startswith("Account"):
        return str(data.get("username", ""))
    if event.event_type is t.TOKEN_ISSUED:
        return f"{data.get('label') or data.get('token')}: {label(request, ROLES, str(data.get('token_role')))}"
    if event.event_type is t.TOKEN_REVOKED:
        return str(data.get("token", ""))
    if event.event_type in {t.AGENCY_REGISTERED, t.AGENCY_RENAMED}:
        return str(data.get("name_vi", ""))
    if event.event_type is t.AGENCY_CLOSED:
        if data.get("successor"):
            return say(
                "last day %(day)s; merged into %(successor)s",
                day=_day(request, data.get("effective_to")),
                successor=data["successor"],
            )
        return say("last day %(day)s", day=_day(request, data.get("effective_to")))
    if event.event_type is t.AGENCY_TEMPLATE_ASSIGNED:
        return str(data.get("template", ""))
    if event.event_type is t.TEMPLATE_VERSION_PUBLISHED:
        return say(
            "version %(version)s from %(month)s, %(count)s indicators",
            version=data.get("version"),
            month=data.get("effective_from"),
            count=len(data.get("indicators", ())),
        )
    if event.event_type in {t.TEMPLATE_CREATED, t.REPORT_DEFINITION_CREATED, t.REPORT_DEFINITION_REVISED}:
        return f"{data.get('code')}: {data.get('name_vi')}"
    if event.event_type is t.INDICATOR_DEFINED:
        definition = data.get("definition", {})
        return f"{definition.get('code')}: {definition.get('name_vi')}"
    return ""


def _day(request: Request, value: object) -> str:
    return Formats(language_of(request)).day(str(value)) if value else ""


def _window(web: WebSide, chosen: TrailFilter, parameters: TrailParameters) -> TrailWindow:
    if parameters.after is not None:
        return web.read.audit_trail.window(chosen, parameters.limit, after=parameters.after)
    # The newest page unless asked otherwise: an auditor looks at what happened last first.
    return web.read.audit_trail.window(chosen, parameters.limit, before=parameters.before or LAST)


@router.get("/audit/events")
def trail_page(request: Request, person: Reader, web: Web, parameters: Parameters) -> Response:
    ref = web.read.reference.snapshot()
    chosen = parameters.trail_filter(request, ref, person)
    notice = ""
    try:
        position = web.read.audit_trail.visible(Freshness(parameters.min_position, WAIT_MS))
    except NotYetVisible as refused:
        position = refused.position
        notice = gettext(
            request, "The change at position %(position)s is not in the audit trail yet. Reload the page in a moment."
        ) % {"position": parameters.min_position}
    window = _window(web, chosen, parameters) if chosen is not None else TrailWindow([], False, False)
    one_agency = chosen.agency if chosen is not None else None
    rows = [
        trail_row(request, ref, event, parameters.min_position, named_agency=one_agency is None)
        for event in window.events
    ]
    filters = parameters.filter_query()
    size = {"limit": parameters.limit if parameters.limit != DEFAULT_PAGE_SIZE else None}
    paging = {
        "first": "/audit/events" + query({**filters, **size, "after": 0}) if window.earlier else "",
        "previous": "/audit/events" + query({**filters, **size, "before": rows[0].position}) if window.earlier else "",
        "next": "/audit/events" + query({**filters, **size, "after": rows[-1].position}) if window.later else "",
        "last": "/audit/events" + query({**filters, **size}) if window.later else "",
    }
    context = {
        "tabs": tabs(request, person),
        "fields": parameters.fields,
        "event_types": parameters.event_types,
        "groups": [
            (gettext(request, group), [(str(t), label(request, EVENT_LABELS, t)) for t in types])
            for group, types in EVENT_GROUPS
        ],
        "agencies": agency_choices(request, ref, person),
        "fixed_agency": only_agency(person),
        "indicators": [(code, indicator_name(request, ref, code)) for code in sorted(ref.indicators)],
        "page_sizes": PAGE_SIZES,
        "limit": parameters.limit,
        "rows": rows,
        "position": position,
        "notice": notice,
        "paging": paging,
        "downloads": {fmt: f"/audit/events.{fmt}" + query(filters) for fmt in ("csv", "xlsx")},
        "valid": chosen is not None,
        "agency_label": f"{one_agency} — {agency_name(request, ref, one_agency)}" if one_agency else "",
    }
    return render(request, "audit/events.html", context, status_code=200 if chosen is not None else 422)


def _download(
    request: Request, person: Person, web: WebSide, parameters: TrailParameters, fmt: Literal["csv", "xlsx"]
) -> Response:
    chosen = parameters.trail_filter(request, web.read.reference.snapshot(), person)
    if chosen is None:  # the page says what is wrong, next to each field
        return RedirectResponse("/audit/events" + query(parameters.filter_query()), status_code=303)
    return trail_export(web.read.audit_trail, chosen, fmt)


@router.get("/audit/events.csv")
def trail_csv(request: Request, person: Reader, web: Web, parameters: Parameters) -> Response:
    return _download(request, person, web, parameters, "csv")


@router.get("/audit/events.xlsx")
def trail_xlsx(request: Request, person: Reader, web: Web, parameters: Parameters) -> Response:
    return _download(request, person, web, parameters, "xlsx")
