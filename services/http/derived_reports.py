"""Producing a derived report for a period from the data already entered: the reports API and the pages.

A report definition (`domain/report_definitions.py`) names indicators, a period type and a scope;
the report is read from the roll-ups: national, one figure per indicator; region, one per region
and indicator (or one region); agency, one per agency and indicator (or one agency). An agency's
own reporter produces agency-scope reports of its own agency only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain.errors import Forbidden, NotFound
from domain.identity import Principal, Role
from domain.periods import InvalidPeriod, Period
from domain.report_definitions import ReportScope
from domain.scope import Dimension, Scope
from services.http.auth import require_agency_access
from services.http.columns import AGENCY_FIGURE_COLUMNS, FIGURE_COLUMNS, Columns
from services.http.read_side import ReadSide
from services.readmodels.errors import InvalidPeriodParameter
from services.readmodels.freshness import Freshness
from services.readmodels.reference.snapshot import DefinitionInfo


@dataclass(frozen=True)
class DerivedReport:
    """A derived report of one period: its rows (JSON form) and the columns of its table."""

    position: int
    definition: DefinitionInfo
    period: Period
    rows: list[dict[str, Any]]
    columns: Columns

    def to_json(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "definition": self.definition.to_json(),
            "period": self.period.code,
            "rows": self.rows,
        }


def may_produce(principal: Principal, definition: DefinitionInfo) -> bool:
    """Whether `principal` may produce reports of this definition at all."""
    return principal.role is not Role.AGENCY_REPORTER or definition.scope == ReportScope.AGENCY


def produce(
    read: ReadSide,
    principal: Principal,
    code: str,
    period: str | None,
    wanted: Freshness,
    *,
    region: str | None = None,
    agency: str | None = None,
) -> DerivedReport:
    """The report `code` for `period` (of the report's period type), read once the roll-ups reflect `wanted`."""
    reporter = principal.role is Role.AGENCY_REPORTER
    if reporter:
        if agency is None:
            raise Forbidden("an agency reporter produces reports of its own agency")
        require_agency_access(principal, agency, write=False)
    if period is None:
        raise InvalidPeriodParameter("pass period= (of the report's period type)")
    try:
        parsed = Period.parse(period)
    except InvalidPeriod as error:
        raise InvalidPeriodParameter(f"period: {error}") from None
    position = read.rollups.visible(wanted)
    ref = read.reference.snapshot()
    definition = ref.definition(code)
    if parsed.kind is not definition.period_kind:
        raise InvalidPeriodParameter(f"report {code} is a {definition.period_kind} report")
    if agency is not None and agency not in ref.agencies:
        raise NotFound(f"no agency {agency!r}")
    if not may_produce(principal, definition):
        raise Forbidden("an agency reporter produces agency-scope reports only")
    if definition.scope == ReportScope.AGENCY:
        figures = read.rollups.agency_figures(ref, definition.indicators, parsed, agency)
        return DerivedReport(position, definition, parsed, [r.to_json() for r in figures], AGENCY_FIGURE_COLUMNS)
    scopes = [Scope.NATIONAL]
    if definition.scope == ReportScope.REGION:
        scopes = ref.scopes(Scope(Dimension.REGION, region or None))
    rows = read.rollups.figure_rows(ref, definition.indicators, [parsed], scopes)
    return DerivedReport(position, definition, parsed, [r.to_json() for r in rows], FIGURE_COLUMNS)
