"""Time travel in the browser: an agency's report, or a roll-up, as of a chosen instant or position
beside today's, with every difference marked (changed, added, no longer there) in words and signs.

Then: folded from the log by the read models' own as-of folds, as the reports API's `/as-of`
endpoints do; today: the live read models. One comparison serves both pages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query, Request
from fastapi.responses import Response
from fastapi.routing import APIRouter

from domain.errors import NotFound
from domain.periods import Period
from domain.scope import Dimension, Scope
from infra.integration_events import IntegrationEvent
from services.ingest.application.access import Person
from services.readmodels.audit_trail.queries import AsOf
from services.readmodels.errors import NotYetVisible
from services.readmodels.freshness import Freshness
from services.readmodels.reference.snapshot import Reference
from services.readmodels.report_view.rows import ReportValue
from services.readmodels.rollups.figures import FigureRow, Figures
from services.web.i18n import Formats
from services.web.labels import GROUPS, KINDS, REGIONS, ROLES
from services.web.navigation import NavEntry
from services.web.pages.audit_common import (
    AUDIT_READERS,
    MINISTRY_READERS,
    Fields,
    agency_choices,
    agency_name,
    indicator_name,
    label,
    local_input,
    only_agency,
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
NAV: tuple[NavEntry, ...] = ()

WAIT_MS = 3000  # a position just written may take a moment to reach the audit trail
K = TypeVar("K")
T = TypeVar("T")

Reader = Annotated[Person, Depends(require(*AUDIT_READERS))]
MinistryReader = Annotated[Person, Depends(require(*MINISTRY_READERS))]
Web = Annotated[WebSide, Depends(web_side)]
Text = Annotated[str, Query(max_length=100)]


class Change(StrEnum):
    SAME = "same"
    CHANGED = "changed"
    ADDED = "added"
    REMOVED = "removed"


CHANGE_LABELS = {
    Change.SAME: "unchanged",
    Change.CHANGED: "changed",
    Change.ADDED: "added since",
    Change.REMOVED: "no longer there",
}
CHANGE_MARKS = {Change.SAME: "=", Change.CHANGED: "≠", Change.ADDED: "+", Change.REMOVED: "−"}


@dataclass(frozen=True)
class Compared(Generic[K, T]):
    key: K
    then: T | None
    now: T | None
    change: Change


def compare(then: Mapping[K, T], now: Mapping[K, T], same: Callable[[T, T], bool]) -> list[Compared[K, T]]:
    """Each key of either side, in key order: there then and now (same or changed), only now (added)
    or only then (removed)."""
    result: list[Compared[K, T]] = []
    for key in sorted(set(then) | set(now)):  # type: ignore[type-var]  # keys are strings or tuples of them
        before, after = then.get(key), now.get(key)
        if before is None:
            change = Change.ADDED
        elif after is None:
            change = Change.REMOVED
        else:
            change = Change.SAME if same(before, after) else Change.CHANGED
        result.append(Compared(key, before, after, change))
    return result


@dataclass(frozen=True)
class Summary:
    changed: int
    added: int
    removed: int
    same: int

    @classmethod
    def of(cls, compared: Sequence[Compared[K, T]]) -> Summary:
        count = {change: sum(1 for c in compared if c.change is change) for change in Change}
        return cls(count[Change.CHANGED], count[Change.ADDED], count[Change.REMOVED], count[Change.SAME])


@dataclass(frozen=True)
class Moment:
    """The past moment shown: the prefix of the log folded, and when its last event happened."""

    position: int
    asked_at: str  # the instant asked for ('' when a position was)
    last_event_at: str  # time of the event at that position ('' when none is there)


class MomentParameters:
    """When: `when=at` with `at` (Vietnam time), or `when=position` with `position`."""

    def __init__(
        self,
        when: Annotated[str, Query(max_length=10)] = "",
        at: Annotated[str, Query(max_length=40)] = "",
        position: Annotated[str, Query(max_length=25)] = "",
        changes_only: Annotated[str, Query(max_length=5)] = "",
    ) -> None:
        self.values = {"when": when if when in {"at", "position"} else "at", "at": at, "position": position}
        self.changes_only = bool(changes_only)


def moment(fields: Fields, request: Request) -> AsOf | None:
    """The moment the form names, or None with the field's error set."""
    if fields["when"] == "position":
        position = fields.position("position", request)
        if position is None:
            fields.refuse("position", gettext(request, "Write the position in the log."))
            return None
        return AsOf(position=position, wait_ms=WAIT_MS)
    at = fields.instant("at", request)
    if at is None:
        fields.refuse("at", gettext(request, "Choose the date and time."))
        return None
    fields.values["at"] = local_input(at)
    return AsOf(at=at, wait_ms=WAIT_MS)


