"""Reading the reference read models (`rm_ref_*`, `rm_report_definitions`).

The whole reference data is one in-memory snapshot per process (`snapshot`), reloaded only
when its version (the count of reference events applied) changes, so a roll-up query does not
re-read the registry. The registry and the templates are read as rows.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import date
from typing import Any

import psycopg
from psycopg.rows import TupleRow

from domain.agencies import AgencyName, predecessors, reporting_unit_on
from domain.errors import NotFound
from domain.periods import Period, PeriodKind
from domain.templates import TemplateVersion
from domain.values import Aggregation, ValueType
from services.readmodels import Pool
from services.readmodels.freshness import Freshness, projections_position, wait_for_position
from services.readmodels.reference.rows import AgencyOnDate, RegistryEntry, TemplateEntry
from services.readmodels.reference.snapshot import AgencyInfo, DefinitionInfo, IndicatorInfo, Reference, TemplateInfo

PROJECTIONS = ("reference",)
MAX_MERGE_HOPS = 10
_AGENCY_COLUMNS = (
    "agency, names, kind, region, parent, template, effective_from, effective_to, successor, electronic_code"
)
_TEMPLATE_COLUMNS = "template, name_vi, name_en, applies_to, base"


class ReferenceQueries:
    def __init__(self, pool: Pool, topic: str) -> None:
        self.pool = pool
        self.topic = topic
        self._position = projections_position(topic, PROJECTIONS)
        self._lock = threading.Lock()
        self._snapshot: Reference | None = None

    def visible(self, wanted: Freshness) -> int:
        return wait_for_position(self.pool, self._position, wanted)

    # ---- the snapshot --------------------------------------------------------------

    def snapshot(self) -> Reference:
        """The reference data as the read models hold it now."""
        with self.pool.connection() as conn:
            row = conn.execute("SELECT events FROM rm_ref_version WHERE id = 1").fetchone()
            version = 0 if row is None else int(row[0])
            snapshot = self._snapshot
            if snapshot is not None and snapshot.version == version:
                return snapshot
            with self._lock:
                snapshot = self._snapshot
                if snapshot is None or snapshot.version != version:
                    snapshot = _load(conn, version)
                    self._snapshot = snapshot
        return snapshot

    # ---- the registry --------------------------------------------------------------

    def registry(
        self, on: date, *, kind: str | None, region: str | None, active: bool, after: str, limit: int
    ) -> list[AgencyOnDate]:
        """A page of the registry on `on`, in code order after `after` (`active`: in force that day only)."""
        conditions = ["agency > %(after)s"]
        if kind is not None:
            conditions.append("kind = %(kind)s")
        if region is not None:
            conditions.append("region = %(region)s")
        if active:
            conditions.append("effective_from <= %(day)s AND (effective_to IS NULL OR effective_to >= %(day)s)")
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {_AGENCY_COLUMNS} FROM rm_ref_agencies WHERE {' AND '.join(conditions)}"
                " ORDER BY agency LIMIT %(limit)s",
                {"after": after, "kind": kind, "region": region, "day": on, "limit": limit},
            ).fetchall()
            return _on_date(conn, [_entry(row) for row in rows], on)

    def agency(self, code: str, on: date) -> AgencyOnDate:
        with self.pool.connection() as conn:
            row = conn.execute(f"SELECT {_AGENCY_COLUMNS} FROM rm_ref_agencies WHERE agency = %s", (code,)).fetchone()
            if row is None:
                raise NotFound(f"no agency {code}")
            return _on_date(conn, [_entry(row)], on)[0]

    def electronic_codes(self) -> dict[str, str]:
        """Agency code -> electronic identifier code, for every agency that has one (the national feed's ids)."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT agency, electronic_code FROM rm_ref_agencies WHERE electronic_code IS NOT NULL"
            ).fetchall()
        return {str(agency): str(code) for agency, code in rows}

    # ---- templates -----------------------------------------------------------------

    def templates(self) -> list[TemplateEntry]:
        """Every template with its versions (a handful), in code order."""
        with self.pool.connection() as conn:
            rows = conn.execute(f"SELECT {_TEMPLATE_COLUMNS} FROM rm_ref_templates ORDER BY template").fetchall()
            return [_template(conn, row) for row in rows]

    def template(self, code: str) -> TemplateEntry:
        found = self.find_template(code)
        if found is None:
            raise NotFound(f"no template {code}")
        return found

    def find_template(self, code: str) -> TemplateEntry | None:
        with self.pool.connection() as conn:
            row = conn.execute(f"SELECT {_TEMPLATE_COLUMNS} FROM rm_ref_templates WHERE template = %s", (code,))
            found = row.fetchone()
            return None if found is None else _template(conn, found)


