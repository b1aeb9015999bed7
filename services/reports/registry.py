"""`GET /agencies`, `GET /agencies/{agency}`: the agency registry on a date (agency codes and names are public).

Each agency with the name in force that day, whether it was in force, its successor (a merge),
the agencies merged into it, and the agency reporting for it that day (its successor after a
merge, followed through successive merges). Every answer carries the `position` it reflects and
accepts `min_position` (e.g. the `position` an admin change answered) to read its own writes.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from services.http.limits import PageLimit
from services.reports.dependencies import FreshnessQuery, Read, Reader, refuse_nul

router = APIRouter(tags=["registry"])

OnDate = Annotated[
    date | None, Query(description="the date the names, the `active` flag and `reporting_unit` refer to; today")
]


@router.get("/agencies")
def agencies(
    principal: Reader,
    wanted: FreshnessQuery,
    limit: PageLimit,
    read: Read,
    on: OnDate = None,
    kind: Annotated[str | None, Query(max_length=50)] = None,
    region: Annotated[str | None, Query(max_length=100)] = None,
    active: Annotated[bool, Query(description="only the agencies in force on `on`")] = False,
    after: Annotated[str, Query(max_length=100, description="keyset: the last code of the previous page")] = "",
) -> dict[str, Any]:
    """The agency registry on a date (agency codes and names are public), in code order."""
    refuse_nul(kind=kind, region=region, after=after)
    day = on or read.clock.today()
    position = read.reference.visible(wanted)
    page = read.reference.registry(day, kind=kind, region=region, active=active, after=after, limit=limit)
    return {
        "on": day.isoformat(),
        "position": position,
        "agencies": [agency.to_json() for agency in page],
        "next_after": page[-1].entry.code if len(page) == limit else None,
    }


@router.get("/agencies/{agency}")
def agency(
    principal: Reader,
    wanted: FreshnessQuery,
    agency: Annotated[str, Path(min_length=1, max_length=100)],
    read: Read,
    on: OnDate = None,
) -> dict[str, Any]:
    """One agency on a date: its name then, its successor and predecessors, who reports for it then."""
    refuse_nul(agency=agency)
    day = on or read.clock.today()
    position = read.reference.visible(wanted)
    found = read.reference.agency(agency, day)
    return {"on": day.isoformat(), "position": position, **found.to_json()}
