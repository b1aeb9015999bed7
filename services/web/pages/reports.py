"""Derived report types: the list, a report of a period (its table, CSV and Excel), and the form in which
ministry reviewers and administrators define a new type or revise one.

A report is produced from the data already entered (`services/http/derived_reports.py`, as the reports
API's `/report-definitions/{code}/report`); defining one goes through the write application
(`services.ingest.application.catalogue.define_report`), whose checks the form shows next to each field.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from domain.errors import NotFound
from domain.identity import Role
from domain.periods import PeriodKind
from domain.report_definitions import (
    MAX_NAME_LENGTH,
    SCOPES,
    ReportExists,
    ReportScope,
    ReportSpec,
    UnknownReportIndicators,
    problems,
)
from domain.scope import Scope
from services.http.derived_reports import DerivedReport, may_produce, produce
from services.http.export import filename, respond
from services.ingest.application.access import Person
from services.ingest.application.catalogue import define_report
from services.ingest.application.commands import DefineReport
from services.ingest.application.idempotency import Idempotency
from services.ingest.application.outcomes import ReportDefined
from services.readmodels.freshness import Freshness
from services.readmodels.reference.snapshot import DefinitionInfo, Reference
from services.readmodels.rollups.queries import PROJECTIONS
from services.web.choices import current_period, recent_periods
from services.web.display import by_group
from services.web.i18n import nfc
from services.web.labels import Labels
from services.web.live import live_url
from services.web.navigation import NavEntry
from services.web.pages.boards import shown_number
from services.web.people import require
from services.web.templating import gettext, render
from services.web.web_side import WebSide, web_side

router = APIRouter(include_in_schema=False)
AUTHORS = (Role.MINISTRY_REVIEWER, Role.ADMIN)
NAV = (NavEntry("Reports", "/reports", frozenset(Role), order=40),)
LIVE = live_url(PROJECTIONS)
CHOICES = {PeriodKind.MONTH: 24, PeriodKind.QUARTER: 8, PeriodKind.HALF_YEAR: 4, PeriodKind.YEAR: 5}
AGENCIES_PER_PAGE = 50
DEFINED_WAIT_MS = 5000

Anyone = Annotated[Person, Depends(require(*Role))]
Author = Annotated[Person, Depends(require(*AUTHORS))]
Web = Annotated[WebSide, Depends(web_side)]
Text = Annotated[str | None, Query(max_length=100)]


def _labels(request: Request) -> Labels:
    return Labels(lambda message: gettext(request, message))


# ---- the list ------------------------------------------------------------------------------


@router.get("/reports")
def reports_page(request: Request, person: Anyone, web: Web) -> Response:
    ref = web.read.reference.snapshot()
    definitions = [d for _, d in sorted(ref.definitions.items()) if may_produce(person.principal, d)]
    return render(
        request,
        "reports.html",
        {
            "definitions": definitions,
            "labels": _labels(request),
            "may_define": bool(set(AUTHORS) & person.principal.roles),
        },
    )


# ---- a report of a period ------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """A derived report laid out for reading: one row per indicator (national, region) or per agency."""

    columns: list[str]  # headers after the first column
    rows: list[tuple[str, str, list[Any]]]  # (code, label, cells); a cell: (value, reported, expected) or value


def _table(request: Request, report: DerivedReport, ref: Reference, page: int) -> tuple[Table, int]:
    """The report as a table, and the number of pages (an agency report shows its agencies a page at a time)."""
    labels = _labels(request)
    definition = report.definition
    if definition.scope == ReportScope.AGENCY:
        agencies = sorted({row["agency"] for row in report.rows})
        pages = max(1, -(-len(agencies) // AGENCIES_PER_PAGE))
        chosen = agencies[(page - 1) * AGENCIES_PER_PAGE : page * AGENCIES_PER_PAGE]
        cells = {(row["agency"], row["indicator"]): row for row in report.rows if row["agency"] in chosen}
        names = {row["agency"]: row["agency_name"] for row in report.rows}
        columns = [_indicator_name(ref, code) for code in definition.indicators]
        rows = [
            (agency, names[agency], [_agency_cell(cells.get((agency, code))) for code in definition.indicators])
            for agency in chosen
        ]
        return Table(columns, rows), pages
    scopes = sorted({row["scope"] for row in report.rows})
    cells = {(row["indicator"], row["scope"]): row for row in report.rows}
    columns = [labels.scope(Scope.parse(scope)) for scope in scopes]
    rows = [
        (code, _indicator_name(ref, code), [_figure_cell(cells.get((code, scope))) for scope in scopes])
        for code in definition.indicators
    ]
    return Table(columns, rows), 1


def _indicator_name(ref: Reference, code: str) -> str:
    info = ref.indicators.get(code)
    return f"{info.name_vi} ({info.unit})" if info else code


def _figure_cell(row: dict[str, Any] | None) -> tuple[Any, int, int] | None:
    if row is None:
        return None
    return (_shown(row["value"]), row["agencies_reported"], row["agencies_expected"])


def _agency_cell(row: dict[str, Any] | None) -> tuple[Any, int, int] | None:
    if row is None:
        return None
    return (_shown(row["value"]), row["months_reported"], row["months_in_period"])


def _shown(value: Any) -> Any:
    """A figure as the page shows it (decimal strings of the JSON rows as rounded numbers)."""
    if isinstance(value, str):
        try:
            return shown_number(Decimal(value))
        except ArithmeticError:
            return value
    return value


class ReportQuery:
    def __init__(
        self,
        period: Annotated[str | None, Query(max_length=7)] = None,
        region: Text = None,
        agency: Text = None,
        page: Text = None,
        min_position: Annotated[int | None, Query(ge=0)] = None,
    ) -> None:
        self.period, self.region, self.agency, self.min_position = period, region, agency, min_position
        self.page = int(page) if page and page.isdigit() and 0 < int(page) < 100_000 else 1


Asked = Annotated[ReportQuery, Depends()]


def _definition(web: WebSide, person: Person, code: str) -> tuple[Reference, DefinitionInfo]:
    ref = web.read.reference.snapshot()
    definition = ref.definitions.get(code)
    if definition is None or not may_produce(person.principal, definition):
        raise NotFound(f"no report type {code}")
    return ref, definition


def _produced(
    request: Request, person: Person, web: WebSide, code: str, asked: ReportQuery
) -> tuple[DerivedReport, Reference, dict[str, Any]]:
    if asked.min_position is not None:  # just defined: wait until the reference data holds it
        web.read.reference.visible(Freshness(asked.min_position, DEFINED_WAIT_MS))
    ref, definition = _definition(web, person, code)
    today = web.read.clock.today()
    periods = recent_periods(definition.period_kind, today, CHOICES[definition.period_kind])
    period = asked.period or current_period(definition.period_kind, today).previous().code
    agency = person.agency if person.principal.role is Role.AGENCY_REPORTER else (asked.agency or None)
    region = asked.region if asked.region in ref.regions() else None
    report = produce(web.read, person.principal, code, period, Freshness(), region=region, agency=agency)
    table, pages = _table(request, report, ref, asked.page)
    params = {"period": report.period.code, "region": region or "", "agency": agency or ""}
    query = urlencode({k: v for k, v in params.items() if v})
    context = {
        "report": report,
        "definition": definition,
        "table": table,
        "labels": _labels(request),
        "periods": periods,
        "regions": ref.regions(),
        "region": region,
        "agency": agency,
        "page": min(asked.page, pages),
        "pages": pages,
        "query": query,
        "live_url": LIVE,
        "defined": asked.min_position is not None,
        "is_reporter": person.principal.role is Role.AGENCY_REPORTER,
    }
    return report, ref, context


@router.get("/reports/{code}")
def report_page(request: Request, code: str, person: Anyone, web: Web, asked: Asked) -> Response:
    _report, _ref, context = _produced(request, person, web, code, asked)
    return render(request, "report.html", context)


@router.get("/reports/{code}/table")
def report_fragment(request: Request, code: str, person: Anyone, web: Web, asked: Asked) -> Response:
    """The report's table, re-fetched when the roll-ups advance."""
    _report, _ref, context = _produced(request, person, web, code, asked)
    return render(request, "report_table.html", context)


