"""`GET /rollups`: roll-ups of indicators across agencies (scope) and periods."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from domain.periods import Period
from services.http.columns import FIGURE_COLUMNS
from services.http.export import TABLE_RESPONSES, filename, respond
from services.readmodels.rollups.figures import Figures
from services.reports.dependencies import Format, FreshnessQuery, MinistryReader, Read, RollupParameters, RollupQuery

router = APIRouter(tags=["roll-ups"])


def answer(
    fmt: str, query: RollupQuery, head: dict[str, Any], periods: Sequence[Period], figures: Figures
) -> dict[str, Any] | Response:
    """A roll-up's answer (live or as of a past moment): `head` (the position, ...), the periods, scopes
    and rows; or the rows as CSV/XLSX."""
    rows = [row.to_json() for row in figures.rows]
    body = {**head, "periods": [p.code for p in periods], "scopes": [str(s) for s in figures.scopes], "figures": rows}
    name = filename("rollups", periods[0].code, periods[-1].code, query.scope)
    return respond(fmt, body, FIGURE_COLUMNS, rows, name, "Tổng hợp")


@router.get("/rollups", response_model=None, responses=TABLE_RESPONSES)
def rollups(
    principal: MinistryReader,
    wanted: FreshnessQuery,
    query: RollupParameters,
    read: Read,
    fmt: Format = "json",
) -> dict[str, Any] | Response:
    """Roll-ups of indicators across agencies (scope) and periods.

    `period=` or `from=`/`to=` (one kind: months, quarters, half-years or years);
    `scope=` national (default), region, kind, region:<region>, kind:<agency kind>;
    `indicator=` repeatable (default: every indicator). Each figure says how many
    agencies it covers (`agencies_reported`) out of how many had to report
    (`agencies_expected`).
    """
    periods = query.periods()
    scope = query.parsed_scope()
    indicators = query.indicators()
    position = read.rollups.visible(wanted)
    figures = read.rollups.figures(indicators, periods, scope)
    return answer(fmt, query, {"position": position}, periods, figures)
