"""Reading the roll-ups (`rm_rollups`, `rm_rollup_years`) with the reference data they need."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import orjson

from domain.periods import Period
from domain.rollups import JsonValue
from domain.scope import Scope
from services.readmodels import Pool
from services.readmodels.freshness import Freshness, projections_position, wait_for_position
from services.readmodels.reference.queries import ReferenceQueries
from services.readmodels.reference.snapshot import Reference
from services.readmodels.rollups.cells import Entry, months_of_entry, shown_value, year_of
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
        params: dict[str, Any] = {"period": period.code, "year": year_of(period.code), "indicators": list(indicators)}
        where = "year = %(year)s AND indicator = ANY(%(indicators)s) AND cells ? %(period)s"
        if agency is not None:
            where += " AND agency = %(agency)s"
            params["agency"] = agency
        with self.pool.connection() as conn:
            # The JSON as text, parsed by orjson: a national read parses 10,000 of them.
            rows = conn.execute(
                f"SELECT agency, indicator, (cells -> %(period)s)::text FROM rm_rollup_years WHERE {where}", params
            ).fetchall()
        cells = {(str(a), str(i)): _shown(period.code, orjson.loads(entry)) for a, i, entry in rows}
        return agency_figure_rows(ref, cells, indicators, period, agency)

    def agency_series(
        self, ref: Reference, indicator: str, periods: Sequence[Period], agency: str
    ) -> list[AgencyFigureRow]:
        """One agency's figure of one indicator for each of `periods` (one read), as `agency_figures` gives it."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT cells::text FROM rm_rollup_years WHERE agency = %s AND indicator = %s AND year = ANY(%s)",
                (agency, indicator, sorted({year_of(p.code) for p in periods})),
            ).fetchall()
        cells: dict[str, Entry] = {}
        for (text,) in rows:
            cells.update(orjson.loads(text))
        series: list[AgencyFigureRow] = []
        for period in periods:
            entry = cells.get(period.code)
            found = {(agency, indicator): _shown(period.code, entry)} if entry is not None else {}
            series += agency_figure_rows(ref, found, [indicator], period, agency)
        return series

    def top_agencies(
        self, indicator: str, period: Period, region: str | None, limit: int, offset: int = 0
    ) -> tuple[list[tuple[str, Decimal, int]], int]:
        """The agencies with the largest figures of `indicator` for `period` (in one region, if given), at most
        `limit` after the first `offset`, as (agency, figure, months reported), largest first; and how many
        agencies have a figure."""
        join = ""
        params: dict[str, Any] = {"indicator": indicator, "period": period.code, "year": year_of(period.code)}
        if region is not None:
            join = " JOIN rm_rollup_agencies a ON a.agency = c.agency AND a.region = %(region)s"
            params["region"] = region
        # Each cell's figure taken out of its row's JSON once, into narrow rows that the count and the
        # sort then read (a window over the year rows themselves would copy every row's JSON: 3x slower).
        cells = (
            "WITH c AS MATERIALIZED (SELECT agency, (cell ->> 1)::numeric AS figure, (cell ->> 0)::int AS months"
            " FROM (SELECT agency, cells -> %(period)s AS cell FROM rm_rollup_years"
            " WHERE indicator = %(indicator)s AND year = %(year)s) y)"
        )
        source = f"FROM c{join} WHERE c.figure IS NOT NULL"
        with self.pool.connection() as conn:
            top = conn.execute(
                f"{cells} SELECT c.agency, c.figure, c.months, count(*) OVER () {source}"
                " ORDER BY c.figure DESC, c.agency LIMIT %(limit)s OFFSET %(offset)s",
                {**params, "limit": limit, "offset": offset},
            ).fetchall()
            if top or offset == 0:
                counted = int(top[0][3]) if top else 0
            else:  # a page past the end: counted apart
                row = conn.execute(f"{cells} SELECT count(*) {source}", params).fetchone()
                counted = int(row[0]) if row else 0
        return [(str(a), Decimal(f), int(m)) for a, f, m, _ in top], counted


def _shown(period: str, entry: Entry) -> tuple[int, JsonValue]:
    """(months reported, the value shown) of a cell."""
    return months_of_entry(entry), shown_value(period, entry)
