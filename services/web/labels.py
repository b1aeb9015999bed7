"""What every page calls the registry's and the read models' codes: regions, agency kinds, report
statuses, indicator groups, roles, period types, scopes. English message ids, translated in the
reader's language; an unknown code (a region registered since) is shown as it is."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from domain.periods import PeriodKind
from domain.scope import Dimension, Scope

REGIONS = {
    "red_river_delta": "Red River Delta",
    "northern_midlands_mountains": "Northern Midlands and Mountains",
    "north_central_central_coast": "North Central and Central Coast",
    "central_highlands": "Central Highlands",
    "southeast": "Southeast",
    "mekong_delta": "Mekong Delta",
}
KINDS = {
    "ministry": "The ministry",
    "ministry_unit": "Ministry units",
    "provincial_department": "Provincial departments",
}
STATUSES = {
    "not_started": "Not started",
    "draft": "Being entered",
    "submitted": "Submitted, awaiting review",
    "submitted_on_time": "Submitted on time",
    "submitted_late": "Submitted late",
    "returned": "Returned for revision",
    "recalled": "Recalled to be corrected",
    "reopened": "Reopened for correction",
    "approved": "Approved",
}
PERIOD_KINDS = {
    PeriodKind.MONTH: "Monthly",
    PeriodKind.QUARTER: "Quarterly",
    PeriodKind.HALF_YEAR: "Half-yearly",
    PeriodKind.YEAR: "Yearly",
}
GROUPS = {
    "postal": "Postal services",
    "telecom_internet": "Telecommunications and Internet",
    "radio_frequency": "Radio frequencies",
    "it_industry": "IT industry",
    "digital_transformation": "Digital transformation",
    "information_security": "Information security",
    "press_broadcasting_einfo": "Press, broadcasting and electronic information",
    "publishing_printing_distribution": "Publishing, printing and distribution",
}
ROLES = {
    "agency_reporter": "Agency clerk",
    "ministry_reviewer": "Ministry reviewer",
    "auditor": "Auditor",
    "admin": "Administrator",
}
EVENTS = {
    "SubmissionOpened": "First value entered",
    "ReportSubmitted": "Submitted to the ministry",
    "ReportRecalled": "Recalled by the agency",
    "ReportApproved": "Approved",
    "ReportReturned": "Returned for revision",
    "ReportReopened": "Reopened for correction",
    "IndicatorValueSubmitted": "Entered",
    "IndicatorValueCorrected": "Corrected",
}
REPORT_SCOPES = {"national": "National", "region": "By region", "agency": "By agency"}


@dataclass(frozen=True)
class Labels:
    """The labels in one reader's language (`translate`: the request's gettext)."""

    translate: Callable[[str], str]

    def region(self, code: str | None) -> str:
        if code is None:
            return "—"
        return self.translate(REGIONS[code]) if code in REGIONS else code

    def kind(self, code: str | None) -> str:
        if code is None:
            return "—"
        return self.translate(KINDS[code]) if code in KINDS else code

    def status(self, code: str) -> str:
        return self.translate(STATUSES[code]) if code in STATUSES else code

    def period_kind(self, kind: PeriodKind) -> str:
        return self.translate(PERIOD_KINDS[kind])

    def role(self, role: str | None) -> str:
        if role is None:
            return "—"
        return self.translate(ROLES[role]) if role in ROLES else role

    def event(self, event_type: str) -> str:
        return self.translate(EVENTS[event_type]) if event_type in EVENTS else event_type

    def group(self, code: str) -> str:
        return self.translate(GROUPS[code]) if code in GROUPS else code

    def report_scope(self, scope: str) -> str:
        return self.translate(REPORT_SCOPES[scope]) if scope in REPORT_SCOPES else scope

    def scope(self, scope: Scope) -> str:
        if scope.dimension is Dimension.NATIONAL:
            return self.translate("Whole country")
        if scope.dimension is Dimension.REGION:
            return self.region(scope.value)
        return self.kind(scope.value)
