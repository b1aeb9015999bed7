"""Reading the roll-ups (`rm_rollups`, `rm_rollup_cells`) with the reference data they need."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import orjson

from domain.periods import Period
from domain.scope import Scope
from services.readmodels import Pool
from services.readmodels.freshness import Freshness, projections_position, wait_for_position
from services.readmodels.reference.queries import ReferenceQueries
from services.readmodels.reference.snapshot import Reference
from services.readmodels.rollups.figures import (
    AgencyFigureRow,
    FigureRow,
    Figures,
    ScopeStatistics,
    agency_figure_rows,
    figure_rows,
)

PROJECTIONS = ("rollups", "reference")


class RollupQueries:
    def __init__(self, pool: Pool, reference: ReferenceQueries, topic: str) -> None:
        self.pool = pool
        self.reference = reference
        self._position = projections_position(topic, PROJECTIONS)

    def visible(self, wanted: Freshness) -> int:
        return wait_for_position(self.pool, self._position, wanted)

    def figures(self, indicators: Sequence[str] | None, periods: Sequence[Period], scope: Scope) -> Figures:
        """The roll-up of `indicators` (default: all) over `periods` in `scope` (a selection: each of its scopes)."""
        ref = self.reference.snapshot()
        codes = ref.indicators_named(indicators)
        scopes = ref.scopes(scope)
        return Figures(scopes, self.figure_rows(ref, codes, periods, scopes))

    def figure_rows(
        self, ref: Reference, indicators: Sequence[str], periods: Sequence[Period], scopes: Sequence[Scope]
    ) -> list[FigureRow]:
        """Roll-up figures for every (indicator, period, scope) that had data or was expected."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT scope, period, indicator, agencies, figures, total, min_figure, max_figure FROM rm_rollups"
                " WHERE scope = ANY(%s) AND period = ANY(%s) AND indicator = ANY(%s)",
                ([str(s) for s in scopes], [p.code for p in periods], list(indicators)),
            ).fetchall()
        stats = {(r[0], r[1], r[2]): ScopeStatistics(int(r[3]), int(r[4]), r[5], r[6], r[7]) for r in rows}
        return figure_rows(ref, stats, indicators, periods, scopes)

    def agency_figures(
        self, ref: Reference, indicators: Sequence[str], period: Period, agency: str | None
    ) -> list[AgencyFigureRow]:
        """Each agency's own figures for the period (or one agency's), months as reported, longer periods combined."""
        params: list[Any] = [period.code, list(indicators)]
        where = "period = %s AND indicator = ANY(%s)"
        if agency is not None:
            where += " AND agency = %s"
            params.append(agency)
        with self.pool.connection() as conn:
            # The JSON as text, parsed by orjson: a national read parses 10,000 of them.
            cells = {
                (r[0], r[1]): (int(r[2]), None if r[3] is None else orjson.loads(r[3]))
                for r in conn.execute(
                    f"SELECT agency, indicator, months, value::text FROM rm_rollup_cells WHERE {where}", params
                )
            }
        return agency_figure_rows(ref, cells, indicators, period, agency)

    def agency_series(
        self, ref: Reference, indicator: str, periods: Sequence[Period], agency: str
    ) -> list[AgencyFigureRow]:
        """One agency's figure of one indicator for each of `periods` (one read), as `agency_figures` gives it."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT period, months, value FROM rm_rollup_cells"
                " WHERE agency = %s AND indicator = %s AND period = ANY(%s)",
                (agency, indicator, [p.code for p in periods]),
            ).fetchall()
        cells = {period: (int(months), value) for period, months, value in rows}
        series: list[AgencyFigureRow] = []
        for period in periods:
            found = {(agency, indicator): cells[period.code]} if period.code in cells else {}
            series += agency_figure_rows(ref, found, [indicator], period, agency)
        return series

    def top_agencies(
        self, indicator: str, period: Period, region: str | None, limit: int, offset: int = 0
    ) -> tuple[list[tuple[str, Decimal, int]], int]:
        """The agencies with the largest figures of `indicator` for `period` (in one region, if given), at most
        `limit` after the first `offset`, as (agency, figure, months reported), largest first; and how many
        agencies have a figure."""
        join, params = "", [indicator, period.code]
        if region is not None:
            join = " JOIN rm_rollup_agencies a ON a.agency = c.agency AND a.region = %s"
            params.insert(0, region)
        where = f"FROM rm_rollup_cells c{join} WHERE c.indicator = %s AND c.period = %s AND c.figure IS NOT NULL"
        with self.pool.connection() as conn:
            top = conn.execute(
                f"SELECT c.agency, c.figure, c.months {where} ORDER BY c.figure DESC, c.agency LIMIT %s OFFSET %s",
                [*params, limit, offset],
            ).fetchall()
            counted = conn.execute(f"SELECT count(*) {where}", params).fetchone()
        return [(str(a), Decimal(f), int(m)) for a, f, m in top], int(counted[0]) if counted else 0
