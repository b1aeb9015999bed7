"""The projections the projector maintains: one per read model (`services/readmodels/<name>/projection.py`)."""

from __future__ import annotations

from collections.abc import Sequence

from services.readmodels.access.projection import AccessProjection
from services.readmodels.audit_trail.projection import AuditTrailProjection
from services.readmodels.compliance.projection import ComplianceProjection
from services.readmodels.projection import Projection
from services.readmodels.reference.projection import ReferenceProjection
from services.readmodels.report_view.projection import ReportViewProjection
from services.readmodels.rollups.projection import RollupsProjection


def all_projections(suffix: str = "") -> list[Projection]:
    return [
        ReportViewProjection(suffix),
        AuditTrailProjection(suffix),
        ReferenceProjection(suffix),
        RollupsProjection(suffix),
        ComplianceProjection(suffix),
        AccessProjection(suffix),
    ]


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
