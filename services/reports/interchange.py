"""Exports of reported data for other systems, from the read models: a month's values as DHIS2
dataValueSets (JSON, CSV), ADX or this system's CSV, and the national feed's data packages (report
figures, report status; the definitions' packages come from the write API, `/national-feed/...`).

Every export answers the position it reflects (`X-Read-Position`) and takes `min_position`; values
a DHIS2 mapping cannot place are counted in `X-Skipped-Values`, never silently dropped.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from domain.identity import Principal
from domain.periods import Period, PeriodKind, vietnam_date
from domain.submission import Status
from services.http.auth import require_agency_access
from services.http.export import READ_POSITION_HEADER, filename
from services.http.read_side import ReadSide
from services.interchange.adx import write_adx
from services.interchange.csv_values import write_csv
from services.interchange.dhis2 import write_dhis2_csv, write_dhis2_json
from services.interchange.mapping import choose_mapping
from services.interchange.qcvn125 import FiguresReport, StatusReport, report_figures_package, report_status_package
from services.readmodels.errors import InvalidPeriodParameter
from services.readmodels.freshness import Freshness
from services.readmodels.report_view.rows import PeriodValue
from services.reports.dependencies import FreshnessQuery, Read, Reader, parse_period, refuse_nul

router = APIRouter(tags=["exports"])

ValuesFormat = Literal["dhis2-json", "dhis2-csv", "adx", "csv"]
MEDIA_TYPES = {
    "dhis2-json": "application/json",
    "dhis2-csv": "text/csv; charset=utf-8",
    "adx": "application/adx+xml",
    "csv": "text/csv; charset=utf-8",
}
EXTENSIONS = {"dhis2-json": "json", "dhis2-csv": "csv", "adx": "xml", "csv": "csv"}
Month = Annotated[str, Query(min_length=7, max_length=7, description="the month, YYYY-MM")]
AgencyFilter = Annotated[
    str | None, Query(max_length=100, description="one agency (an agency's token: its own, required)")
]


def _month(code: str) -> Period:
    period = parse_period(code)
    if period.kind is not PeriodKind.MONTH:
        raise InvalidPeriodParameter("values are exported per month (YYYY-MM); other periods are derived")
    return period


def _agency_scope(principal: Principal, agency: str | None) -> str | None:
    """The agency exported: one the caller may read; an agency's token exports its own only."""
    refuse_nul(agency=agency)
    if principal.agency is not None and agency is None:
        return principal.agency
    if agency is not None:
        require_agency_access(principal, agency, write=False)
    return agency


def _file(content: bytes, media_type: str, name: str, position: int, skipped: int | None = None) -> Response:
    headers = {"Content-Disposition": f'attachment; filename="{name}"', READ_POSITION_HEADER: str(position)}
    if skipped is not None:
        headers["X-Skipped-Values"] = str(skipped)
    return Response(content, media_type=media_type, headers=headers)


@router.get("/exports/values", response_class=Response)
def export_values(
    principal: Reader,
    wanted: FreshnessQuery,
    read: Read,
    period: Month,
    fmt: Annotated[ValuesFormat, Query(alias="format")] = "dhis2-json",
    agency: AgencyFilter = None,
    mapping: Annotated[
        str | None, Query(max_length=100, description="the DHIS2 data set (default: the only one)")
    ] = None,
) -> Response:
    """A month's current values (one agency's, or every agency's for the ministry) for another system:
    DHIS2 dataValueSet JSON or CSV, ADX, or this system's CSV (which imports back unchanged)."""
    month = _month(period)
    chosen = _agency_scope(principal, agency)
    position, values = read.report_view.period_values(month.code, chosen, wanted)
    name = filename("gia-tri", chosen or "ca-nuoc", month.code) + "." + EXTENSIONS[fmt]
    if fmt == "csv":
        return _file(b"".join(write_csv(values, with_agency_period=True)), MEDIA_TYPES[fmt], name, position)
    code_mapping = choose_mapping(read.mappings, mapping)
    writer = {"dhis2-json": write_dhis2_json, "dhis2-csv": write_dhis2_csv, "adx": write_adx}[fmt]
    result = writer(values, code_mapping)
    return _file(result.content, MEDIA_TYPES[fmt], name, position, len(result.skipped))


def _opened_reports(principal: Principal, read: ReadSide, wanted: Freshness, period: str, agency: str | None) -> Any:
    month = _month(period)
    chosen = _agency_scope(principal, agency)
    codes = read.reference.electronic_codes()
    read.compliance.visible(wanted)
    reports = [state for state in read.compliance.report_states(month.code, chosen) if state.agency in codes]
    return month, chosen, codes, reports


@router.get("/national-feed/report-figures")
def report_figures(
    principal: Reader, wanted: FreshnessQuery, read: Read, period: Month, agency: AgencyFilter = None
) -> dict[str, Any]:
    """The national feed's report-figures package (QCVN 125:2021/BTTTT) of a month: each opened report's
    current values, its form version, its agency named by its electronic identifier code."""
    month, chosen, codes, reports = _opened_reports(principal, read, wanted, period, agency)
    _, values = read.report_view.period_values(month.code, chosen, wanted)
    by_agency: dict[str, list[PeriodValue]] = {}
    for value in values:
        by_agency.setdefault(value.agency, []).append(value)
    figures = [
        FiguresReport(state.agency, state.period, state.template, state.template_version, by_agency[state.agency])
        for state in reports
        if state.agency in by_agency
    ]
    return report_figures_package(figures, codes)


@router.get("/national-feed/report-status")
def report_status(
    principal: Reader, wanted: FreshnessQuery, read: Read, period: Month, agency: AgencyFilter = None
) -> dict[str, Any]:
    """The national feed's report-status package of a month: each opened report's status, deadline and lateness."""
    _, _, codes, reports = _opened_reports(principal, read, wanted, period, agency)
    statuses = [
        StatusReport(
            state.agency,
            state.period,
            state.template,
            state.template_version,
            Status(state.status),
            None if state.last_submitted_at is None else vietnam_date(state.last_submitted_at),
        )
        for state in reports
    ]
    return report_status_package(statuses, read.compliance.regime, codes, as_of=read.clock.today())
