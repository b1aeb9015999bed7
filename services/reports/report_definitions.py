"""`GET /report-definitions`, `GET /report-definitions/{code}/report`: derived report types, and a report
produced from the data already entered (no new data entry)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from domain.errors import Forbidden, NotFound
from domain.identity import Role
from domain.scope import Dimension, Scope
from services.http.auth import require_agency_access
from services.http.export import TABLE_RESPONSES, filename, respond
from services.readmodels.errors import InvalidPeriodParameter
from services.reports.columns import AGENCY_FIGURE_COLUMNS, FIGURE_COLUMNS
from services.reports.dependencies import Format, FreshnessQuery, PeriodCode, Read, Reader, parse_period

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
    reporter = principal.role is Role.AGENCY_REPORTER
    if reporter:
        if agency is None:
            raise Forbidden("an agency reporter produces reports of its own agency")
        require_agency_access(principal, agency, write=False)
    if period is None:
        raise InvalidPeriodParameter("pass period= (of the report's period type)")
    parsed = parse_period(period)
    position = read.rollups.visible(wanted)
    ref = read.reference.snapshot()
    definition = ref.definition(code)
    if parsed.kind is not definition.period_kind:
        raise InvalidPeriodParameter(f"report {code} is a {definition.period_kind} report")
    if agency is not None and agency not in ref.agencies:
        raise NotFound(f"no agency {agency!r}")
    if reporter and definition.scope != "agency":
        raise Forbidden("an agency reporter produces agency-scope reports only")
    columns: Sequence[tuple[str, str]]
    if definition.scope == "agency":
        rows = [r.to_json() for r in read.rollups.agency_figures(ref, definition.indicators, parsed, agency)]
        columns = AGENCY_FIGURE_COLUMNS
    else:
        scopes = (
            ref.scopes(Scope(Dimension.REGION, region or None)) if definition.scope == "region" else [Scope.NATIONAL]
        )
        rows = [r.to_json() for r in read.rollups.figure_rows(ref, definition.indicators, [parsed], scopes)]
        columns = FIGURE_COLUMNS
    body = {"position": position, "definition": definition.to_json(), "period": parsed.code, "rows": rows}
    return respond(fmt, body, columns, rows, filename(code, parsed.code), definition.code[:31])
