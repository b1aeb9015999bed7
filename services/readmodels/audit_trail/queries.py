"""Reading the audit trail (`rm_audit_trail`): filtered pages, and the log prefixes time travel folds."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import psycopg
from psycopg.rows import TupleRow

from infra.integration_events import IntegrationEvent
from services.readmodels import Pool
from services.readmodels.errors import NotYetVisible
from services.readmodels.freshness import Freshness, projections_position, wait_for_position, wait_until_visible

PROJECTIONS = ("audit_trail",)
EXPORT_PAGE = 5000
# An event's time is taken before its commit; commits wait at most the lock timeout (5 s) plus the
# request's own work. Events more than this apart in time are in the same order in the log.
COMMIT_SKEW = "30 seconds"


@dataclass(frozen=True)
class TrailFilter:
    """Which events: each member given narrows the trail (`event_types`: any of them)."""

    agency: str | None = None
    period: str | None = None
    indicator: str | None = None
    actor: str | None = None
    event_types: tuple[str, ...] = ()
    since: datetime | None = None  # occurred at or after
    until: datetime | None = None  # occurred before

    def where(self, after: int) -> tuple[str, list[Any]]:
        return self.bounded("position > %s", after)

    def bounded(self, position_clause: str, position: int) -> tuple[str, list[Any]]:
        """The WHERE clause of these filters and one condition on position (`position_clause`, one %s)."""
        clauses = [position_clause]
        params: list[Any] = [position]
        for column in ("agency", "period", "indicator", "actor"):
            value = getattr(self, column)
            if value is not None:
                clauses.append(f"{column} = %s")
                params.append(value)
        if self.event_types:
            clauses.append("event_type = ANY(%s)")
            params.append(list(self.event_types))
        if self.since is not None:
            clauses.append("occurred_at >= %s")
            params.append(self.since)
        if self.until is not None:
            clauses.append("occurred_at < %s")
            params.append(self.until)
        return " AND ".join(clauses), params


@dataclass(frozen=True)
class TrailEvent:
    """One row of the trail: the event's position, agency and canonical bytes."""

    position: int
    agency: str | None
    canonical: bytes

    def to_json(self) -> dict[str, Any]:
        """The event as published (its canonical bytes, parsed)."""
        event: dict[str, Any] = orjson.loads(self.canonical)
        return event


@dataclass(frozen=True)
class TrailWindow:
    """A page of the trail in position order, and whether matching events lie before or after it."""

    events: list[TrailEvent]
    earlier: bool
    later: bool


@dataclass(frozen=True)
class AsOf:
    """A past moment of the log: a global position or an instant (exactly one), waited for up to `wait_ms`."""

    position: int | None = None
    at: datetime | None = None
    wait_ms: int = 0