def _entry(row: tuple[Any, ...]) -> RegistryEntry:
    names = tuple(
        AgencyName(date.fromisoformat(n["effective_from"]), str(n["name_vi"]), str(n["name_en"])) for n in row[1]
    )
    return RegistryEntry(row[0], names, row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9])


def _on_date(conn: psycopg.Connection[TupleRow], entries: Sequence[RegistryEntry], on: date) -> list[AgencyOnDate]:
    """The entries with their predecessors and, on `on`, the agency reporting for each."""
    registry = _with_successors(conn, entries)
    codes = [entry.code for entry in entries]
    rows = conn.execute(f"SELECT {_AGENCY_COLUMNS} FROM rm_ref_agencies WHERE successor = ANY(%s)", (codes,))
    merged = [_entry(row) for row in rows.fetchall()]
    result = []
    for entry in entries:
        reporting = reporting_unit_on(registry, entry.code, on)
        unit = None if reporting is None else reporting.code
        result.append(AgencyOnDate(entry, on, predecessors(merged, entry.code), unit))
    return result


def _with_successors(conn: psycopg.Connection[TupleRow], entries: Sequence[RegistryEntry]) -> dict[str, RegistryEntry]:
    """The entries and, transitively, every agency they merged into (chains are short)."""
    registry = {entry.code: entry for entry in entries}
    wanted = {e.successor for e in entries if e.successor is not None} - set(registry)
    for _ in range(MAX_MERGE_HOPS):
        if not wanted:
            break
        rows = conn.execute(f"SELECT {_AGENCY_COLUMNS} FROM rm_ref_agencies WHERE agency = ANY(%s)", (list(wanted),))
        found = [_entry(row) for row in rows]
        registry.update((entry.code, entry) for entry in found)
        wanted = {e.successor for e in found if e.successor is not None} - set(registry)
    return registry


def _template(conn: psycopg.Connection[TupleRow], row: tuple[Any, ...]) -> TemplateEntry:
    versions = conn.execute(
        "SELECT version, effective_from, indicators FROM rm_ref_template_versions WHERE template = %s ORDER BY version",
        (row[0],),
    ).fetchall()
    return TemplateEntry(
        row[0], row[1], row[2], row[3], row[4], tuple(TemplateVersion(int(v), str(f), tuple(i)) for v, f, i in versions)
    )


def _load(conn: psycopg.Connection[TupleRow], version: int) -> Reference:
    agencies = {}
    for row in conn.execute(
        "SELECT agency, name_vi, name_en, names, kind, region, template, effective_from, effective_to, successor"
        " FROM rm_ref_agencies"
    ):
        names = tuple((date.fromisoformat(n["effective_from"]), str(n["name_vi"]), str(n["name_en"])) for n in row[3])
        agencies[row[0]] = AgencyInfo(row[0], row[1], row[2], names, row[4], row[5], row[6], row[7], row[8], row[9])
    indicators = {
        row[0]: IndicatorInfo(
            row[0], row[1], row[2], row[3], row[4], ValueType(row[5]), Aggregation(row[6]), Aggregation(row[7])
        )
        for row in conn.execute(
            "SELECT indicator, name_vi, name_en, unit, indicator_group, value_type, aggregation_time,"
            " aggregation_agencies FROM rm_ref_indicators"
        )
    }
    versions: dict[str, list[tuple[Period, frozenset[str]]]] = {}
    for template, effective_from, codes in conn.execute(
        "SELECT template, effective_from, indicators FROM rm_ref_template_versions ORDER BY template, version"
    ):
        versions.setdefault(template, []).append((Period.parse(effective_from), frozenset(codes)))
    templates = {
        code: TemplateInfo(code, base, tuple(versions.get(code, ())))
        for code, base in conn.execute("SELECT template, base FROM rm_ref_templates")
    }
    definitions = {
        row[0]: DefinitionInfo(
            row[0], row[1], row[2], PeriodKind(row[3]), row[4], tuple(row[5]), row[6], row[7], row[8], row[9]
        )
        for row in conn.execute(
            "SELECT code, name_vi, name_en, period_kind, scope, indicators, revision, actor, defined_at, position"
            " FROM rm_report_definitions"
        )
    }
    return Reference(version, agencies, indicators, templates, definitions)
