"""The audit trail as CSV or XLSX: the one rendering both the reports API and the auditors' pages serve.

Every matching event, in position order, with the members of the event as published (a technical
export: the column names are the JSON members, untranslated).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from fastapi.responses import Response

from services.http.export import csv_response, xlsx_response
from services.readmodels.audit_trail.queries import AuditTrailQueries, TrailFilter

COLUMNS = (
    "position",
    "occurred_at",
    "event_type",
    "event_id",
    "agency",
    "period",
    "indicator",
    "previous_value",
    "value",
    "actor",
    "role",
    "reason",
)


def trail_rows(trail: AuditTrailQueries, filters: TrailFilter) -> Iterator[list[Any]]:
    for event in trail.matching(filters):
        published = event.to_json()
        yield [published[column] for column in COLUMNS]


def trail_export(trail: AuditTrailQueries, filters: TrailFilter, fmt: Literal["csv", "xlsx"]) -> Response:
    """The filtered trail as a download (CSV is streamed, UTF-8 with a BOM)."""
    if fmt == "csv":
        return csv_response(COLUMNS, trail_rows(trail, filters), "audit-trail.csv")
    return xlsx_response(COLUMNS, trail_rows(trail, filters), "audit-trail.xlsx", "audit")
