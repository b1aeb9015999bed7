"""The projections the projector maintains."""

from __future__ import annotations

from services.projector.projection import Projection
from services.projector.report_view import ReportView


def all_projections(suffix: str = "") -> list[Projection]:
    return [ReportView(suffix)]
