"""`GET /compliance`, `GET /compliance/rates`: the compliance board and the reporting rates per month."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from domain.periods import PeriodKind
from domain.scope import Scope
from services.http.columns import BOARD_COLUMNS, RATE_COLUMNS
from services.http.export import TABLE_RESPONSES, filename, respond
from services.http.read_side import ReadSide
from services.readmodels.errors import InvalidPeriodParameter
from services.readmodels.freshness import Freshness
from services.reports.dependencies import (
    Format,
    FreshnessQuery,
    MinistryReader,
    OptionalPeriod,
    PeriodFrom,
    PeriodTo,
    Read,
    ScopeText,
    period_range,
)

router = APIRouter(tags=["compliance"])


def board_body(
    read: ReadSide, wanted: Freshness, period: str | None, start: str | None, end: str | None, scope: str
) -> dict[str, Any]:
    periods = period_range(period, start, end)
    if any(p.kind is not PeriodKind.MONTH for p in periods):
        raise InvalidPeriodParameter("reports are submitted per month (YYYY-MM)")
    parsed = Scope.parse(scope)
    position = read.compliance.visible(wanted)
    board = read.compliance.board(periods, parsed, read.clock.today())
    return {
        "position": position,
        "scope": str(board.scope),
        "rates": [rate.to_json() for rate in board.rates],
        "agencies": [row.to_json() for row in board.agencies],
    }


@router.get("/compliance", response_model=None, responses=TABLE_RESPONSES)
def compliance(
    principal: MinistryReader,
    wanted: FreshnessQuery,
    read: Read,
    fmt: Format = "json",
    period: OptionalPeriod = None,
    start: PeriodFrom = None,
    end: PeriodTo = None,
    scope: ScopeText = str(Scope.NATIONAL),
) -> dict[str, Any] | Response:
    """The compliance board: per month and agency, the report's status and timeliness (`days_late`:
    of the first submission, or days overdue while not submitted); per month, the reporting rate and
    the on-time rate among the agencies that had to report. `scope=` national, region:<r> or kind:<k>."""
    body = board_body(read, wanted, period, start, end, scope)
    name = filename("compliance", body["rates"][0]["period"], body["rates"][-1]["period"], scope)
    return respond(fmt, body, BOARD_COLUMNS, body["agencies"], name, "Tình hình báo cáo")


@router.get("/compliance/rates", response_model=None, responses=TABLE_RESPONSES)
def compliance_rates(
    principal: MinistryReader,
    wanted: FreshnessQuery,
    read: Read,
    fmt: Format = "json",
    period: OptionalPeriod = None,
    start: PeriodFrom = None,
    end: PeriodTo = None,
    scope: ScopeText = str(Scope.NATIONAL),
) -> dict[str, Any] | Response:
    """Reporting rate and on-time rate per month (national, or of one region or agency kind)."""
    full = board_body(read, wanted, period, start, end, scope)
    body = {"position": full["position"], "scope": full["scope"], "rates": full["rates"]}
    name = filename("compliance-rates", full["rates"][0]["period"], full["rates"][-1]["period"], scope)
    return respond(fmt, body, RATE_COLUMNS, full["rates"], name, "Tỷ lệ báo cáo")
