"""The leaders' display board and its drill-down: national → region → agency → the agency's report →
one value's history and audit trail.

`/boards` (the board, nationally or for one region), `/boards/live` (its live part, re-fetched when
the roll-ups or the reference data advance), `/boards/export.xlsx` (the numbers shown, one sheet per
part); `/boards/agencies/{agency}` (an agency's figures and its report of a month) and
`/boards/agencies/{agency}/periods/{period}/indicators/{indicator}` (a value's history). The figures
come from the roll-ups (`services/web/display.py`), the report from the report view, the history
from the audit trail: the read models the reports API serves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from domain.catalogue import IndicatorGroup
from domain.errors import DomainError, ErrorKind, NotFound
from domain.identity import Role
from domain.periods import VIETNAM, InvalidPeriod, Period, PeriodKind
from infra.integration_events import LIFECYCLE_EVENTS, VALUE_EVENTS
from services.http.export import Sheet, filename, xlsx_file, xlsx_workbook
from services.ingest.application.access import Person
from services.readmodels.audit_trail.queries import TrailFilter
from services.readmodels.freshness import Freshness
from services.readmodels.reference.snapshot import Reference
from services.readmodels.report_view.rows import ReportValue
from services.readmodels.rollups.queries import PROJECTIONS
from services.web.charts import Chart, Series
from services.web.choices import current_period, recent_periods
from services.web.display import (
    MAX_TILES,
    BoardChoice,
    Display,
    TrendKind,
    build,
    by_group,
    default_indicators,
    numeric_indicators,
    trend_periods,
)
from services.web.i18n import Formats
from services.web.labels import Labels
from services.web.live import Shared, live_url
from services.web.navigation import NavEntry
from services.web.people import require
from services.web.templating import gettext, language_of, render
from services.web.web_side import WebSide, web_side

router = APIRouter(include_in_schema=False)
READERS = (Role.MINISTRY_REVIEWER, Role.AUDITOR, Role.ADMIN)
NAV = (NavEntry("Display board", "/boards", frozenset(READERS), order=20),)
LIVE = live_url(PROJECTIONS)
CHOICES = {PeriodKind.MONTH: 24, PeriodKind.QUARTER: 8, PeriodKind.HALF_YEAR: 4, PeriodKind.YEAR: 5}
HISTORY_LIMIT = 500

Reader = Annotated[Person, Depends(require(*READERS))]
Web = Annotated[WebSide, Depends(web_side)]
Text = Annotated[str | None, Query(max_length=100)]


def shown_number(value: Decimal | None) -> Decimal | None:
    """A figure as the board shows it: whole numbers as they are, others to two decimal places."""
    if value is None or value == value.to_integral_value():
        return value
    return value.quantize(Decimal("0.01"))


class NothingToShow(DomainError):
    code = "nothing-to-show"
    kind = ErrorKind.NOT_FOUND


class BoardQuery:
    """The board's choices as the form and the links send them, checked (each problem next to its field)."""

    def __init__(
        self,
        indicator: Annotated[list[str] | None, Query(max_length=200)] = None,
        focus: Text = None,
        period: Annotated[str | None, Query(max_length=7)] = None,
        trend: Text = None,
        region: Text = None,
        agencies: Text = None,
        page: Text = None,
    ) -> None:
        self.indicator, self.focus, self.period = indicator, focus, period
        self.trend, self.region, self.agencies = trend, region, agencies
        self.page = int(page) if page and page.isdigit() and 0 < int(page) < 100_000 else 1

    def checked(self, request: Request, web: WebSide, ref: Reference) -> tuple[BoardChoice, dict[str, str]]:
        errors: dict[str, str] = {}
        today = web.read.clock.today()
        default_period = current_period(PeriodKind.MONTH, today).previous()
        period = default_period
        if self.period:
            try:
                period = Period.parse(self.period)
            except InvalidPeriod:
                errors["period"] = gettext(request, "Choose a period.")
            else:
                if period > current_period(period.kind, today):
                    errors["period"] = gettext(request, "That period has not begun.")
                    period = default_period
        numeric = {info.code for info in numeric_indicators(ref)}
        indicators = tuple(dict.fromkeys(self.indicator or ())) or default_indicators(ref)
        if any(code not in numeric for code in indicators):
            errors["indicator"] = gettext(request, "Choose indicators with numbers from the list.")
            indicators = default_indicators(ref)
        elif len(indicators) > MAX_TILES:
            errors["indicator"] = gettext(request, "At most %(count)s indicators at once.") % {"count": MAX_TILES}
            indicators = indicators[:MAX_TILES]
        region = self.region or None
        if region is not None and region not in ref.regions():
            errors["region"] = gettext(request, "There is no such region.")
            region = None
        if not indicators:
            raise NothingToShow("the catalogue holds no indicator with numbers yet")
        focus = self.focus if self.focus in indicators else indicators[0]
        trend = next((kind for kind in TrendKind if kind.value == self.trend), TrendKind.MONTH)
        every = self.agencies == "all"
        return BoardChoice(indicators, focus, period, trend, region, every, self.page if every else 1), errors


