"""`GET /agencies/{agency}/periods/{period}/report`: one agency's period, the current value of each indicator."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from services.http.auth import require_agency_access
from services.http.columns import REPORT_VIEW_COLUMNS
from services.http.export import TABLE_RESPONSES, respond
from services.reports.dependencies import Format, FreshnessQuery, Read, Reader

router = APIRouter(tags=["reports"])


@router.get("/agencies/{agency}/periods/{period}/report", response_model=None, responses=TABLE_RESPONSES)
def agency_report(
    agency: str,
    period: str,
    principal: Reader,
    wanted: FreshnessQuery,
    read: Read,
    fmt: Format = "json",
) -> dict[str, Any] | Response:
    """The per-agency report view of one period: current value of each indicator (JSON, CSV or XLSX)."""
    require_agency_access(principal, agency, write=False)
    report = read.report_view.report(agency, period, wanted)
    return respond(fmt, report.to_json(), REPORT_VIEW_COLUMNS, report.table(), f"report-{agency}-{period}", "Báo cáo")
