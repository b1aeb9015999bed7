"""Reading the per-agency report view (`rm_report_values`, `rm_agency_positions`)."""

from __future__ import annotations

from collections.abc import Sequence

from psycopg.rows import class_row

from services.readmodels import Pool
from services.readmodels.freshness import Freshness, agency_position, projections_position, wait_for_position
from services.readmodels.report_view.rows import AgencyReport, PeriodValue, ReportValue


class ReportViewQueries:
    def __init__(self, pool: Pool, topic: str) -> None:
        self.pool = pool
        self.topic = topic

    def report(self, agency: str, period: str, wanted: Freshness) -> AgencyReport:
        """The agency's period once the view reflects `wanted` (the agency's position answered with it)."""
        position = wait_for_position(self.pool, agency_position(agency, self.topic), wanted)
        with self.pool.connection() as conn, conn.cursor(row_factory=class_row(ReportValue)) as cur:
            values = cur.execute(
                "SELECT indicator, value, revision, actor, role, recorded_at, event_id::text AS event_id, position"
                " FROM rm_report_values WHERE agency = %s AND period = %s ORDER BY indicator",
                (agency, period),
            ).fetchall()
        return AgencyReport(agency, period, position, values)

    def period_values(self, period: str, agency: str | None, wanted: Freshness) -> tuple[int, list[PeriodValue]]:
        """The current values of a month, of one agency or of every agency (for exports), and the position read."""
        reader = agency_position(agency, self.topic) if agency else projections_position(self.topic, ("report_view",))
        position = wait_for_position(self.pool, reader, wanted)
        with self.pool.connection() as conn, conn.cursor(row_factory=class_row(PeriodValue)) as cur:
            values = cur.execute(
                "SELECT agency, period, indicator, value FROM rm_report_values"
                " WHERE period = %s AND (%s::text IS NULL OR agency = %s) ORDER BY agency, indicator",
                (period, agency, agency),
            ).fetchall()
        return position, values

    def values_of(self, agency: str, periods: Sequence[str]) -> dict[str, dict[str, ReportValue]]:
        """The agency's current values of several periods at once (period -> indicator -> value), as the view
        holds them now (no wait: the entry form shows them beside its own, strongly consistent, values)."""
        found: dict[str, dict[str, ReportValue]] = {period: {} for period in periods}
        with self.pool.connection() as conn, conn.cursor() as cur:
            rows = cur.execute(
                "SELECT period, indicator, value, revision, actor, role, recorded_at, event_id::text, position"
                " FROM rm_report_values WHERE agency = %s AND period = ANY(%s)",
                (agency, list(periods)),
            ).fetchall()
        for period, *columns in rows:
            found[period][columns[0]] = ReportValue(*columns)
        return found