Chosen = Annotated[BoardQuery, Depends()]


def board_query(choice: BoardChoice, **changes: Any) -> str:
    """The query string of a board with `changes` (the tiles' and the rankings' links)."""
    chosen = replace(choice, **changes)
    params: list[tuple[str, str]] = [("period", chosen.period.code)]
    params += [("indicator", code) for code in chosen.indicators]
    params.append(("focus", chosen.focus))
    if chosen.trend is not TrendKind.MONTH:
        params.append(("trend", chosen.trend.value))
    if chosen.region:
        params.append(("region", chosen.region))
    if chosen.all_agencies:
        params.append(("agencies", "all"))
        if chosen.page > 1:
            params.append(("page", str(chosen.page)))
    return urlencode(params)


def _display(request: Request, web: WebSide, query: BoardQuery) -> tuple[Display, dict[str, str], Reference]:
    ref = web.read.reference.snapshot()
    choice, errors = query.checked(request, web, ref)
    position = web.read.rollups.visible(Freshness())
    return build(web.read, ref, choice, position), errors, ref


def _charts(request: Request, display: Display, labels: Labels) -> dict[str, Chart]:
    formats = Formats(language_of(request))
    focus = display.focus
    charts = {
        "trend": Chart(
            gettext(request, "%(indicator)s over time") % {"indicator": focus.name_vi},
            [formats.period(point.period.code) for point in display.trend],
            [
                Series(gettext(request, "This period"), [_float(p.value) for p in display.trend], "bar"),
                Series(
                    gettext(request, "Same period a year before"), [_float(p.last_year) for p in display.trend], "line"
                ),
            ],
        ),
        "agencies": Chart(
            gettext(request, "Agencies ranked by %(indicator)s") % {"indicator": focus.name_vi},
            [r.name for r in display.agencies if r.value is not None][:20],
            [Series(focus.name_vi, [_float(r.value) for r in display.agencies if r.value is not None][:20])],
            horizontal=True,
        ),
    }
    if display.regions:
        charts["regions"] = Chart(
            gettext(request, "Regions ranked by %(indicator)s") % {"indicator": focus.name_vi},
            [labels.region(r.code) for r in display.regions if r.value is not None],
            [Series(focus.name_vi, [_float(r.value) for r in display.regions if r.value is not None])],
            horizontal=True,
        )
    return charts


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _context(
    request: Request, web: WebSide, display: Display, errors: dict[str, str], ref: Reference
) -> dict[str, Any]:
    labels = Labels(lambda message: gettext(request, message))
    today = web.read.clock.today()
    choice = display.choice
    return {
        "display": display,
        "choice": choice,
        "errors": errors,
        "labels": labels,
        "query": lambda **changes: board_query(choice, **changes),
        "period_choices": [(kind, recent_periods(kind, today, count)) for kind, count in CHOICES.items()],
        "regions": ref.regions(),
        "groups": by_group(numeric_indicators(ref)),
        "charts": _charts(request, display, labels),
        "trend_kinds": list(TrendKind),
        "shown_number": shown_number,
        "live_url": LIVE,
        "at": datetime.now(VIETNAM),
        "trend_span": trend_periods(choice.period, choice.trend),
    }


@router.get("/boards")
def board_page(request: Request, person: Reader, web: Web, query: Chosen) -> Response:
    display, errors, ref = _display(request, web, query)
    return render(
        request, "boards.html", _context(request, web, display, errors, ref), status_code=422 if errors else 200
    )


SHARED = Shared()


