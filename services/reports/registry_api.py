"""Read API for the agency registry and the templates (from the reference read models, never the event store).

- `GET /agencies?on=`: the registry on a date: each agency with the name in force
  that day, whether it was in force, its successor (a merge), the agencies merged
  into it, and the agency reporting for it that day (its successor after a merge,
  followed through successive merges).
- `GET /agencies/{agency}?on=`: one agency, the same way, with every name it had.
- `GET /templates`, `GET /templates/{code}?period=`: templates, their versions
  and the version in force for a period (the indicators and rules of a form are
  `GET /templates/{code}/form` on the write API, straight from the aggregates).

Every answer carries the `position` it reflects and accepts `min_position`
(e.g. the `position` an admin change answered) to read its own writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import psycopg
from fastapi import APIRouter, Depends, Path, Query, Request
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool

from domain.agencies import AgencyName, name_in_force, predecessors, reporting_unit_on
from domain.identity import Principal, Role
from domain.periods import InvalidPeriod, Period, PeriodKind
from domain.templates import TemplateVersion, version_in_force
from infra.settings import Settings
from services.http.auth import require_roles
from services.http.limits import PageLimit
from services.http.problems import Problem
from services.reports.freshness import FreshnessQuery, projections_position, wait_for_position

Pool = ConnectionPool[psycopg.Connection[TupleRow]]
Reader = Annotated[Principal, Depends(require_roles(*Role))]
MAX_MERGE_HOPS = 10
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
OnDate = Annotated[
    date | None, Query(description="the date the names, the `active` flag and `reporting_unit` refer to; today")
]
_COLUMNS = "agency, names, kind, region, parent, template, effective_from, effective_to, successor"


def _text_params(**values: str | None) -> None:
    """PostgreSQL text cannot hold NUL: such a parameter is a 422 (as in the audit API), never a database error."""
    for name, value in values.items():
        if value is not None and "\x00" in value:
            raise Problem(422, "invalid-parameter", "Invalid parameter", f"{name} contains a NUL character")


def vietnam_today() -> date:
    return datetime.now(VIETNAM).date()


@dataclass(frozen=True)
class Entry:
    """One row of the registry read model."""

    code: str
    names: tuple[AgencyName, ...]
    kind: str
    region: str | None
    parent: str | None
    template: str | None
    effective_from: date
    effective_to: date | None
    successor: str | None

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> Entry:
        names = tuple(
            AgencyName(date.fromisoformat(n["effective_from"]), str(n["name_vi"]), str(n["name_en"])) for n in row[1]
        )
        return cls(row[0], names, row[2], row[3], row[4], row[5], row[6], row[7], row[8])

    def active_on(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)


def _describe(entry: Entry, on: date, merged_in: list[str], reporting: Entry | None) -> dict[str, Any]:
    name = name_in_force(entry.names, on)
    return {
        "code": entry.code,
        "name_vi": name.name_vi,
        "name_en": name.name_en,
        "kind": entry.kind,
        "region": entry.region,
        "parent": entry.parent,
        "template": entry.template,
        "effective_from": entry.effective_from.isoformat(),
        "effective_to": None if entry.effective_to is None else entry.effective_to.isoformat(),
        "active": entry.active_on(on),
        "successor": entry.successor,
        "predecessors": merged_in,
        "reporting_unit": None if reporting is None else reporting.code,
        "names": [
            {"effective_from": n.effective_from.isoformat(), "name_vi": n.name_vi, "name_en": n.name_en}
            for n in entry.names
        ],
    }


def _with_successors(conn: psycopg.Connection[TupleRow], entries: list[Entry]) -> dict[str, Entry]:
    """The entries and, transitively, every agency they merged into (chains are short)."""
    registry = {entry.code: entry for entry in entries}
    wanted = {e.successor for e in entries if e.successor is not None} - set(registry)
    for _ in range(MAX_MERGE_HOPS):
        if not wanted:
            break
        rows = conn.execute(f"SELECT {_COLUMNS} FROM rm_ref_agencies WHERE agency = ANY(%s)", (list(wanted),))
        found = [Entry.from_row(row) for row in rows]
        registry.update((entry.code, entry) for entry in found)
        wanted = {e.successor for e in found if e.successor is not None} - set(registry)
    return registry


def _merged_into(conn: psycopg.Connection[TupleRow], codes: list[str]) -> dict[str, list[str]]:
    rows = conn.execute(f"SELECT {_COLUMNS} FROM rm_ref_agencies WHERE successor = ANY(%s)", (codes,)).fetchall()
    merged = [Entry.from_row(row) for row in rows]
    return {code: predecessors(merged, code) for code in codes}


def _versions(rows: list[tuple[Any, ...]]) -> list[TemplateVersion]:
    return [TemplateVersion(int(r[0]), str(r[1]), tuple(r[2])) for r in rows]


def _version_json(version: TemplateVersion | None) -> dict[str, Any] | None:
    if version is None:
        return None
    return {
        "version": version.version,
        "effective_from": version.effective_from,
        "indicators": list(version.indicators),
    }


def registry_router(settings: Settings) -> APIRouter:
    router = APIRouter(tags=["registry"])
    topic = settings.kafka_topic

    def visible(request: Request, wanted: FreshnessQuery) -> tuple[Pool, int]:
        pool: Pool = request.app.state.pool
        return pool, wait_for_position(pool, projections_position(topic, ("reference",)), wanted)

    @router.get("/agencies")
    def agencies(
        request: Request,
        principal: Reader,
        wanted: FreshnessQuery,
        limit: PageLimit,
        on: OnDate = None,
        kind: Annotated[str | None, Query(max_length=50)] = None,
        region: Annotated[str | None, Query(max_length=100)] = None,
        active: Annotated[bool, Query(description="only the agencies in force on `on`")] = False,
        after: Annotated[str, Query(max_length=100, description="keyset: the last code of the previous page")] = "",
    ) -> dict[str, Any]:
        """The agency registry on a date (agency codes and names are public), in code order."""
        _text_params(kind=kind, region=region, after=after)
        day = on or vietnam_today()
        pool, position = visible(request, wanted)
        conditions = ["agency > %(after)s"]
        if kind is not None:
            conditions.append("kind = %(kind)s")
        if region is not None:
            conditions.append("region = %(region)s")
        if active:
            conditions.append("effective_from <= %(day)s AND (effective_to IS NULL OR effective_to >= %(day)s)")
        with pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM rm_ref_agencies WHERE {' AND '.join(conditions)}"
                " ORDER BY agency LIMIT %(limit)s",
                {"after": after, "kind": kind, "region": region, "day": day, "limit": limit},
            ).fetchall()
            page = [Entry.from_row(row) for row in rows]
            registry = _with_successors(conn, page)
            merged = _merged_into(conn, [entry.code for entry in page])
        return {
            "on": day.isoformat(),
            "position": position,
            "agencies": [
                _describe(entry, day, merged[entry.code], reporting_unit_on(registry, entry.code, day))
                for entry in page
            ],
            "next_after": page[-1].code if len(page) == limit else None,
        }

    @router.get("/agencies/{agency}")
    def agency(
        request: Request,
        principal: Reader,
        wanted: FreshnessQuery,
        agency: Annotated[str, Path(min_length=1, max_length=100)],
        on: OnDate = None,
    ) -> dict[str, Any]:
        """One agency on a date: its name then, its successor and predecessors, who reports for it then."""
        _text_params(agency=agency)
        day = on or vietnam_today()
        pool, position = visible(request, wanted)
        with pool.connection() as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM rm_ref_agencies WHERE agency = %s", (agency,)).fetchone()
            if row is None:
                raise Problem(404, "not-found", "Not found", f"no agency {agency}")
            entry = Entry.from_row(row)
            registry = _with_successors(conn, [entry])
            merged = _merged_into(conn, [entry.code])
        body = _describe(entry, day, merged[entry.code], reporting_unit_on(registry, entry.code, day))
        return {"on": day.isoformat(), "position": position, **body}

    def template_body(
        conn: psycopg.Connection[TupleRow], row: tuple[Any, ...], period: Period | None
    ) -> dict[str, Any]:
        versions = _versions(
            conn.execute(
                "SELECT version, effective_from, indicators FROM rm_ref_template_versions"
                " WHERE template = %s ORDER BY version",
                (row[0],),
            ).fetchall()
        )
        body: dict[str, Any] = {
            "code": row[0],
            "name_vi": row[1],
            "name_en": row[2],
            "applies_to": row[3],
            "base": row[4],
            "versions": [_version_json(v) for v in versions],
        }
        if period is not None:
            body["period"] = period.code
            body["in_force"] = _version_json(version_in_force(versions, period))
        return body

    @router.get("/templates")
    def templates(request: Request, principal: Reader, wanted: FreshnessQuery) -> dict[str, Any]:
        """Every template with its versions (a handful: not paged)."""
        pool, position = visible(request, wanted)
        with pool.connection() as conn:
            rows = conn.execute(
                "SELECT template, name_vi, name_en, applies_to, base FROM rm_ref_templates ORDER BY template"
            ).fetchall()
            return {"position": position, "templates": [template_body(conn, row, None) for row in rows]}

    @router.get("/templates/{code}")
    def template(
        request: Request,
        principal: Reader,
        wanted: FreshnessQuery,
        code: Annotated[str, Path(min_length=1, max_length=100)],
        period: Annotated[str | None, Query(max_length=10, description="answer the version in force for it")] = None,
    ) -> dict[str, Any]:
        """One template, its versions, and with `period` the version in force for that period (and its base's)."""
        _text_params(code=code)
        parsed = None
        if period is not None:
            try:
                parsed = Period.parse(period)
            except InvalidPeriod as error:
                raise Problem(422, "invalid-period", "Invalid period", str(error)) from None
            if parsed.kind is not PeriodKind.MONTH:
                parsed = parsed.months()[0]
        pool, position = visible(request, wanted)
        with pool.connection() as conn:
            query = "SELECT template, name_vi, name_en, applies_to, base FROM rm_ref_templates WHERE template = %s"
            row = conn.execute(query, (code,)).fetchone()
            if row is None:
                raise Problem(404, "not-found", "Not found", f"no template {code}")
            body = template_body(conn, row, parsed)
            if parsed is not None and row[4] is not None:
                base = conn.execute(query, (row[4],)).fetchone()
                if base is not None:
                    body["base_in_force"] = template_body(conn, base, parsed)["in_force"]
        return {"position": position, **body}

    return router