class AuditTrailQueries:
    def __init__(self, pool: Pool, topic: str) -> None:
        self.pool = pool
        self.topic = topic
        self._watermark = projections_position(topic, PROJECTIONS)

    def visible(self, wanted: Freshness) -> int:
        """A position up to which the trail holds every event of the log, once it reaches `wanted`."""
        return wait_for_position(self.pool, self._watermark, wanted)

    def page(self, filters: TrailFilter, after: int, limit: int) -> list[TrailEvent]:
        """The events after position `after` that match, in position order, at most `limit`."""
        where, params = filters.where(after)
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT position, agency, canonical FROM rm_audit_trail WHERE {where} ORDER BY position LIMIT %s",
                [*params, limit],
            ).fetchall()
        return [TrailEvent(int(p), a, bytes(c)) for p, a, c in rows]

    def window(self, filters: TrailFilter, limit: int, *, after: int = 0, before: int | None = None) -> TrailWindow:
        """The first `limit` matching events after position `after`, or, with `before`, the last
        `limit` before it (keyset paging both ways), in position order."""
        backwards = before is not None
        clause, bound = ("position < %s", before) if before is not None else ("position > %s", after)
        where, params = filters.bounded(clause, bound)
        order = "DESC" if backwards else "ASC"
        beyond, edge = ("position >= %s", before) if before is not None else ("position <= %s", after)
        other_where, other_params = filters.bounded(beyond, edge)
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT position, agency, canonical FROM rm_audit_trail WHERE {where}"
                f" ORDER BY position {order} LIMIT %s",
                [*params, limit + 1],
            ).fetchall()
            found = conn.execute(
                f"SELECT EXISTS (SELECT 1 FROM rm_audit_trail WHERE {other_where})", other_params
            ).fetchone()
        more = len(rows) > limit
        events = [TrailEvent(int(p), a, bytes(c)) for p, a, c in rows[:limit]]
        other_side = bool(found and found[0])
        if backwards:
            return TrailWindow(events[::-1], earlier=more, later=other_side)
        return TrailWindow(events, earlier=other_side, later=more)

    def matching(self, filters: TrailFilter) -> Iterator[TrailEvent]:
        """Every event that matches, in position order (read a page at a time)."""
        after = 0
        while page := self.page(filters, after, EXPORT_PAGE):
            yield from page
            after = page[-1].position

    def event(self, position: int) -> TrailEvent | None:
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT position, agency, canonical FROM rm_audit_trail WHERE position = %s", (position,)
            ).fetchone()
        return None if row is None else TrailEvent(int(row[0]), row[1], bytes(row[2]))

    # ---- time travel: prefixes of the log ----------------------------------------

    def log_prefix(self, when: AsOf) -> int:
        """The last position of the log prefix `when` names, once the trail holds all of it.

        Waits up to `when.wait_ms` for the trail to apply the log that far; NotYetVisible otherwise.
        """
        deadline = time.monotonic() + when.wait_ms / 1000
        watermark = target = 0
        with self.pool.connection() as conn:

            def reached() -> int | None:
                nonlocal watermark, target
                watermark = self._watermark(conn)
                target = when.position if when.position is not None else _instant_position(conn, when.at, watermark)
                return target if target <= watermark else None

            def refusal() -> NotYetVisible:
                detail = f"the audit trail holds the log up to position {watermark}, not {target} yet; retry"
                return NotYetVisible(detail, watermark)

            return wait_until_visible(deadline, reached, refusal)

    def events(
        self,
        target: int,
        types: Iterable[str],
        *,
        agency: str | None = None,
        period: str | None = None,
        indicators: Sequence[str] | None = None,
        periods: Sequence[str] | None = None,
    ) -> list[IntegrationEvent]:
        """The trail's events of `types` up to position `target` (of one agency and period, or of some
        indicators and periods, when given), in position order."""
        clauses = ["event_type = ANY(%s)", "position <= %s"]
        params: list[Any] = [sorted(types), target]
        for column, value in (("agency", agency), ("period", period)):
            if value is not None:
                clauses.append(f"{column} = %s")
                params.append(value)
        for column, values in (("indicator", indicators), ("period", periods)):
            if values is not None:
                clauses.append(f"{column} = ANY(%s)")
                params.append(list(values))
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT canonical FROM rm_audit_trail WHERE {' AND '.join(clauses)} ORDER BY position", params
            ).fetchall()
        return [IntegrationEvent.from_bytes(bytes(r[0])) for r in rows]

    def agency_position(self, agency: str, target: int) -> int:
        """The position of the agency's last event up to `target` (0 if none)."""
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT coalesce(max(position), 0) FROM rm_audit_trail WHERE agency = %s AND position <= %s",
                (agency, target),
            ).fetchone()
        return int(row[0]) if row else 0


def _instant_position(conn: psycopg.Connection[TupleRow], at: datetime | None, watermark: int) -> int:
    """The last position before the first event that occurred after `at` (the watermark if none did yet)."""
    row = conn.execute(
        "SELECT min(position) FROM rm_audit_trail WHERE occurred_at > %(at)s AND occurred_at <="
        f" (SELECT min(occurred_at) FROM rm_audit_trail WHERE occurred_at > %(at)s) + interval '{COMMIT_SKEW}'",
        {"at": at},
    ).fetchone()
    first_after = row[0] if row else None
    return watermark if first_after is None else int(first_after) - 1
