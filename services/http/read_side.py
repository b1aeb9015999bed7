"""What the pages and the reports API read through: the read models' query objects, built by the composition root."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from domain.periods import Clock
from services.audit.transparency import TransparencyLog
from services.interchange.mapping import CodeMapping
from services.readmodels.access.queries import AccessQueries
from services.readmodels.audit_trail.queries import AuditTrailQueries
from services.readmodels.compliance.queries import ComplianceQueries
from services.readmodels.reference.queries import ReferenceQueries
from services.readmodels.report_view.asof import ReportViewHistory
from services.readmodels.report_view.queries import ReportViewQueries
from services.readmodels.rollups.asof import RollupsHistory
from services.readmodels.rollups.queries import RollupQueries


@dataclass(frozen=True)
class ReadSide:
    report_view: ReportViewQueries
    reference: ReferenceQueries
    rollups: RollupQueries
    compliance: ComplianceQueries
    audit_trail: AuditTrailQueries
    report_view_history: ReportViewHistory
    rollups_history: RollupsHistory
    transparency: TransparencyLog
    access: AccessQueries
    clock: Clock  # today in Vietnam: what "days late" and "in force today" are counted from
    mappings: Mapping[str, CodeMapping] = field(default_factory=dict)  # DHIS2/ADX exports, by data set
