"""The projections the projector maintains."""

from __future__ import annotations

from collections.abc import Sequence

from services.projector.audit_trail import AuditTrail
from services.projector.compliance import Compliance
from services.projector.projection import Projection
from services.projector.reference import ReferenceData
from services.projector.report_view import ReportView
from services.projector.rollups import Rollups


def all_projections(suffix: str = "") -> list[Projection]:
    return [ReportView(suffix), AuditTrail(suffix), ReferenceData(suffix), Rollups(suffix), Compliance(suffix)]


def select_projections(names: Sequence[str] = (), *, exclude: Sequence[str] = ()) -> list[Projection]:
    """The projections named (default: all), less those excluded; ValueError for an unknown name."""
    projections = all_projections()
    known = {p.name for p in projections}
    unknown = sorted((set(names) | set(exclude)) - known)
    if unknown:
        raise ValueError(f"unknown projection(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    chosen = [p for p in projections if (not names or p.name in names) and p.name not in exclude]
    if not chosen:
        raise ValueError("no projection left to run")
    return chosen
