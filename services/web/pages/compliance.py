"""The compliance board: who had to report, who did, on time or late, for a month or across months.

`/compliance` is the page; `/compliance/board` its live fragment, which the page re-fetches when
the compliance or reference read model advances (services/web/live.py); `/compliance/export.csv`
and `.xlsx` download what the filters select, in the order shown, with the rates. Every figure
comes from the compliance read model (`ComplianceQueries.board`, `rates_by_scope`), as the
reports API's `/compliance` does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from domain.identity import Role
from domain.periods import VIETNAM, InvalidPeriod, Period, PeriodKind
from domain.scope import Dimension, Scope
from services.http.export import Sheet, csv_response, filename, xlsx_file, xlsx_workbook
from services.ingest.application.access import Person
from services.readmodels.compliance.queries import BOARD_STATUSES, PROJECTIONS, Board, BoardRow, ScopeRates
from services.readmodels.freshness import Freshness
from services.readmodels.reference.snapshot import Reference
from services.web.charts import Chart, Series
from services.web.choices import current_period, recent_periods
from services.web.i18n import Formats, nfc
from services.web.labels import Labels
from services.web.live import live_url
from services.web.navigation import NavEntry
from services.web.people import require
from services.web.templating import gettext, language_of, render
from services.web.web_side import WebSide, web_side

router = APIRouter(include_in_schema=False)
READERS = (Role.MINISTRY_REVIEWER, Role.AUDITOR, Role.ADMIN)
NAV = (NavEntry("Compliance", "/compliance", frozenset(READERS), order=30),)
PAGE_SIZE = 50
MAX_MONTHS = 24
MONTH_CHOICES = 36
LIVE = live_url(PROJECTIONS)

Reader = Annotated[Person, Depends(require(*READERS))]
Web = Annotated[WebSide, Depends(web_side)]
Text = Annotated[str | None, Query(max_length=100)]


def _by_status(row: BoardRow) -> int:
    return BOARD_STATUSES.index(row.status) if row.status in BOARD_STATUSES else len(BOARD_STATUSES)


# Column -> (header message id, what it sorts by).
COLUMNS: dict[str, tuple[str, Callable[[BoardRow], Any]]] = {
    "agency": ("Code", lambda r: r.agency),
    "name": ("Agency", lambda r: nfc(r.name_vi or "").casefold()),
    "region": ("Region", lambda r: r.region),
    "period": ("Period", lambda r: r.period),
    "status": ("Status", _by_status),
    "deadline": ("Deadline", lambda r: r.deadline),
    "first": ("First submitted", lambda r: r.first_submitted_at),
    "last": ("Last submitted", lambda r: r.last_submitted_at),
    "days_late": ("Days late", lambda r: r.days_late),
    "times": ("Submissions", lambda r: r.times_submitted),
}
DEFAULT_SORT = "agency"


@dataclass(frozen=True)
class Filters:
    """What the board shows: months, where, which status, what the name holds, in which order, which page."""

    start: Period
    end: Period
    region: str | None = None
    kind: str | None = None
    status: str | None = None
    search: str = ""
    sort: str = DEFAULT_SORT
    descending: bool = False
    page: int = 1

    def periods(self) -> list[Period]:
        periods = [self.start]
        while periods[-1] < self.end:
            periods.append(periods[-1].next())
        return periods

    def scope(self) -> Scope:
        if self.region:
            return Scope(Dimension.REGION, self.region)
        if self.kind:
            return Scope(Dimension.KIND, self.kind)
        return Scope.NATIONAL

    def query(self, **changes: Any) -> str:
        """The query string of these filters with `changes` (links to sort and to page)."""
        chosen = replace(self, **changes)
        params = {
            "from": chosen.start.code,
            "to": chosen.end.code,
            "region": chosen.region or "",
            "kind": chosen.kind or "",
            "status": chosen.status or "",
            "q": chosen.search,
            "sort": "" if chosen.sort == DEFAULT_SORT else chosen.sort,
            "dir": "desc" if chosen.descending else "",
            "page": "" if chosen.page == 1 else str(chosen.page),
        }
        return urlencode({k: v for k, v in params.items() if v})

    def matches(self, row: BoardRow) -> bool:
        if self.kind and row.kind != self.kind:
            return False
        if self.status and row.status != self.status:
            return False
        if self.search:
            wanted = nfc(self.search).casefold()
            return wanted in row.agency.casefold() or wanted in nfc(row.name_vi or "").casefold()
        return True

    def select(self, rows: Sequence[BoardRow]) -> list[BoardRow]:
        """The rows these filters select, in their order (empty values last, whichever the direction)."""
        chosen = [row for row in rows if self.matches(row)]
        chosen.sort(key=lambda r: (r.agency, r.period), reverse=self.sort == "agency" and self.descending)
        if self.sort == "agency":  # sorted already
            return chosen
        key = COLUMNS[self.sort][1]
        present = [row for row in chosen if key(row) is not None]
        present.sort(key=key, reverse=self.descending)
        return present + [row for row in chosen if key(row) is None]


class BoardQuery:
    """The filters as the form sends them, checked: each problem is reported next to its field."""

    def __init__(
        self,
        start: Annotated[str | None, Query(alias="from", max_length=7)] = None,
        end: Annotated[str | None, Query(alias="to", max_length=7)] = None,
        region: Text = None,
        kind: Text = None,
        status: Text = None,
        q: Text = None,
        sort: Text = None,
        dir: Text = None,
        page: Text = None,
    ) -> None:
        self.start, self.end, self.region, self.kind, self.status = start, end, region, kind, status
        self.q, self.sort, self.dir, self.page = q, sort, dir, page

    def checked(self, request: Request, web: WebSide, ref: Reference) -> tuple[Filters, dict[str, str]]:
        """The filters, and the problems found (field -> message); a field in error falls back to its default."""
        _ = _translator(request)
        errors: dict[str, str] = {}
        this_month = current_period(PeriodKind.MONTH, web.read.clock.today())
        start = _month(self.start, this_month, this_month, "from", errors, _)
        end = _month(self.end, start if self.start and not self.end else this_month, this_month, "to", errors, _)
        if not errors and end < start:
            errors["to"] = _("The last month comes before the first.")
        elif not errors and len(Filters(start, end).periods()) > MAX_MONTHS:
            errors["to"] = _("At most %(months)s months at once.") % {"months": MAX_MONTHS}
        if errors:
            start = end = this_month
        region = self._known(self.region, ref.regions(), "region", errors, _("There is no such region."))
        kind = self._known(self.kind, ref.kinds(), "kind", errors, _("There is no such kind of agency."))
        status = self._known(self.status, BOARD_STATUSES, "status", errors, _("There is no such status."))
        sort = self.sort if self.sort in COLUMNS else DEFAULT_SORT
        page = int(self.page) if self.page and self.page.isdigit() and 0 < int(self.page) < 100_000 else 1
        search = nfc(self.q or "").strip()
        return Filters(start, end, region, kind, status, search, sort, self.dir == "desc", page), errors

    @staticmethod
    def _known(value: str | None, known: Sequence[str], name: str, errors: dict[str, str], message: str) -> str | None:
        if not value:
            return None
        if value not in known:
            errors[name] = message
            return None
        return value


Filtered = Annotated[BoardQuery, Depends()]


def _translator(request: Request) -> Callable[[str], str]:
    return lambda message: gettext(request, message)


def _month(
    text: str | None, default: Period, latest: Period, name: str, errors: dict[str, str], _: Callable[[str], str]
) -> Period:
    """The month a field names (its default when empty); a problem goes to `errors[name]`."""
    if not text:
        return default
    try:
        period = Period.parse(text)
    except InvalidPeriod:
        period = None
    if period is None or period.kind is not PeriodKind.MONTH:
        errors[name] = _("Choose a month.")
        return default
    if period > latest:
        errors[name] = _("That month has not begun.")
        return default
    return period


@dataclass(frozen=True)
class Shown:
    """A board as the page shows it: the filters, the rows they select, the rates, the position it reflects."""

    filters: Filters
    board: Board
    rows: list[BoardRow]
    rates: list[ScopeRates]
    position: int
    at: datetime


def _shown(request: Request, web: WebSide, query: BoardQuery) -> tuple[Shown | None, Filters, dict[str, str]]:
    ref = web.read.reference.snapshot()
    filters, errors = query.checked(request, web, ref)
    if errors:
        return None, filters, errors
    position = web.read.compliance.visible(Freshness())
    board = web.read.compliance.board(filters.periods(), filters.scope(), web.read.clock.today())
    rows = filters.select(board.agencies)
    rates = board.by_scope
    if filters.region and filters.kind:  # a region's agencies of one kind: the rates of that kind alone
        rates = [r for r in rates if r.scope == Scope(Dimension.KIND, filters.kind)]
    return Shown(filters, board, rows, rates, position, datetime.now(VIETNAM)), filters, errors


def _context(
    request: Request, web: WebSide, shown: Shown | None, filters: Filters, errors: dict[str, str]
) -> dict[str, Any]:
    labels = Labels(_translator(request))
    ref = web.read.reference.snapshot()
    context: dict[str, Any] = {
        "filters": filters,
        "errors": errors,
        "labels": labels,
        "months": recent_periods(PeriodKind.MONTH, web.read.clock.today(), MONTH_CHOICES),
        "regions": ref.regions(),
        "kinds": ref.kinds(),
        "statuses": BOARD_STATUSES,
        "live_url": LIVE,
        "shown": shown,
    }
    if shown is None:
        return context
    pages = max(1, -(-len(shown.rows) // PAGE_SIZE))
    page = min(filters.page, pages)
    first = (page - 1) * PAGE_SIZE
    context.update(
        page=page,
        pages=pages,
        first=first + 1 if shown.rows else 0,
        rows=shown.rows[first : first + PAGE_SIZE],
        columns=_headers(request, filters),
        several_months=filters.start != filters.end,
        chart=_rates_chart(request, shown) if filters.start != filters.end else None,
    )
    return context


def _headers(request: Request, filters: Filters) -> list[dict[str, str]]:
    """Each column's header: its label, the link that sorts by it (twice: the other way), its aria-sort."""
    headers = []
    for key, (label, _) in COLUMNS.items():
        if key == "period" and filters.start == filters.end:
            continue
        current = filters.sort == key
        descending = not filters.descending if current else key in ("days_late", "times")
        sort = "none"
        if current:
            sort = "descending" if filters.descending else "ascending"
        headers.append(
            {
                "key": key,
                "label": gettext(request, label),
                "href": "?" + filters.query(sort=key, descending=descending, page=1),
                "sort": sort,
            }
        )
    return headers


