"""Time travel: a per-agency report view as of a past global position or instant, folded from the log.

`report_as_of` is a pure fold over integration events with the same rules as the live
projection (`projection.py`): the latest value of each indicator, its revision (how many value
events it had), who and when, as the same rows (`rows.py`). The live view at some moment was the
fold of a prefix of the log, so the fold of the same prefix is what it showed.

An instant resolves to a prefix of the log: every event before the first one whose
`occurred_at` is later than the instant. An event's time is taken in the write service before
its commit, so an event created after the instant was not visible then, and neither was
anything committed after it (commits follow notification order).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from infra.integration_events import VALUE_EVENTS, IntegrationEvent
from services.readmodels.audit_trail.queries import AsOf, AuditTrailQueries
from services.readmodels.report_view.rows import AgencyReport, ReportValue


def report_as_of(agency: str, period: str, events: Iterable[IntegrationEvent], agency_position: int) -> AgencyReport:
    """The report view of (agency, period) after `events` (that agency's events, in position order).

    `agency_position` is the position of the agency's last event in the prefix, any period (what
    the live view reports as `position`).
    """
    values: dict[str, ReportValue] = {}
    for event in events:
        if event.event_type not in VALUE_EVENTS or event.agency != agency or event.period != period:
            continue
        if event.indicator is None:
            continue
        previous = values.get(event.indicator)
        values[event.indicator] = ReportValue(
            indicator=event.indicator,
            value=event.value,
            revision=previous.revision + 1 if previous is not None else 1,
            actor=event.actor,
            role=event.role,
            recorded_at=event.occurred_at.astimezone(UTC),
            event_id=str(event.event_id),
            position=event.position,
        )
    return AgencyReport(agency, period, agency_position, [values[code] for code in sorted(values)])


def prefix_for_instant(events: Iterable[IntegrationEvent], instant: datetime) -> int | None:
    """The last position before the first event (in position order) that occurred after `instant`.

    None when no event occurred after it (the whole log is the prefix).
    """
    previous = 0
    for event in events:
        if event.occurred_at > instant:
            return previous
        previous = event.position
    return None


class ReportViewHistory:
    """The report view as of a past moment, folded from the audit trail's prefix of the log."""

    def __init__(self, trail: AuditTrailQueries) -> None:
        self.trail = trail

    def report(self, agency: str, period: str, when: AsOf) -> tuple[int, AgencyReport]:
        """(the last position of the prefix `when` names, the agency's period as it was then)."""
        target = self.trail.log_prefix(when)
        events = self.trail.events(target, VALUE_EVENTS, agency=agency, period=period)
        return target, report_as_of(agency, period, events, self.trail.agency_position(agency, target))
