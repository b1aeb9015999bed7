"""`GET /audit/events` (and `.csv`, `.xlsx`): the audit trail, every event of the log in global order.

Filtered, keyset-paged on position; each event as published (its canonical bytes, which the
transparency log hashed: docs/AUDIT.md). Agency credentials read only their own agency's trail.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from domain.identity import Principal, Role
from services.http.columns import AUDIT_TRAIL_COLUMNS
from services.http.export import CSV_RESPONSES, XLSX_RESPONSES, csv_response, xlsx_response
from services.http.limits import PageLimit
from services.http.read_side import ReadSide
from services.readmodels.audit_trail.queries import TrailFilter
from services.readmodels.errors import WrongAgency
from services.reports.dependencies import FreshnessQuery, Read, Reader, refuse_nul, require_zone

router = APIRouter(tags=["audit"])


class TrailQuery:
    """The audit trail's filters, as query parameters (shared by the JSON page and the exports)."""

    def __init__(
        self,
        agency: Annotated[str | None, Query(max_length=100)] = None,
        period: Annotated[str | None, Query(max_length=20)] = None,
        indicator: Annotated[str | None, Query(max_length=100)] = None,
        actor: Annotated[str | None, Query(max_length=200)] = None,
        event_type: Annotated[list[str] | None, Query(max_length=50)] = None,
        since: Annotated[datetime | None, Query(description="occurred at or after (ISO 8601 with zone)")] = None,
        until: Annotated[datetime | None, Query(description="occurred before (ISO 8601 with zone)")] = None,
    ) -> None:
        self.agency = agency
        self.period = period
        self.indicator = indicator
        self.actor = actor
        self.event_type = event_type
        self.since = since
        self.until = until

    def checked(self, principal: Principal) -> TrailFilter:
        """The filter, once the caller may read it (agency reporters name their own agency) and it is valid."""
        if principal.role is Role.AGENCY_REPORTER and self.agency != principal.agency:
            raise WrongAgency("an agency token reads only its own agency: pass agency=")
        refuse_nul(
            agency=self.agency,
            period=self.period,
            indicator=self.indicator,
            actor=self.actor,
            event_type=self.event_type,
        )
        require_zone(since=self.since, until=self.until)
        return TrailFilter(
            self.agency, self.period, self.indicator, self.actor, tuple(self.event_type or ()), self.since, self.until
        )


Filters = Annotated[TrailQuery, Depends()]


def export_rows(read: ReadSide, filters: TrailFilter) -> Iterator[list[Any]]:
    for event in read.audit_trail.matching(filters):
        published = event.to_json()
        yield [published[column] for column in AUDIT_TRAIL_COLUMNS]


@router.get("/audit/events")
def audit_events(
    principal: Reader,
    filters: Filters,
    limit: PageLimit,  # services/http/limits.py: at most MAX_PAGE_SIZE
    wanted: FreshnessQuery,
    read: Read,
    after: Annotated[int, Query(ge=0, description="keyset: the last position of the previous page")] = 0,
) -> dict[str, Any]:
    """Every event of the log (submissions, catalogue, templates, agencies), in global order.

    `position`: the trail holds every event of the log up to it (`min_position` waits for a write).
    """
    chosen = filters.checked(principal)
    position = read.audit_trail.visible(wanted)
    page = read.audit_trail.page(chosen, after, limit)
    return {
        "position": position,
        "events": [event.to_json() for event in page],
        "next_after": page[-1].position if len(page) == limit else None,
    }


@router.get("/audit/events.csv", response_class=Response, responses=CSV_RESPONSES)
def audit_events_csv(principal: Reader, filters: Filters, read: Read) -> Response:
    """The filtered audit trail as CSV (UTF-8), every matching event."""
    chosen = filters.checked(principal)  # bad filters are refused before the stream starts
    return csv_response(AUDIT_TRAIL_COLUMNS, export_rows(read, chosen), "audit-trail.csv")


@router.get("/audit/events.xlsx", response_class=Response, responses=XLSX_RESPONSES)
def audit_events_xlsx(principal: Reader, filters: Filters, read: Read) -> Response:
    """The filtered audit trail as an Excel workbook."""
    chosen = filters.checked(principal)
    return xlsx_response(AUDIT_TRAIL_COLUMNS, export_rows(read, chosen), "audit-trail.xlsx", "audit")