def then_moment(request: Request, web: WebSide, when: AsOf, target: int) -> Moment:
    event = web.read.audit_trail.event(target) if target else None
    language = language_of(request)
    last = precise_instant(language, IntegrationEvent.from_bytes(event.canonical).occurred_at) if event else ""
    asked = precise_instant(language, when.at) if when.at is not None else ""
    return Moment(target, asked, last)


def not_yet(request: Request, fields: Fields, when: AsOf, refused: NotYetVisible) -> None:
    message = gettext(
        request, "The audit trail holds the log up to position %(position)s only: choose an earlier moment."
    )
    fields.refuse("position" if when.position is not None else "at", message % {"position": refused.position})


def change_words(request: Request, change: Change) -> tuple[str, str]:
    return gettext(request, CHANGE_LABELS[change]), CHANGE_MARKS[change]


# ---- an agency's report ----------------------------------------------------------------------


@dataclass(frozen=True)
class Side:
    value: str
    revision: int
    by: str
    at: str


@dataclass(frozen=True)
class ValueRow:
    indicator: str
    name: str
    unit: str
    change: str
    change_label: str
    mark: str
    then: Side | None
    now: Side | None
    history_href: str


def _side(request: Request, value: ReportValue | None) -> Side | None:
    if value is None:
        return None
    role = label(request, ROLES, value.role)
    by = f"{value.actor or ''}{f' ({role})' if role else ''}"
    return Side(
        value_text(request, value.value), value.revision, by, precise_instant(language_of(request), value.recorded_at)
    )


def value_rows(
    request: Request, ref: Reference, agency: str, period: str, compared: Sequence[Compared[str, ReportValue]]
) -> list[ValueRow]:
    rows = []
    for item in compared:
        words, mark = change_words(request, item.change)
        info = ref.indicators.get(item.key)
        history = "/audit/events" + query({"agency": agency, "period": period, "indicator": item.key})
        rows.append(
            ValueRow(
                item.key,
                indicator_name(request, ref, item.key),
                info.unit if info else "",
                str(item.change),
                words,
                mark,
                _side(request, item.then),
                _side(request, item.now),
                history,
            )
        )
    return rows


class ReportParameters:
    def __init__(self, agency: Text = "", period: Annotated[str, Query(max_length=20)] = "") -> None:
        self.agency = agency
        self.period = period


@router.get("/audit/as-of/report")
def report_as_of_page(
    request: Request,
    person: Reader,
    web: Web,
    chosen: Annotated[ReportParameters, Depends()],
    when_asked: Annotated[MomentParameters, Depends()],
) -> Response:
    ref = web.read.reference.snapshot()
    fields = Fields({"agency": chosen.agency, "period": chosen.period, **when_asked.values})
    asked = any(fields[name] for name in ("agency", "period", "at", "position"))
    own = only_agency(person)
    if own is not None:
        require_agency(person, fields["agency"] or own)
        fields.values["agency"] = own
    context: dict[str, object] = {}
    if asked:
        agency = fields.text("agency", request)
        if agency is None:
            fields.refuse("agency", gettext(request, "Choose an agency."))
        elif agency not in ref.agencies:
            fields.refuse("agency", gettext(request, "No agency has this code."))
        period = fields.period("period", request, required=True)
        when = moment(fields, request)
        if fields.valid and agency is not None and period is not None and when is not None:
            context = _report_comparison(request, web, ref, agency, period, when, fields, when_asked.changes_only)
    context.update(
        {
            "tabs": tabs(request, person),
            "fields": fields,
            "agencies": agency_choices(request, ref, person),
            "fixed_agency": own,
            "changes_only": when_asked.changes_only,
        }
    )
    return render(request, "audit/as_of_report.html", context, status_code=422 if fields.errors else 200)