def _rates_chart(request: Request, shown: Shown) -> Chart:
    own = shown.rates[0]
    return Chart(
        gettext(request, "Reporting rate and on-time rate by month"),
        [Formats(language_of(request)).period(rate.period) for rate in own.periods],
        [
            Series(gettext(request, "Reporting rate"), [r.reporting_rate for r in own.periods], "line"),
            Series(gettext(request, "On-time rate"), [r.on_time_rate for r in own.periods], "line"),
        ],
        value_format="percent",
    )


@router.get("/compliance")
def compliance_page(request: Request, person: Reader, web: Web, query: Filtered) -> Response:
    shown, filters, errors = _shown(request, web, query)
    context = _context(request, web, shown, filters, errors)
    return render(request, "compliance.html", context, status_code=422 if errors else 200)


@router.get("/compliance/board")
def compliance_fragment(request: Request, person: Reader, web: Web, query: Filtered) -> Response:
    """The live part of the page (rates and table), re-fetched when the read models advance."""
    shown, filters, errors = _shown(request, web, query)
    context = _context(request, web, shown, filters, errors)
    return render(request, "compliance_board.html", context, status_code=422 if errors else 200)


def _export_rows(request: Request, shown: Shown) -> tuple[list[str], list[list[Any]]]:
    labels = Labels(_translator(request))
    header = [
        gettext(request, title)
        for title in (
            "Code",
            "Agency",
            "Region",
            "Kind of agency",
            "Period",
            "Status",
            "Deadline",
            "First submitted",
            "Last submitted",
            "Days late",
            "Submissions",
            "Approved",
            "Had to report",
        )
    ]
    rows = [
        [
            row.agency,
            row.name_vi,
            labels.region(row.region),
            labels.kind(row.kind),
            row.period,
            labels.status(row.status),
            row.deadline,
            row.first_submitted_at,
            row.last_submitted_at,
            row.days_late,
            row.times_submitted,
            row.approved_at,
            row.expected,
        ]
        for row in shown.rows
    ]
    return header, rows


