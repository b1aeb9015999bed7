"""Time travel: the per-agency report view, or the roll-ups, as of a past position or instant.

Folded from the audit trail, which holds every event of the log with its canonical bytes, by the
read models' own as-of folds (`services/readmodels/*/asof.py`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from services.http.auth import require_agency_access
from services.http.export import TABLE_RESPONSES
from services.reports.dependencies import (
    AsOfParameters,
    Format,
    MinistryReader,
    Read,
    Reader,
    RollupParameters,
    refuse_nul,
)
from services.reports.rollups import answer

router = APIRouter(tags=["audit"])


@router.get("/agencies/{agency}/periods/{period}/report/as-of", tags=["reports"])
def report_as_of_endpoint(
    agency: str, period: str, principal: Reader, when: AsOfParameters, read: Read
) -> dict[str, Any]:
    """The per-agency report view as it was at a past position or instant, folded from the log."""
    require_agency_access(principal, agency, write=False)
    refuse_nul(agency=agency, period=period)
    moment = when.moment()
    target, report = read.report_view_history.report(agency, period, moment)
    return {**report.to_json(), "as_of": {"position": target, "at": moment.at}}


@router.get("/rollups/as-of", tags=["roll-ups"], response_model=None, responses=TABLE_RESPONSES)
def rollups_as_of_endpoint(
    principal: MinistryReader, when: AsOfParameters, query: RollupParameters, read: Read, fmt: Format = "json"
) -> dict[str, Any] | Response:
    """The roll-ups (as `/rollups`, same parameters) as they were at a past position or instant, folded
    from the log: the registry, catalogue and templates, and the value events up to that point."""
    periods = query.periods()
    moment = when.moment()
    scope = query.parsed_scope()
    target, figures = read.rollups_history.figures(moment, query.indicators(), periods, scope)
    # `position`: the live answer's is what its read models reflected; here it is the prefix folded.
    head = {"position": target, "as_of": {"position": target, "at": moment.at}}
    return answer(fmt, query, head, periods, figures)