@router.get("/reports/{code}/export.{fmt}")
def report_export(request: Request, code: str, fmt: str, person: Anyone, web: Web, asked: Asked) -> Response:
    if fmt not in ("csv", "xlsx"):
        raise NotFound(f"no {fmt} export")
    report, _ref, _context = _produced(request, person, web, code, asked)
    name = filename(code, report.period.code)
    answer = respond(fmt, report.to_json(), report.columns, report.rows, name, report.definition.code[:31])
    assert isinstance(answer, Response)
    return answer


# ---- defining a report type ---------------------------------------------------------------


@dataclass
class DefinitionForm:
    """What the form holds (as typed), the problems found, and the key that makes a double post harmless."""

    code: str = ""
    name_vi: str = ""
    name_en: str = ""
    period_kind: str = ""
    scope: str = ""
    indicators: tuple[str, ...] = ()
    form_key: str = ""

    def body(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name_vi": self.name_vi,
            "name_en": self.name_en,
            "period_kind": self.period_kind,
            "scope": self.scope,
            "indicators": list(self.indicators),
        }


# The form's messages, by the problem's code (domain.report_definitions.problems).
MESSAGES = {
    "code-format": "Use 1 to 64 Latin letters, digits, dots, hyphens or underscores, starting with a letter or digit.",
    "name-required": "Give the report a Vietnamese name.",
    "name-too-long": "At most %(length)s characters.",
    "period-kind-unknown": "Choose how often the report is produced.",
    "scope-unknown": "Choose what the report covers.",
    "indicators-count": "Choose at least one indicator.",
    "indicators-codes": "Choose indicators from the list.",
    "indicator-twice": "An indicator is chosen twice.",
    "unknown-indicators": "Some chosen indicators are not in the catalogue: %(codes)s.",
    "report-exists": "A report type with this code exists already.",
}


