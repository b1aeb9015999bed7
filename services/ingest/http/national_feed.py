"""The national reporting feed's definition packages, from the write side (docs/INTERCHANGE.md, section 5):
the reporting regime, report forms, reporting periods and indicators, as versioned JSON with a schema each.
The data packages are on the reports API (`/national-feed/report-figures`, `/national-feed/report-status`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from services.http.auth import Reader
from services.ingest.application import national_feed as feed
from services.ingest.http.dependencies import Write

router = APIRouter(prefix="/national-feed", tags=["national feed"])


@router.get("/reporting-regime")
def reporting_regime(principal: Reader, write: Write) -> dict[str, Any]:
    """The reporting regime (chế độ báo cáo) and its deadline rules per period kind."""
    return feed.reporting_regime(write)


@router.get("/report-form")
def report_form(
    principal: Reader,
    write: Write,
    template: Annotated[list[str], Query(min_length=1, max_length=50, description="template codes")],
    period: Annotated[str, Query(min_length=4, max_length=7, description="the version in force for this period")],
) -> dict[str, Any]:
    """Report forms (biểu mẫu): each template's version in force for the period, its indicators and rules."""
    return feed.report_forms(write, template, period)


@router.get("/reporting-period-catalogue")
def reporting_period_catalogue(
    principal: Reader, write: Write, year: Annotated[int, Query(ge=2000, le=2100)]
) -> dict[str, Any]:
    """Every reporting period of a year (kỳ báo cáo): cut-off windows (Decree 09/2019/ND-CP) and deadlines."""
    return feed.reporting_periods(write, year)


@router.get("/indicator-catalogue")
def indicator_catalogue(principal: Reader, write: Write) -> dict[str, Any]:
    """The indicators (chỉ tiêu) with type, unit, range and aggregation."""
    return feed.indicator_catalogue(write)
