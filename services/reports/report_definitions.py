"""`GET /report-definitions`, `GET /report-definitions/{code}/report`: derived report types, and a report
produced from the data already entered (no new data entry)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from services.http.derived_reports import produce
from services.http.export import TABLE_RESPONSES, filename, respond
from services.reports.dependencies import Format, FreshnessQuery, PeriodCode, Read, Reader

router = APIRouter(tags=["derived reports"])


@router.get("/report-definitions")
def report_definitions(principal: Reader, wanted: FreshnessQuery, read: Read) -> dict[str, Any]:
    """Every derived report type: its indicators, period type and scope."""
    position = read.reference.visible(wanted)
    ref = read.reference.snapshot()
    return {"position": position, "definitions": [ref.definitions[c].to_json() for c in sorted(ref.definitions)]}


@router.get("/report-definitions/{code}/report", response_model=None, responses=TABLE_RESPONSES)
def derived_report(
    code: str,
    principal: Reader,
    wanted: FreshnessQuery,
    read: Read,
    period: PeriodCode = None,
    fmt: Format = "json",
    region: Annotated[str | None, Query(max_length=200, description="one region (scope region)")] = None,
    agency: Annotated[str | None, Query(max_length=100, description="one agency (scope agency)")] = None,
) -> dict[str, Any] | Response:
    """Produce a derived report for a period from the data already entered: no new data entry.

    Scope national: one figure per indicator; region: one per region and indicator
    (or `region=` one region); agency: one per agency and indicator (or `agency=`
    one agency; an agency's own reporter may produce its own agency's report).
    """
    report = produce(read, principal, code, period, wanted, region=region, agency=agency)
    name = filename(code, report.period.code)
    return respond(fmt, report.to_json(), report.columns, report.rows, name, report.definition.code[:31])