def _message(request: Request, code: str, **values: str) -> str:
    return gettext(request, MESSAGES[code]) % ({"length": str(MAX_NAME_LENGTH)} | values)


def _form_page(
    request: Request,
    web: WebSide,
    form: DefinitionForm,
    errors: dict[str, str],
    *,
    editing: DefinitionInfo | None = None,
    status_code: int = 200,
) -> Response:
    ref = web.read.reference.snapshot()
    groups = by_group(ref.indicators.values())
    context = {
        "form": form,
        "errors": errors,
        "editing": editing,
        "labels": _labels(request),
        "period_kinds": list(PeriodKind),
        "scopes": SCOPES,
        "groups": groups,
        "max_name": MAX_NAME_LENGTH,
        # Where the error summary's links lead: the field, or a radio group's or the indicators' first box.
        "field_ids": {
            "code": "code",
            "name_vi": "name_vi",
            "name_en": "name_en",
            "period_kind": f"period_kind-{next(iter(PeriodKind)).value}",
            "scope": f"scope-{SCOPES[0]}",
            "indicators": f"indicator-{groups[0][1][0].code}" if groups else "code",
        },
    }
    return render(request, "report_form.html", context, status_code=status_code)


@router.get("/reports/definitions/new")
def new_report_form(request: Request, person: Author, web: Web) -> Response:
    return _form_page(request, web, DefinitionForm(form_key=secrets.token_urlsafe(16)), {})


@router.get("/reports/{code}/definition")
def edit_report_form(request: Request, code: str, person: Author, web: Web) -> Response:
    _ref, definition = _definition(web, person, code)
    form = DefinitionForm(
        definition.code,
        definition.name_vi,
        definition.name_en,
        str(definition.period_kind),
        definition.scope,
        definition.indicators,
        secrets.token_urlsafe(16),
    )
    return _form_page(request, web, form, {}, editing=definition)


FormText = Annotated[str, Form(max_length=2 * MAX_NAME_LENGTH)]


@router.post("/reports/definitions/new")
def define_new_report(
    request: Request,
    person: Author,
    web: Web,
    code: FormText = "",
    name_vi: FormText = "",
    name_en: FormText = "",
    period_kind: FormText = "",
    scope: FormText = "",
    indicator: Annotated[list[str] | None, Form(max_length=1000)] = None,
    form_key: FormText = "",
) -> Response:
    form = DefinitionForm(
        code.strip(), nfc(name_vi).strip(), nfc(name_en).strip(), period_kind, scope, tuple(indicator or ()), form_key
    )
    return _define(request, person, web, form, editing=None)


@router.post("/reports/{code}/definition")
def revise_report(
    request: Request,
    code: str,
    person: Author,
    web: Web,
    name_vi: FormText = "",
    name_en: FormText = "",
    period_kind: FormText = "",
    scope: FormText = "",
    indicator: Annotated[list[str] | None, Form(max_length=1000)] = None,
    form_key: FormText = "",
) -> Response:
    _ref, definition = _definition(web, person, code)
    form = DefinitionForm(
        code, nfc(name_vi).strip(), nfc(name_en).strip(), period_kind, scope, tuple(indicator or ()), form_key
    )
    return _define(request, person, web, form, editing=definition)


def _define(
    request: Request, person: Person, web: WebSide, form: DefinitionForm, *, editing: DefinitionInfo | None
) -> Response:
    """Check the form field by field; if it holds, define the report through the write application."""
    errors = {
        problem.field: _message(request, problem.code)
        for problem in reversed(
            problems(form.code, form.name_vi, form.name_en, form.period_kind, form.scope, form.indicators)
        )
    }
    if not errors:
        spec = ReportSpec.from_dict(form.body())
        key = None
        if form.form_key:
            path = "/reports/definitions/new" if editing is None else f"/reports/{form.code}/definition"
            key = Idempotency.of(person.username, form.form_key, "POST", path, form.body())
        try:
            outcome = define_report(web.write, person.principal, DefineReport(spec, new_only=editing is None), key)
        except UnknownReportIndicators as error:
            errors["indicators"] = _message(request, "unknown-indicators", codes=error.detail.partition(": ")[2])
        except ReportExists:
            errors["code"] = _message(request, "report-exists")
        else:
            position = outcome.position if isinstance(outcome, ReportDefined) else outcome.to_json().get("position")
            target = f"/reports/{spec.code}"
            if position is not None:
                target += "?" + urlencode({"min_position": position})
            return RedirectResponse(target, status_code=303)
    return _form_page(request, web, form, errors, editing=editing, status_code=422)
