"""The roll-ups' projection: per indicator, across agencies and across periods, kept up to date event by event.

Two tables (the arithmetic is specified, in Python, by `domain.rollups`):

- `rm_rollup_cells`: each agency's figure per indicator and period, for its
  months as reported and for the quarters, half-years and years they make up
  (combined over time by the indicator's `aggregation_time`);
- `rm_rollups`: per scope (`national`, `region:<region>`, `kind:<agency kind>`),
  period and indicator, running statistics of the agencies' figures (how many
  agencies, how many numeric figures, their sum; min and max for indicators
  aggregated by min or max). The figure a
  reader sees is chosen from them by `aggregation_agencies`, so a national
  12-month series is 12 primary-key reads.

Per batch, set-based in PostgreSQL (a handful of statements, whatever the
batch size): the latest value of each agency, indicator and month is written
to its month cell; each quarter, half-year and year cell it belongs to is
recomputed from the agency's month cells of that period; the old and new
figure of every changed cell move each scope's statistics by the difference
(subtract the old figure, add the new one: `agencies`, `figures` and `total`
are additive, min and max too unless their holder got worse, in which case
that period and indicator is recounted from the cells).

Order independence. Values, agencies and the catalogue travel on different
partitions, so a value may be applied before the definition of its indicator
or the registration of its agency (in a rebuild from Kafka, say). The tables
are kept equal, after every batch, to one function of (the latest value of
each agency, indicator and month; the agencies and indicator definitions seen
so far): a value of an unknown indicator is kept without a figure, an agency
not yet registered contributes to no scope, and when the definition or the
registration arrives, the cells and statistics it affects are recomputed. So
a rebuild, whatever the interleaving, ends equal to the live tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import orjson
import psycopg
from psycopg.rows import TupleRow

from domain.rollups import JsonValue, months_of, periods_of_month
from domain.scope import Scope
from domain.values import Aggregation, ValueType
from infra.integration_events import VALUE_EVENTS, AgencyRegistered, EventType, IndicatorDefined, IntegrationEvent

NATIONAL = str(Scope.NATIONAL)  # the SQL below writes the other scopes' text as `kind:<kind>`, `region:<region>`
NUMERIC_TYPES = tuple(str(t) for t in ValueType if t.is_numeric)

Definition = tuple[ValueType, Aggregation, Aggregation]  # value type, over time, over agencies
CellKey = tuple[str, str, str]  # agency, indicator, period

# A reported value as a number (numeric indicators only), in one normal form (trim_scale).
NUMBER = (
    "CASE WHEN {d}.value_type = ANY(%(numeric)s) AND jsonb_typeof({v}) IN ('number', 'string')"
    " THEN trim_scale(({v} #>> '{{}}')::numeric) END"
)
# A longer period's figure from its running state, by aggregation_time (domain.rollups.time_cell).
FIGURE = (
    "CASE WHEN value_type = ANY(%(numeric)s) AND numbers > 0 THEN CASE aggregation_time"
    " WHEN 'sum' THEN total WHEN 'average' THEN trim_scale(round(total / numbers, 6))"
    " WHEN 'last' THEN last_number WHEN 'min' THEN least WHEN 'max' THEN greatest END END"
)
# The JSON of a numeric figure: integers as numbers, others as plain decimal strings (like the events).
FIGURE_JSON = "CASE WHEN {f} IS NULL THEN NULL WHEN scale({f}) = 0 THEN to_jsonb({f}) ELSE to_jsonb({f}::text) END"
# The JSON of a longer period's figure, or for a non-numeric indicator kept by `last` its last value.
VALUE = (
    f"CASE WHEN value_type = ANY(%(numeric)s) THEN {FIGURE_JSON.format(f=f'({FIGURE})')}"
    " WHEN aggregation_time = 'last' THEN last_value END"
)
STATE = ("months", "numbers", "total", "least", "greatest", "last_month", "last_number", "last_value")


class RollupsProjection:
    name = "rollups"

    def __init__(self, suffix: str = "") -> None:
        self.agencies = "rm_rollup_agencies" + suffix
        self.indicators = "rm_rollup_indicators" + suffix
        self.cells = "rm_rollup_cells" + suffix
        self.figures = "rm_rollups" + suffix
        self.tables: tuple[str, ...] = (self.agencies, self.indicators, self.cells, self.figures)

    def apply(self, cur: psycopg.Cursor[TupleRow], events: Sequence[IntegrationEvent]) -> None:
        registered: dict[str, tuple[str, str | None]] = {}
        defined: dict[str, Definition] = {}
        values: dict[CellKey, JsonValue] = {}
        for event in events:
            if event.event_type in VALUE_EVENTS:
                if event.agency and event.period and event.indicator:
                    # In position order: the last value of a month wins.
                    values[(event.agency, event.indicator, event.period)] = event.value
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
        keys = cur.execute(
            f"SELECT DISTINCT indicator, period FROM {self.cells} WHERE agency = ANY(%s)", (new,)
        ).fetchall()
        self._recount(cur, [(str(i), str(p)) for i, p in keys])

    def _define_indicators(self, cur: psycopg.Cursor[TupleRow], defined: Mapping[str, Definition]) -> None:
        rows = cur.execute(
            f"SELECT indicator, value_type, aggregation_time, aggregation_agencies FROM {self.indicators}"
            " WHERE indicator = ANY(%s)",
            (list(defined),),
        ).fetchall()
        stored = {str(code): (ValueType(vt), Aggregation(at), Aggregation(aa)) for code, vt, at, aa in rows}
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
        cells = [code for code in changed if stored.get(code, (None, None))[:2] != defined[code][:2]]
        if not cells:  # only the aggregation across agencies changed: the cells stand, recount
            keys = cur.execute(
                f"SELECT DISTINCT indicator, period FROM {self.cells} WHERE indicator = ANY(%s)", (changed,)
            ).fetchall()
            self._recount(cur, [(str(i), str(p)) for i, p in keys])
            return
        # Values applied before this definition (or under another one): recompute their cells.
        number = NUMBER.format(d="d", v="c.value")
        cur.execute(
            f"UPDATE {self.cells} c SET figure = {number} FROM {self.indicators} d"
            " WHERE d.indicator = c.indicator AND c.indicator = ANY(%(changed)s) AND length(c.period) = 7",
            {"numeric": list(NUMERIC_TYPES), "changed": changed},
        )
        self._temp_tables(cur)
        cur.execute(
            "INSERT INTO rollup_derived (agency, indicator, period, existed, stale, value_type, aggregation_time)"
            f" SELECT c.agency, c.indicator, c.period, true, true, d.value_type, d.aggregation_time"
            f" FROM {self.cells} c JOIN {self.indicators} d ON d.indicator = c.indicator"
            " WHERE c.indicator = ANY(%s) AND length(c.period) <> 7",
            (changed,),
        )
        self._finish_derived(cur)
        keys = cur.execute(
            f"SELECT DISTINCT indicator, period FROM {self.cells} WHERE indicator = ANY(%s)", (changed,)
        ).fetchall()
        self._recount(cur, [(str(i), str(p)) for i, p in keys])

    # ---- values ------------------------------------------------------------------

    def _apply_values(self, cur: psycopg.Cursor[TupleRow], values: Mapping[CellKey, JsonValue]) -> None:
        self._temp_tables(cur)
        keys = list(values)
        derived = [periods_of_month(month)[1:] for _, _, month in keys]
        # Each month changed: whether it existed, its old and new number (straight from the arrays:
        # the month cells are looked up by primary key, a staging table would only be written and read).
        number = NUMBER.format(d="d", v="i.value")
        cur.execute(
            "INSERT INTO rollup_change SELECT i.agency, i.indicator, i.period, i.quarter, i.half_year, i.year,"
            f" c.existed IS NOT NULL, c.figure, {number}, i.value"
            " FROM (SELECT a AS agency, i AS indicator, p AS period, v::jsonb AS value, q AS quarter,"
            " s AS half_year, y AS year FROM unnest(%(a)s::text[], %(i)s::text[], %(p)s::text[], %(v)s::text[],"
            " %(q)s::text[], %(s)s::text[], %(y)s::text[]) AS u(a, i, p, v, q, s, y)) i"
            # LIMIT 1 (a primary-key lookup anyway) keeps it a lookup per month: the planner would
            # otherwise hash the whole cells table for a batch whose size it cannot see.
            f" LEFT JOIN LATERAL (SELECT true AS existed, figure FROM {self.cells}"
            " WHERE agency = i.agency AND indicator = i.indicator AND period = i.period LIMIT 1) c ON true"
            f" LEFT JOIN {self.indicators} d ON d.indicator = i.indicator",
            {
                "numeric": list(NUMERIC_TYPES),
                "a": [k[0] for k in keys],
                "i": [k[1] for k in keys],
                "p": [k[2] for k in keys],
                "v": [orjson.dumps(values[k]).decode() for k in keys],
                "q": [d[0] for d in derived],
                "s": [d[1] for d in derived],
                "y": [d[2] for d in derived],
            },
            binary=True,  # no text quoting of every array element
        )
        # New cells by plain insert (no speculative insertion), the others by upsert (each one conflicts).
        cur.execute(
            f"INSERT INTO {self.cells} (agency, indicator, period, months, figure, value)"
            " SELECT agency, indicator, month, 1, new_number, new_value FROM rollup_change WHERE NOT existed;"
            f" INSERT INTO {self.cells} AS t (agency, indicator, period, months, figure, value)"
            " SELECT agency, indicator, month, 1, new_number, new_value FROM rollup_change WHERE existed"
            " ON CONFLICT (agency, indicator, period) DO UPDATE SET figure = EXCLUDED.figure, value = EXCLUDED.value"
        )
        state = ", ".join(STATE)
        # Quarter, half-year and year cells: their running state moves by the months changed in them;
        # a least or greatest whose month got worse is recomputed from the months (stale).
        cur.execute(
            "WITH changes AS (SELECT c.*, p.period FROM rollup_change c"
            " CROSS JOIN LATERAL (VALUES (c.quarter), (c.half_year), (c.year)) AS p(period)),"
            " grouped AS (SELECT agency, indicator, period, count(*) FILTER (WHERE NOT existed) AS added,"
            " count(new_number) - count(old_number) AS numbers_delta,"
            " coalesce(sum(new_number), 0) - coalesce(sum(old_number), 0) AS total_delta,"
            " min(new_number) AS low, max(new_number) AS high,"
            " min(old_number) FILTER (WHERE new_number IS NULL OR new_number > old_number) AS worse_low,"
            " max(old_number) FILTER (WHERE new_number IS NULL OR new_number < old_number) AS worse_high,"
            " max(month) AS latest, (array_agg(new_number ORDER BY month DESC))[1] AS latest_number,"
            " (array_agg(new_value ORDER BY month DESC))[1] AS latest_value"
            " FROM changes GROUP BY agency, indicator, period)"
            # The figure is given here (stale rows get theirs once recomputed): no second pass over the rows.
            f" INSERT INTO rollup_derived SELECT r.*, {FIGURE}, {VALUE} FROM ("
            " SELECT g.agency, g.indicator, g.period, c.months IS NOT NULL, c.figure,"
            " coalesce(g.worse_low = c.least OR g.worse_high = c.greatest, false), d.value_type, d.aggregation_time,"
            " coalesce(c.months, 0) + g.added, coalesce(c.numbers, 0) + g.numbers_delta,"
            " trim_scale(coalesce(c.total, 0) + g.total_delta), least(c.least, g.low), greatest(c.greatest, g.high),"
            " CASE WHEN c.last_month IS NULL OR g.latest >= c.last_month THEN g.latest ELSE c.last_month END,"
            " CASE WHEN c.last_month IS NULL OR g.latest >= c.last_month THEN g.latest_number ELSE c.last_number END,"
            " CASE WHEN c.last_month IS NULL OR g.latest >= c.last_month THEN g.latest_value ELSE c.last_value END"
            f" FROM grouped g LEFT JOIN LATERAL (SELECT * FROM {self.cells}"
            " WHERE agency = g.agency AND indicator = g.indicator AND period = g.period LIMIT 1) c ON true"
            f" LEFT JOIN {self.indicators} d ON d.indicator = g.indicator)"
            f" AS r(agency, indicator, period, existed, old_figure, stale, value_type, aggregation_time, {state})",
            {"numeric": list(NUMERIC_TYPES)},
        )
        self._finish_derived(cur)
        self._move_statistics(cur)

    def _temp_tables(self, cur: psycopg.Cursor[TupleRow]) -> None:
        """Scratch tables of this transaction (emptied here too: a rebuild's swap applies several batches in one)."""
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS rollup_change (agency text, indicator text, month text, quarter text,"
            " half_year text, year text, existed boolean, old_number numeric, new_number numeric, new_value jsonb)"
            " ON COMMIT DELETE ROWS;"
            " CREATE TEMP TABLE IF NOT EXISTS rollup_derived (agency text, indicator text, period text,"
            " existed boolean, old_figure numeric, stale boolean, value_type text, aggregation_time text,"
            " months integer, numbers integer, total numeric, least numeric, greatest numeric, last_month text,"
            " last_number numeric, last_value jsonb, figure numeric, value jsonb) ON COMMIT DELETE ROWS;"
            " CREATE TEMP TABLE IF NOT EXISTS rollup_spans (period text PRIMARY KEY, first_month text,"
            " last_month text) ON COMMIT DELETE ROWS;"
            " TRUNCATE rollup_change, rollup_derived, rollup_spans"
        )

    def _finish_derived(self, cur: psycopg.Cursor[TupleRow]) -> None:
        """Recompute stale rows of `rollup_derived` from the months (and their figure), write the cells."""
        periods = [str(row[0]) for row in cur.execute("SELECT DISTINCT period FROM rollup_derived WHERE stale")]
        if periods:
            spans = [(p, months_of(p)[0], months_of(p)[-1]) for p in periods]
            cur.execute(
                "INSERT INTO rollup_spans SELECT * FROM unnest(%s::text[], %s::text[], %s::text[])",
                ([s[0] for s in spans], [s[1] for s in spans], [s[2] for s in spans]),
            )
            cur.execute("ANALYZE rollup_derived")
            cur.execute(
                "WITH state AS (SELECT x.agency, x.indicator, x.period, count(*) AS months,"
                " count(m.figure) AS numbers, coalesce(trim_scale(sum(m.figure)), 0) AS total,"
                " min(m.figure) AS least, max(m.figure) AS greatest, max(m.period) AS last_month,"
                " (array_agg(m.figure ORDER BY m.period DESC))[1] AS last_number,"
                " (array_agg(m.value ORDER BY m.period DESC))[1] AS last_value"
                " FROM rollup_derived x JOIN rollup_spans s ON s.period = x.period"
                f" CROSS JOIN LATERAL (SELECT figure, value, period FROM {self.cells} WHERE agency = x.agency"
                " AND indicator = x.indicator AND period BETWEEN s.first_month AND s.last_month) m"
                " WHERE x.stale GROUP BY x.agency, x.indicator, x.period)"
                " UPDATE rollup_derived x SET months = s.months, numbers = s.numbers, total = s.total,"
                " least = s.least, greatest = s.greatest, last_month = s.last_month, last_number = s.last_number,"
                " last_value = s.last_value FROM state s"
                " WHERE x.agency = s.agency AND x.indicator = s.indicator AND x.period = s.period"
            )
            cur.execute(
                f"UPDATE rollup_derived SET figure = {FIGURE}, value = {VALUE} WHERE stale",
                {"numeric": list(NUMERIC_TYPES)},
            )
        state = ", ".join(STATE)
        cur.execute(
            f"INSERT INTO {self.cells} (agency, indicator, period, figure, value, {state})"
            f" SELECT agency, indicator, period, figure, value, {state} FROM rollup_derived WHERE NOT existed;"
            f" INSERT INTO {self.cells} AS t (agency, indicator, period, figure, value, {state})"
            f" SELECT agency, indicator, period, figure, value, {state} FROM rollup_derived WHERE existed"
            " ON CONFLICT (agency, indicator, period) DO UPDATE SET figure = EXCLUDED.figure, value = EXCLUDED.value, "
            + ", ".join(f"{c} = EXCLUDED.{c}" for c in STATE)
        )

    def _move_statistics(self, cur: psycopg.Cursor[TupleRow]) -> None:
        """Move each scope's statistics by the changed cells (old figure out, new figure in)."""
        scoped = (
            # Every changed cell: the months, then the quarters, half-years and years.
            "FROM (SELECT agency, indicator, month AS period, existed, old_number AS old_figure,"
            " new_number AS new_figure FROM rollup_change UNION ALL"
            " SELECT agency, indicator, period, existed, old_figure, figure FROM rollup_derived) d"
            f" JOIN {self.agencies} a ON a.agency = d.agency"
            f" LEFT JOIN {self.indicators} i ON i.indicator = d.indicator"
            " CROSS JOIN LATERAL (VALUES (%(national)s), ('kind:' || a.kind), ('region:' || a.region)) AS s(scope)"
            " WHERE s.scope IS NOT NULL AND (NOT d.existed OR d.old_figure IS DISTINCT FROM d.new_figure)"
        )
        # A min or max whose holder got worse: only a recount knows the new one. (Min and max
        # are kept only where they are the figure: indicators aggregated by min or max.)
        stale = cur.execute(
            f"SELECT DISTINCT d.indicator, d.period {scoped} AND i.aggregation_agencies IN ('min', 'max')"
            f" AND EXISTS (SELECT 1 FROM {self.figures} r"
            " WHERE r.scope = s.scope AND r.period = d.period AND r.indicator = d.indicator"
            " AND ((d.old_figure = r.min_figure AND (d.new_figure IS NULL OR d.new_figure > d.old_figure))"
            " OR (d.old_figure = r.max_figure AND (d.new_figure IS NULL OR d.new_figure < d.old_figure))))",
            {"national": NATIONAL},
        ).fetchall()
        stale_keys = [(str(i), str(p)) for i, p in stale]
        cur.execute(
            f"INSERT INTO {self.figures} AS t (scope, period, indicator, agencies, figures, total, min_figure,"
            " max_figure) SELECT s.scope, d.period, d.indicator, count(*) FILTER (WHERE NOT d.existed),"
            " count(d.new_figure) - count(d.old_figure),"
            " trim_scale(coalesce(sum(d.new_figure), 0) - coalesce(sum(d.old_figure), 0)),"
            " min(d.new_figure) FILTER (WHERE i.aggregation_agencies IN ('min', 'max')),"
            f" max(d.new_figure) FILTER (WHERE i.aggregation_agencies IN ('min', 'max')) {scoped}"
            " AND (d.indicator, d.period) NOT IN (SELECT * FROM unnest(%(si)s::text[], %(sp)s::text[]))"
            " GROUP BY s.scope, d.period, d.indicator"
            " ON CONFLICT (scope, period, indicator) DO UPDATE SET agencies = t.agencies + EXCLUDED.agencies,"
            " figures = t.figures + EXCLUDED.figures, total = trim_scale(t.total + EXCLUDED.total),"
            " min_figure = least(t.min_figure, EXCLUDED.min_figure),"
            " max_figure = greatest(t.max_figure, EXCLUDED.max_figure)",
            {"national": NATIONAL, "si": [k[0] for k in stale_keys], "sp": [k[1] for k in stale_keys]},
        )
        self._recount(cur, stale_keys)

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
            " SELECT s.scope, c.period, c.indicator, count(*), count(c.figure),"
            " coalesce(trim_scale(sum(c.figure)), 0),"
            " min(c.figure) FILTER (WHERE i.aggregation_agencies IN ('min', 'max')),"
            " max(c.figure) FILTER (WHERE i.aggregation_agencies IN ('min', 'max'))"
            " FROM unnest(%s::text[], %s::text[]) AS k(i, p)"
            f" CROSS JOIN LATERAL (SELECT agency, period, indicator, figure FROM {self.cells}"
            " WHERE indicator = k.i AND period = k.p) c"
            f" JOIN {self.agencies} a ON a.agency = c.agency"
            f" LEFT JOIN {self.indicators} i ON i.indicator = c.indicator"
            " CROSS JOIN LATERAL (VALUES (%s), ('kind:' || a.kind), ('region:' || a.region)) AS s(scope)"
            " WHERE s.scope IS NOT NULL"
            " GROUP BY s.scope, c.period, c.indicator",
            (indicators, periods, NATIONAL),
        )