@router.get("/boards/live")
def board_fragment(request: Request, person: Reader, web: Web, query: Chosen) -> Response:
    """The live part of the board: tiles, trend and rankings, re-fetched when the roll-ups advance.

    The open boards that ask for the same part after the same advance share one rendering (it holds
    nothing of the person: every reader of the board sees the same figures)."""
    announced = tuple(web.live.position(name) for name in PROJECTIONS)

    def rendered() -> bytes:
        display, errors, ref = _display(request, web, query)
        return bytes(render(request, "boards_live.html", _context(request, web, display, errors, ref)).body)

    if 0 in announced:  # the listener has not heard of these read models yet: no key to share on
        return HTMLResponse(rendered())
    key = (request.url.query, language_of(request), announced)
    return HTMLResponse(SHARED.get(key, rendered))


def _sheets(request: Request, display: Display, labels: Labels) -> list[Sheet]:
    _ = lambda message: gettext(request, message)  # noqa: E731 - a short alias, as in the templates
    tile_rows = []
    for tile in display.tiles:
        info = tile.indicator
        previous, last_year = tile.against_previous, tile.against_last_year
        tile_rows.append(
            [
                info.code,
                info.name_vi,
                info.unit,
                tile.period.code,
                tile.value,
                tile.previous,
                previous.amount if previous else None,
                previous.ratio if previous else None,
                tile.last_year,
                last_year.amount if last_year else None,
                last_year.ratio if last_year else None,
                tile.reported,
                tile.expected,
            ]
        )
    tile_header = [
        _(title)
        for title in (
            "Indicator code",
            "Indicator",
            "Unit",
            "Period",
            "Figure",
            "Previous period",
            "Change against the previous period",
            "Change against the previous period (share)",
            "Same period a year before",
            "Change against a year before",
            "Change against a year before (share)",
            "Agencies reported",
            "Agencies that had to report",
        )
    ]
    trend_header = [
        _(title)
        for title in (
            "Period",
            "Figure",
            "Same period a year before",
            "Agencies reported",
            "Agencies that had to report",
        )
    ]
    trend_rows = [[p.period.code, p.value, p.last_year, p.reported, p.expected] for p in display.trend]
    rank_header = [_("Rank"), _("Code"), _("Name"), _("Figure"), _("Reported"), _("Of")]
    sheets = [
        Sheet(_("Key figures"), tile_header, tile_rows),
        Sheet(_("Trend"), trend_header, trend_rows),
    ]
    if display.regions:
        rows = [[r.rank, r.code, labels.region(r.code), r.value, r.reported, r.expected] for r in display.regions]
        sheets.append(Sheet(_("Regions"), rank_header, rows))
    rows = [[r.rank, r.code, r.name, r.value, r.reported, r.expected] for r in display.agencies]
    sheets.append(Sheet(_("Agencies"), rank_header, rows))
    return sheets


@router.get("/boards/export.xlsx")
def board_xlsx(request: Request, person: Reader, web: Web, query: Chosen) -> Response:
    display, _errors, _ref = _display(request, web, query)
    labels = Labels(lambda message: gettext(request, message))
    name = filename("board", display.choice.period.code, str(display.choice.scope), display.choice.focus)
    return xlsx_file(xlsx_workbook(_sheets(request, display, labels), zone=VIETNAM), name + ".xlsx")


# ---- drill-down: an agency, its report, one value's history ---------------------------------


def _agency(ref: Reference, code: str) -> Any:
    info = ref.agencies.get(code)
    if info is None:
        raise NotFound(f"no agency {code}")
    return info


