"""The roll-ups' projection: per indicator, across agencies and across periods, kept up to date event by event.

Two tables (the arithmetic is specified, in Python, by `domain.rollups`):

- `rm_rollup_years`: one row per agency, indicator and year holding the agency's cells of that
  year (`cells.py`): each month as reported, and the quarters, half-years and year the months
  make up (combined over time by the indicator's `aggregation_time`). A new or corrected month
  rewrites one row, whatever the longer periods it changes;
- `rm_rollups`: per scope (`national`, `region:<region>`, `kind:<agency kind>`), period and
  indicator, running statistics of the agencies' figures (how many agencies, how many numeric
  figures, their sum; the min for indicators aggregated by min, the max for those by max). The figure a
  reader sees is chosen from them by `aggregation_agencies`, so a national 12-month series is
  12 primary-key reads.

Per batch: the year rows the batch touches are read in one statement; the cells each changed
month gives are computed here, in Python, by `domain.rollups`; the rows are written back from a
staging table; the old and new figure of every changed cell move each scope's statistics by
the difference (subtract the old figure, add the new one: `agencies`, `figures` and `total` are
additive, min and max too unless their holder got worse, in which case that period and
indicator is recounted from the cells).

Order independence. Values, agencies and the catalogue travel on different partitions, so a
value may be applied before the definition of its indicator or the registration of its agency
(in a rebuild from Kafka, say). The tables are kept equal, after every batch, to one function of
(the latest value of each agency, indicator and month; the agencies and indicator definitions
seen so far): a value of an unknown indicator is kept without a figure, an agency not yet
registered contributes to no scope, and when the definition or the registration arrives, the
cells and statistics it affects are recomputed. So a rebuild, whatever the interleaving, ends
equal to the live tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, localcontext

import orjson
import psycopg
from psycopg.rows import TupleRow

from domain.rollups import EXACT, JsonValue
from domain.scope import Scope, scopes_of
from domain.values import Aggregation, ValueType
from infra.integration_events import VALUE_EVENTS, AgencyRegistered, EventType, IndicatorDefined, IntegrationEvent
from infra.pg_copy import Column, stage_rows
from services.readmodels.rollups.cells import (
    Cells,
    Definition,
    Entry,
    figure_of,
    recomputed_cells,
    updated_cells,
    year_of,
)
from services.readmodels.rollups.figures import StatsKey

YearKey = tuple[str, str, str]  # agency, indicator, year
GroupKey = tuple[tuple[str, ...], str, str]  # the scopes an agency counts in, period, indicator
NATIONAL = str(Scope.NATIONAL)  # the SQL writes the other scopes' text as `kind:<kind>`, `region:<region>`

YEAR_ROWS: tuple[Column, ...] = (
    ("agency", "text"),
    ("indicator", "text"),
    ("year", "text"),
    ("existed", "boolean"),
    ("cells", "text"),  # JSON, cast when written
)
MOVES: tuple[Column, ...] = (
    ("scope", "text"),
    ("period", "text"),
    ("indicator", "text"),
    ("agencies", "integer"),
    ("figures", "integer"),
    ("total", "numeric"),
    ("min_figure", "numeric"),
    ("max_figure", "numeric"),
)


class _Move:
    """How a batch moves the statistics of one period and indicator (of a scope, or of each of a group's)."""

    __slots__ = ("agencies", "figures", "high", "low", "total", "worse_high", "worse_low")

    def __init__(self) -> None:
        self.agencies = 0
        self.figures = 0
        self.total = Decimal(0)
        self.low: Decimal | None = None  # the least new figure (indicators aggregated by min only)
        self.high: Decimal | None = None  # the greatest new figure (by max only)
        self.worse_low: Decimal | None = None  # the least old figure that rose or went away (by min only)
        self.worse_high: Decimal | None = None  # the greatest old figure that fell or went away (by max only)

    def add(self, other: _Move) -> None:
        """Move by `other` too (within an `EXACT` context)."""
        self.agencies += other.agencies
        self.figures += other.figures
        self.total += other.total
        if other.low is not None:
            self.low = _minimum(self.low, other.low)
        if other.high is not None:
            self.high = _maximum(self.high, other.high)
        if other.worse_low is not None:
            self.worse_low = _minimum(self.worse_low, other.worse_low)
        if other.worse_high is not None:
            self.worse_high = _maximum(self.worse_high, other.worse_high)


def _minimum(a: Decimal | None, b: Decimal) -> Decimal:
    return b if a is None or b < a else a


def _maximum(a: Decimal | None, b: Decimal) -> Decimal:
    return b if a is None or b > a else a


def _move(
    moves: dict[GroupKey, _Move],
    scopes: tuple[str, ...],
    indicator: str,
    old: Mapping[str, Entry],
    new: Mapping[str, Entry],
    over_agencies: Aggregation | None,
) -> None:
    """Move the statistics of `scopes` (the scopes of one agency) by the cells changed from `old` to `new`.

    The agencies of a batch that count in the same scopes share one move per period and indicator,
    spread to each scope once per batch (`_per_scope`). A min is kept only where it is the figure
    (aggregation across agencies `min`), a max likewise: a holder getting worse means a recount, and
    for the other extreme it would be one for nothing.
    """
    lows, highs = over_agencies is Aggregation.MIN, over_agencies is Aggregation.MAX
    for period, entry in new.items():
        before = old.get(period)
        if before is not None and before[1] == entry[1]:
            continue  # the same text, the same figure
        old_figure, new_figure = figure_of(before), figure_of(entry)
        if before is not None and old_figure == new_figure:
            continue
        key = (scopes, period, indicator)
        move = moves.get(key)
        if move is None:
            move = moves[key] = _Move()
        if before is None:
            move.agencies += 1
        if new_figure is not None:
            move.figures += 1
            move.total += new_figure
            if lows:
                move.low = _minimum(move.low, new_figure)
            if highs:
                move.high = _maximum(move.high, new_figure)
        if old_figure is not None:
            move.figures -= 1
            move.total -= old_figure
            if lows and (new_figure is None or new_figure > old_figure):
                move.worse_low = _minimum(move.worse_low, old_figure)
            if highs and (new_figure is None or new_figure < old_figure):
                move.worse_high = _maximum(move.worse_high, old_figure)


def _per_scope(moves: Mapping[GroupKey, _Move]) -> dict[StatsKey, _Move]:
    """Each scope's move of each period and indicator, from the groups' moves (within an `EXACT` context)."""
    result: dict[StatsKey, _Move] = {}
    for (scopes, period, indicator), move in moves.items():
        for scope in scopes:
            key = (scope, period, indicator)
            found = result.get(key)
            if found is None:
                found = result[key] = _Move()
            found.add(move)
    return result


class RollupsProjection:
    name = "rollups"

    def __init__(self, suffix: str = "") -> None:
        self.agencies = "rm_rollup_agencies" + suffix
        self.indicators = "rm_rollup_indicators" + suffix
        self.years = "rm_rollup_years" + suffix
        self.figures = "rm_rollups" + suffix
        self.tables: tuple[str, ...] = (self.agencies, self.indicators, self.years, self.figures)
        # Recounts and late definitions find a period's year rows by indicator and year.
        self.indexed_reads: tuple[str, ...] = (self.years,)
        # A definition applied after its indicator's values recomputes their rows and recounts.
        self.log_order = True
        # Its statistics combine agencies of every partition (and read their year rows).
        self.key_local = False

    def apply(self, cur: psycopg.Cursor[TupleRow], events: Sequence[IntegrationEvent]) -> None:
        registered: dict[str, tuple[str, str | None]] = {}
        defined: dict[str, Definition] = {}
        values: dict[YearKey, dict[str, JsonValue]] = {}
        for event in events:
            if event.event_type in VALUE_EVENTS:
                if event.agency and event.period and event.indicator:
                    # In position order: the last value of a month wins.
                    key = (event.agency, event.indicator, year_of(event.period))
                    values.setdefault(key, {})[event.period] = event.value
            elif event.event_type is EventType.AGENCY_REGISTERED:
                agency = event.details(AgencyRegistered)
                registered[agency.code] = (agency.kind, agency.region)
            elif event.event_type is EventType.INDICATOR_DEFINED:
                indicator = event.details(IndicatorDefined).indicator()
                defined[indicator.code] = (
                    indicator.value_type,
                    indicator.aggregation_time,
                    indicator.aggregation_agencies,
                )
        # Reference data first, reconciling what was applied before it; then the values,
        # incrementally. Each step keeps the tables equal to the function described above.
        if registered:
            self._register_agencies(cur, registered)
        if defined:
            self._define_indicators(cur, defined)
        if values:
            self._apply_values(cur, values)

    # ---- reference data -------------------------------------------------------

    def _register_agencies(
        self, cur: psycopg.Cursor[TupleRow], registered: Mapping[str, tuple[str, str | None]]
    ) -> None:
        codes = list(registered)
        known = {row[0] for row in cur.execute(f"SELECT agency FROM {self.agencies} WHERE agency = ANY(%s)", (codes,))}
        new = [code for code in codes if code not in known]
        if not new:
            return
        cur.execute(
            f"INSERT INTO {self.agencies} (agency, kind, region)"
            " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[])",
            (new, [registered[c][0] for c in new], [registered[c][1] for c in new]),
        )
        # Values of these agencies applied before their registration now count in their scopes.
        self._recount(cur, self._periods_where(cur, "agency", new))

    def _define_indicators(self, cur: psycopg.Cursor[TupleRow], defined: Mapping[str, Definition]) -> None:
        stored = self._definitions(cur, defined)
        changed = [code for code, definition in defined.items() if stored.get(code) != definition]
        if not changed:
            return
        cur.execute(
            f"INSERT INTO {self.indicators} AS t (indicator, value_type, aggregation_time, aggregation_agencies)"
            " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[])"
            " ON CONFLICT (indicator) DO UPDATE SET value_type = EXCLUDED.value_type,"
            " aggregation_time = EXCLUDED.aggregation_time, aggregation_agencies = EXCLUDED.aggregation_agencies",
            (changed, *([str(defined[c][n]) for c in changed] for n in range(3))),
        )
        # Values applied before this definition (or under another one): their cells again. (When
        # only the aggregation across agencies changed, the cells stand.)
        recompute = [code for code in changed if stored.get(code, (None, None))[:2] != defined[code][:2]]
        if recompute:
            rows = cur.execute(
                f"SELECT agency, indicator, year, cells::text FROM {self.years} WHERE indicator = ANY(%s)",
                (recompute,),
            ).fetchall()
            self._write_years(
                cur,
                (
                    (str(a), str(i), str(y), True, recomputed_cells(orjson.loads(c), defined[str(i)]))
                    for a, i, y, c in rows
                ),
            )
        self._recount(cur, self._periods_where(cur, "indicator", changed))

    def _definitions(self, cur: psycopg.Cursor[TupleRow], codes: Iterable[str]) -> dict[str, Definition]:
        rows = cur.execute(
            f"SELECT indicator, value_type, aggregation_time, aggregation_agencies FROM {self.indicators}"
            " WHERE indicator = ANY(%s)",
            (list(codes),),
        )
        return {str(code): (ValueType(vt), Aggregation(at), Aggregation(aa)) for code, vt, at, aa in rows}

    def _periods_where(self, cur: psycopg.Cursor[TupleRow], column: str, codes: Sequence[str]) -> list[tuple[str, str]]:
        """(indicator, period) of every cell of the year rows whose `column` is one of `codes`."""
        rows = cur.execute(
            f"SELECT DISTINCT y.indicator, p.period FROM {self.years} y"
            f" CROSS JOIN LATERAL jsonb_object_keys(y.cells) AS p(period) WHERE y.{column} = ANY(%s)",
            (list(codes),),
        )
        return [(str(i), str(p)) for i, p in rows]

    # ---- values ------------------------------------------------------------------

    def _apply_values(self, cur: psycopg.Cursor[TupleRow], values: Mapping[YearKey, Mapping[str, JsonValue]]) -> None:
        keys = sorted(values)
        definitions = self._definitions(cur, {indicator for _, indicator, _ in keys})
        scopes = self._scopes(cur, {agency for agency, _, _ in keys})
        stored = self._stored(cur, keys)
        moves: dict[GroupKey, _Move] = {}
        rows: list[tuple[str, str, str, bool, Cells]] = []
        with localcontext(EXACT):  # sums and differences of reported numbers are never rounded
            for key in keys:
                agency, indicator, year = key
                old = stored.get(key)
                definition = definitions.get(indicator)
                new = updated_cells(old or {}, definition, values[key])
                rows.append((agency, indicator, year, old is not None, {**old, **new} if old else new))
                in_scopes = scopes.get(agency)
                if in_scopes:  # an agency not registered yet counts in no scope
                    _move(moves, in_scopes, indicator, old or {}, new, definition[2] if definition else None)
            per_scope = _per_scope(moves)
        self._write_years(cur, rows)
        self._move_statistics(cur, per_scope)

    def _scopes(self, cur: psycopg.Cursor[TupleRow], codes: Iterable[str]) -> dict[str, tuple[str, ...]]:
        """The scopes (their text) each registered agency of `codes` counts in."""
        rows = cur.execute(f"SELECT agency, kind, region FROM {self.agencies} WHERE agency = ANY(%s)", (list(codes),))
        return {str(a): tuple(str(s) for s in scopes_of(str(k), None if r is None else str(r))) for a, k, r in rows}

    def _stored(self, cur: psycopg.Cursor[TupleRow], keys: Sequence[YearKey]) -> dict[YearKey, Cells]:
        """The cells stored for `keys` (those that have a row)."""
        stage_rows(cur, "rollup_keys", YEAR_ROWS[:3], keys)
        # LIMIT 1 (a primary-key lookup anyway) keeps it a lookup per key: the planner would
        # otherwise hash the whole table for a batch whose size it cannot see.
        rows = cur.execute(
            "SELECT y.agency, y.indicator, y.year, y.cells::text FROM rollup_keys k"
            f" CROSS JOIN LATERAL (SELECT agency, indicator, year, cells FROM {self.years}"
            " WHERE agency = k.agency AND indicator = k.indicator AND year = k.year LIMIT 1) y"
        )
        return {(str(a), str(i), str(y)): orjson.loads(c) for a, i, y, c in rows}

    def _write_years(self, cur: psycopg.Cursor[TupleRow], rows: Iterable[tuple[str, str, str, bool, Cells]]) -> None:
        """Write year rows (agency, indicator, year, whether it existed, its cells)."""
        stage_rows(
            cur,
            "rollup_year_rows",
            YEAR_ROWS,
            ((a, i, y, existed, orjson.dumps(cells).decode()) for a, i, y, existed, cells in rows),
        )
        # New rows by plain insert (no speculative insertion), the others by upsert (each one conflicts).
        cur.execute(
            f"INSERT INTO {self.years} (agency, indicator, year, cells)"
            " SELECT agency, indicator, year, cells::jsonb FROM rollup_year_rows WHERE NOT existed;"
            f" INSERT INTO {self.years} AS t (agency, indicator, year, cells)"
            " SELECT agency, indicator, year, cells::jsonb FROM rollup_year_rows WHERE existed"
            " ON CONFLICT (agency, indicator, year) DO UPDATE SET cells = EXCLUDED.cells"
        )

    def _move_statistics(self, cur: psycopg.Cursor[TupleRow], moves: Mapping[StatsKey, _Move]) -> None:
        """Move each scope's statistics (a min or max whose holder got worse: a recount of its cells)."""
        worse = [key for key, move in moves.items() if move.worse_low is not None or move.worse_high is not None]
        stale: set[tuple[str, str]] = set()
        if worse:
            rows = cur.execute(
                "SELECT k.s, k.p, k.i, f.min_figure, f.max_figure"
                " FROM unnest(%s::text[], %s::text[], %s::text[]) AS k(s, p, i)"
                f" CROSS JOIN LATERAL (SELECT min_figure, max_figure FROM {self.figures}"
                " WHERE scope = k.s AND period = k.p AND indicator = k.i LIMIT 1) f",
                ([k[0] for k in worse], [k[1] for k in worse], [k[2] for k in worse]),
            )
            for scope, period, indicator, low, high in rows:
                move = moves[(str(scope), str(period), str(indicator))]
                if (move.worse_low is not None and move.worse_low == low) or (
                    move.worse_high is not None and move.worse_high == high
                ):
                    stale.add((str(indicator), str(period)))
        stage_rows(
            cur,
            "rollup_moves",
            MOVES,
            (
                (s, p, i, m.agencies, m.figures, m.total, m.low, m.high)
                for (s, p, i), m in moves.items()
                if (i, p) not in stale
            ),
        )
        cur.execute(
            f"INSERT INTO {self.figures} AS t (scope, period, indicator, agencies, figures, total, min_figure,"
            " max_figure) SELECT scope, period, indicator, agencies, figures, trim_scale(total), min_figure,"
            " max_figure FROM rollup_moves"
            " ON CONFLICT (scope, period, indicator) DO UPDATE SET agencies = t.agencies + EXCLUDED.agencies,"
            " figures = t.figures + EXCLUDED.figures, total = trim_scale(t.total + EXCLUDED.total),"
            " min_figure = least(t.min_figure, EXCLUDED.min_figure),"
            " max_figure = greatest(t.max_figure, EXCLUDED.max_figure)"
        )
        self._recount(cur, sorted(stale))

    def _recount(self, cur: psycopg.Cursor[TupleRow], keys: Sequence[tuple[str, str]]) -> None:
        """Recompute every scope's statistics of these (indicator, period) from the cells."""
        if not keys:
            return
        indicators, periods = [k[0] for k in keys], [k[1] for k in keys]
        cur.execute(
            f"DELETE FROM {self.figures} f USING unnest(%s::text[], %s::text[]) AS k(i, p)"
            " WHERE f.indicator = k.i AND f.period = k.p",
            (indicators, periods),
        )
        cur.execute(
            f"INSERT INTO {self.figures} (scope, period, indicator, agencies, figures, total, min_figure, max_figure)"
            " SELECT s.scope, k.p, k.i, count(*), count(c.figure), coalesce(trim_scale(sum(c.figure)), 0),"
            " min(c.figure) FILTER (WHERE d.aggregation_agencies = 'min'),"
            " max(c.figure) FILTER (WHERE d.aggregation_agencies = 'max')"
            " FROM unnest(%s::text[], %s::text[], %s::text[]) AS k(i, p, y)"
            f" CROSS JOIN LATERAL (SELECT agency, (cells -> k.p ->> 1)::numeric AS figure FROM {self.years}"
            " WHERE indicator = k.i AND year = k.y AND cells ? k.p) c"
            f" JOIN {self.agencies} a ON a.agency = c.agency"
            f" LEFT JOIN {self.indicators} d ON d.indicator = k.i"
            " CROSS JOIN LATERAL (VALUES (%s), ('kind:' || a.kind), ('region:' || a.region)) AS s(scope)"
            " WHERE s.scope IS NOT NULL"
            " GROUP BY s.scope, k.p, k.i",
            (indicators, periods, [year_of(p) for p in periods], NATIONAL),
        )
