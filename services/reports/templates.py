"""`GET /templates`, `GET /templates/{code}`: templates, their versions and the version in force for a period.

The indicators and rules of a form are `GET /templates/{code}/form` on the write API, straight
from the aggregates; these read the reference read models.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from domain.periods import PeriodKind
from services.reports.dependencies import FreshnessQuery, Read, Reader, parse_period, refuse_nul

router = APIRouter(tags=["registry"])


@router.get("/templates")
def templates(principal: Reader, wanted: FreshnessQuery, read: Read) -> dict[str, Any]:
    """Every template with its versions (a handful: not paged)."""
    position = read.reference.visible(wanted)
    return {"position": position, "templates": [t.to_json() for t in read.reference.templates()]}


@router.get("/templates/{code}")
def template(
    principal: Reader,
    wanted: FreshnessQuery,
    code: Annotated[str, Path(min_length=1, max_length=100)],
    read: Read,
    period: Annotated[str | None, Query(max_length=10, description="answer the version in force for it")] = None,
) -> dict[str, Any]:
    """One template, its versions, and with `period` the version in force for that period (and its base's)."""
    refuse_nul(code=code)
    month = None
    if period is not None:
        month = parse_period(period, name=None)
        if month.kind is not PeriodKind.MONTH:
            month = month.months()[0]
    position = read.reference.visible(wanted)
    found = read.reference.template(code)
    body = found.to_json(month)
    if month is not None and found.base is not None:
        base = read.reference.find_template(found.base)
        if base is not None:
            body["base_in_force"] = base.in_force(month)
    return {"position": position, **body}