@router.get("/boards/agencies/{agency}")
def agency_page(
    request: Request,
    agency: str,
    person: Reader,
    web: Web,
    period: Annotated[str | None, Query(max_length=7)] = None,
    focus: Text = None,
    month: Annotated[str | None, Query(max_length=7)] = None,
) -> Response:
    ref = web.read.reference.snapshot()
    info = _agency(ref, agency)
    today = web.read.clock.today()
    this_month = current_period(PeriodKind.MONTH, today)
    chosen = _period_or(period, this_month.previous())
    numeric = [info.code for info in numeric_indicators(ref)]
    if not numeric:
        raise NothingToShow("the catalogue holds no indicator with numbers yet")
    focus_code = focus if focus in numeric else (default_indicators(ref) or tuple(numeric))[0]
    shown_month = _period_or(month, min(chosen.months()[-1], this_month))
    if shown_month.kind is not PeriodKind.MONTH:
        shown_month = chosen.months()[-1]
    months = trend_periods(shown_month, TrendKind.MONTH)
    series = {row.period: row for row in web.read.rollups.agency_series(ref, focus_code, months, agency)}
    formats = Formats(language_of(request))
    indicator = ref.indicators[focus_code]
    chart = Chart(
        gettext(request, "%(indicator)s over time") % {"indicator": indicator.name_vi},
        [formats.period(m.code) for m in months],
        [Series(indicator.name_vi, [_float(_number(series.get(m.code))) for m in months], "bar")],
    )
    report = web.read.report_view.report(agency, shown_month.code, Freshness())
    grouped: dict[str, list[ReportValue]] = {}
    for value in report.values:
        known = ref.indicators.get(value.indicator)
        grouped.setdefault(known.group if known else "", []).append(value)
    group_order = [group.value for group in IndicatorGroup]
    context = {
        "agency": info,
        "agency_name": info.name_in(shown_month),
        "labels": Labels(lambda message: gettext(request, message)),
        "period": chosen,
        "focus": indicator,
        "month": shown_month,
        "months": recent_periods(PeriodKind.MONTH, today, CHOICES[PeriodKind.MONTH]),
        "series": [(m, series.get(m.code)) for m in months],
        "chart": chart,
        "report": report,
        "report_groups": sorted(
            grouped.items(), key=lambda item: group_order.index(item[0]) if item[0] in group_order else len(group_order)
        ),
        "indicators": ref.indicators,
        "board_query": urlencode({"period": chosen.code, "focus": focus_code}),
        "region_query": urlencode({"period": chosen.code, "focus": focus_code, "region": info.region or ""}),
        "shown_number": shown_number,
        "value_label": value_label(request),
    }
    return render(request, "board_agency.html", context)


def _period_or(text: str | None, default: Period) -> Period:
    if not text:
        return default
    try:
        return Period.parse(text)
    except InvalidPeriod:
        return default


def _number(row: Any) -> Decimal | None:
    if row is None or row.value is None or isinstance(row.value, bool):
        return None
    return Decimal(str(row.value))


@router.get("/boards/agencies/{agency}/periods/{period}/indicators/{indicator}")
def value_history_page(
    request: Request, agency: str, period: str, indicator: str, person: Reader, web: Web
) -> Response:
    """One value's history: every value event of the indicator in the agency's report, and the report's steps."""
    ref = web.read.reference.snapshot()
    info = _agency(ref, agency)
    month = _period_or(period, Period.parse("2000-01"))
    if month.code != period or month.kind is not PeriodKind.MONTH:
        raise NotFound(f"no monthly period {period}")
    indicator_info = ref.indicators.get(indicator)
    if indicator_info is None:
        raise NotFound(f"no indicator {indicator}")
    report = web.read.report_view.report(agency, period, Freshness())
    trail = web.read.audit_trail
    values = trail.page(
        TrailFilter(agency=agency, period=period, indicator=indicator, event_types=tuple(VALUE_EVENTS)),
        0,
        HISTORY_LIMIT,
    )
    steps = trail.page(TrailFilter(agency=agency, period=period, event_types=tuple(LIFECYCLE_EVENTS)), 0, HISTORY_LIMIT)
    context = {
        "agency": info,
        "agency_name": info.name_in(month),
        "labels": Labels(lambda message: gettext(request, message)),
        "month": month,
        "indicator": indicator_info,
        "values": [event.to_json() for event in values][::-1],  # the latest first
        "steps": [event.to_json() for event in steps][::-1],
        "audit_url": "/audit/events?" + urlencode({"agency": agency, "period": period, "indicator": indicator}),
        "agency_query": urlencode({"month": period, "focus": indicator}),
        "region_query": urlencode({"period": period, "focus": indicator, "region": info.region or ""}),
        "value_label": value_label(request),
        "current": next((v for v in report.values if v.indicator == indicator), None),
    }
    return render(request, "board_value.html", context)


def value_label(request: Request) -> Callable[[object], str]:
    """How a reported value reads: numbers in the page's format, yes/no, text as it is."""
    formats = Formats(language_of(request))

    def label(value: object) -> str:
        if value is None:
            return "—"
        if isinstance(value, bool):
            return gettext(request, "Yes") if value else gettext(request, "No")
        if isinstance(value, int | Decimal) or (isinstance(value, str) and _numeric_text(value)):
            return formats.number(shown_number(Decimal(str(value))))
        return str(value)

    return label


def _numeric_text(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True