def _report_comparison(
    request: Request,
    web: WebSide,
    ref: Reference,
    agency: str,
    period: Period,
    when: AsOf,
    fields: Fields,
    changes_only: bool,
) -> dict[str, object]:
    try:
        target, then = web.read.report_view_history.report(agency, period.code, when)
    except NotYetVisible as refused:
        not_yet(request, fields, when, refused)
        return {}
    now = web.read.report_view.report(agency, period.code, Freshness())
    compared = compare(
        {v.indicator: v for v in then.values}, {v.indicator: v for v in now.values}, lambda a, b: a.value == b.value
    )
    shown = [c for c in compared if c.change is not Change.SAME] if changes_only else compared
    return {
        "result": True,
        "agency_label": f"{agency} — {agency_name(request, ref, agency, period.code)}",
        "period_label": Formats(language_of(request)).period(period.code),
        "then": then_moment(request, web, when, target),
        "now_position": now.position,
        "summary": Summary.of(compared),
        "rows": value_rows(request, ref, agency, period.code, shown),
        "trail_href": "/audit/events" + query({"agency": agency, "period": period.code}),
    }


# ---- a roll-up ----------------------------------------------------------------------------------

FigureKey = tuple[str, str, str]  # indicator, period, scope


@dataclass(frozen=True)
class FigureSide:
    value: str
    reported: str  # "3 / 63": agencies reported of expected


@dataclass(frozen=True)
class FigureCompared:
    indicator: str
    name: str
    unit: str
    period_label: str
    scope_label: str
    change: str
    change_label: str
    mark: str
    then: FigureSide | None
    now: FigureSide | None
    value_changed: bool
    reported_changed: bool


def scope_label(request: Request, scope: Scope | str) -> str:
    scope = Scope.parse(scope) if isinstance(scope, str) else scope
    if scope.dimension is Dimension.NATIONAL:
        return gettext(request, "Whole country")
    if scope.dimension is Dimension.REGION:
        if scope.value is None:
            return gettext(request, "Each region")
        return gettext(request, "Region: %(name)s") % {"name": label(request, REGIONS, scope.value)}
    if scope.value is None:
        return gettext(request, "Each kind of agency")
    return gettext(request, "Agency kind: %(name)s") % {"name": label(request, KINDS, scope.value)}


def scope_choices(request: Request, ref: Reference) -> list[tuple[str, str]]:
    choices = [str(Scope.NATIONAL), str(Scope(Dimension.REGION)), str(Scope(Dimension.KIND))]
    choices += [str(Scope(Dimension.REGION, region)) for region in ref.regions()]
    choices += [str(Scope(Dimension.KIND, kind)) for kind in ref.kinds()]
    return [(choice, scope_label(request, choice)) for choice in choices]


def _figure_side(request: Request, row: FigureRow | None) -> FigureSide | None:
    if row is None:
        return None
    formats = Formats(language_of(request))
    reported = f"{formats.number(row.agencies_reported)} / {formats.number(row.agencies_expected)}"
    return FigureSide(value_text(request, row.value), reported)


def figure_rows(
    request: Request, ref: Reference, compared: Sequence[Compared[FigureKey, FigureRow]]
) -> list[FigureCompared]:
    formats = Formats(language_of(request))
    rows = []
    for item in compared:
        indicator, period, scope = item.key
        words, mark = change_words(request, item.change)
        then, now = item.then, item.now
        value_changed = reported_changed = False
        if then is not None and now is not None:
            value_changed = then.value != now.value
            reported_changed = (then.agencies_reported, then.agencies_expected) != (
                now.agencies_reported,
                now.agencies_expected,
            )
        info = ref.indicators.get(indicator)
        rows.append(
            FigureCompared(
                indicator,
                indicator_name(request, ref, indicator),
                info.unit if info else "",
                formats.period(period),
                scope_label(request, scope),
                str(item.change),
                words,
                mark,
                _figure_side(request, then),
                _figure_side(request, now),
                value_changed,
                reported_changed,
            )
        )
    return rows


def _same_figure(a: FigureRow, b: FigureRow) -> bool:
    return (a.value, a.agencies_reported, a.agencies_expected) == (b.value, b.agencies_reported, b.agencies_expected)