def _rate_rows(request: Request, shown: Shown) -> tuple[list[str], list[list[Any]]]:
    labels = Labels(_translator(request))
    header = [
        gettext(request, title)
        for title in ("Scope", "Period", "Had to report", "Reported", "On time", "Reporting rate", "On-time rate")
    ]
    rows = [
        [
            labels.scope(scope.scope),
            rate.period,
            rate.expected,
            rate.reported,
            rate.on_time,
            rate.reporting_rate,
            rate.on_time_rate,
        ]
        for scope in shown.rates
        for rate in scope.periods
    ]
    return header, rows


def _export_name(shown: Shown) -> str:
    filters = shown.filters
    return filename("compliance", filters.start.code, filters.end.code, str(filters.scope()))


@router.get("/compliance/export.csv")
def compliance_csv(request: Request, person: Reader, web: Web, query: Filtered) -> Response:
    shown, filters, errors = _shown(request, web, query)
    if shown is None:
        return render(request, "compliance.html", _context(request, web, None, filters, errors), status_code=422)
    header, rows = _export_rows(request, shown)
    return csv_response(header, rows, _export_name(shown) + ".csv", zone=VIETNAM)


@router.get("/compliance/export.xlsx")
def compliance_xlsx(request: Request, person: Reader, web: Web, query: Filtered) -> Response:
    shown, filters, errors = _shown(request, web, query)
    if shown is None:
        return render(request, "compliance.html", _context(request, web, None, filters, errors), status_code=422)
    header, rows = _export_rows(request, shown)
    rate_header, rate_rows = _rate_rows(request, shown)
    content = xlsx_workbook(
        [Sheet(gettext(request, "Compliance"), header, rows), Sheet(gettext(request, "Rates"), rate_header, rate_rows)],
        zone=VIETNAM,
    )
    return xlsx_file(content, _export_name(shown) + ".xlsx")
