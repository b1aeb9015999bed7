"""The national reporting feed's definition packages (QCVN 125:2021/BTTTT), from the write side's own
definitions: the reporting regime, report forms (with their rules), reporting periods, indicators.

The data packages (report figures, report status) come from the read models (the reports API).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.periods import Period, PeriodKind
from services.ingest.application.submissions import parse_period
from services.ingest.application.write_side import WriteSide
from services.interchange.qcvn125 import (
    indicator_catalogue_package,
    regime_package,
    report_form_package,
    reporting_periods_package,
)


def reporting_regime(ws: WriteSide) -> dict[str, Any]:
    return regime_package(ws.regime)


def indicator_catalogue(ws: WriteSide) -> dict[str, Any]:
    return indicator_catalogue_package(ws.reference.catalogue().indicators.values())


def report_forms(ws: WriteSide, templates: Sequence[str], period: str) -> dict[str, Any]:
    """The version of each template in force for `period`, with its indicators and rules."""
    month = parse_period(period)
    return report_form_package(
        (ws.reference.template(code), ws.reference.form(code, month)) for code in dict.fromkeys(templates)
    )


def reporting_periods(ws: WriteSide, year: int) -> dict[str, Any]:
    """Every period of a year: its months, quarters, half-years and the year, with cut-off windows and deadlines."""
    periods = [
        Period(kind, year, number)
        for kind in (PeriodKind.MONTH, PeriodKind.QUARTER, PeriodKind.HALF_YEAR, PeriodKind.YEAR)
        for number in range(1, 12 // kind.length_in_months + 1)
    ]
    return reporting_periods_package(ws.regime, periods)