def _keyed(figures: Figures) -> dict[FigureKey, FigureRow]:
    return {(row.indicator, row.period, row.scope): row for row in figures.rows}


class RollupParameters:
    def __init__(
        self,
        period: Annotated[str, Query(max_length=20)] = "",
        scope: Text = "",
        group: Annotated[str, Query(max_length=50)] = "",
        indicator: Text = "",
    ) -> None:
        self.values = {"period": period, "scope": scope or str(Scope.NATIONAL), "group": group, "indicator": indicator}


@router.get("/audit/as-of/rollups")
def rollups_as_of_page(
    request: Request,
    person: MinistryReader,
    web: Web,
    chosen: Annotated[RollupParameters, Depends()],
    when_asked: Annotated[MomentParameters, Depends()],
) -> Response:
    ref = web.read.reference.snapshot()
    fields = Fields({**chosen.values, **when_asked.values})
    asked = any(fields[name] for name in ("period", "at", "position"))
    scopes = scope_choices(request, ref)
    context: dict[str, object] = {}
    if asked:
        period = fields.period("period", request, required=True)
        scope = fields["scope"]
        if scope not in {value for value, _ in scopes}:
            fields.refuse("scope", gettext(request, "Choose a scope from the list."))
        group = fields["group"] or None
        if group is not None and group not in GROUPS:
            fields.refuse("group", gettext(request, "Choose a group from the list."))
        indicator = fields.text("indicator", request)
        if indicator is not None and indicator not in ref.indicators:
            fields.refuse("indicator", gettext(request, "No indicator has this code."))
        when = moment(fields, request)
        if fields.valid and period is not None and when is not None:
            codes = [indicator] if indicator else None
            if group is not None and indicator is None:
                codes = sorted(code for code, info in ref.indicators.items() if info.group == group)
            context = _rollup_comparison(
                request, web, ref, period, Scope.parse(scope), codes, when, fields, when_asked.changes_only
            )
    context.update(
        {
            "tabs": tabs(request, person),
            "fields": fields,
            "scopes": scopes,
            "groups": [(code, gettext(request, text)) for code, text in GROUPS.items()],
            "indicators": [(code, indicator_name(request, ref, code)) for code in sorted(ref.indicators)],
            "changes_only": when_asked.changes_only,
        }
    )
    return render(request, "audit/as_of_rollups.html", context, status_code=422 if fields.errors else 200)


def _then_figures(
    web: WebSide, when: AsOf, codes: list[str] | None, period: Period, scope: Scope
) -> tuple[int, Figures]:
    """The roll-up folded up to `when`; a group's indicators that did not exist then are left out."""
    try:
        return web.read.rollups_history.figures(when, codes, [period], scope)
    except NotFound:
        if codes is None or len(codes) == 1:
            raise
    wanted = set(codes)
    target, every = web.read.rollups_history.figures(when, None, [period], scope)
    return target, Figures(every.scopes, [row for row in every.rows if row.indicator in wanted])


def _rollup_comparison(
    request: Request,
    web: WebSide,
    ref: Reference,
    period: Period,
    scope: Scope,
    codes: list[str] | None,
    when: AsOf,
    fields: Fields,
    changes_only: bool,
) -> dict[str, object]:
    notice = ""
    try:
        target, then = _then_figures(web, when, codes, period, scope)
    except NotYetVisible as refused:
        not_yet(request, fields, when, refused)
        return {}
    except NotFound:
        # An indicator, region or kind that did not exist then: nothing of it was rolled up then.
        target = web.read.audit_trail.log_prefix(when)
        then = Figures([], [])
        notice = gettext(request, "At that moment the indicators or the scope asked for did not exist yet.")
    now = web.read.rollups.figures(codes, [period], scope)
    compared = compare(_keyed(then), _keyed(now), _same_figure)
    shown = [c for c in compared if c.change is not Change.SAME] if changes_only else compared
    return {
        "result": True,
        "notice": notice,
        "period_label": Formats(language_of(request)).period(period.code),
        "scope_label": scope_label(request, scope),
        "then": then_moment(request, web, when, target),
        "now_position": web.read.rollups.visible(Freshness()),
        "summary": Summary.of(compared),
        "rows": figure_rows(request, ref, shown),
    }
