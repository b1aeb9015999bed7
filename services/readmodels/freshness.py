"""Freshness of the read side: the position a read model reflects, and read-your-writes waits.

Every read answers the `position` its read models reflect and accepts `min_position` (a
`position` from the write API) with a wait: it waits until that write is visible, or refuses
with `NotYetVisible`. What "the position" is depends on the read model:

- one agency's data (`agency_position`): the projector applies one agency's
  events in order, so the highest position applied for it covers all of its
  earlier events (and a view complete up to P covers every agency's);
- data across agencies (`projections_position`): events of different agencies
  travel on different partitions, so a projection reflects position P only when
  every event up to P is applied on every partition. The relay's tracked
  positions say what was published: the projection is complete up to the
  relay's cursor, except on a partition where it has not yet applied what the
  relay published there, where it is complete only up to what it applied.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import psycopg
from psycopg.rows import TupleRow

from services.readmodels import Pool
from services.readmodels.errors import NotYetVisible

POLL_SECONDS = 0.02

PositionReader = Callable[[psycopg.Connection[TupleRow]], int]


def agency_position(agency: str, topic: str) -> PositionReader:
    """Position reflected by one agency's report view: the highest position applied for the
    agency, or, if higher, the position up to which the whole view is complete (a client may
    hold the position of another agency's write)."""
    whole_view = projections_position(topic, ("report_view",))

    def read(conn: psycopg.Connection[TupleRow]) -> int:
        row = conn.execute("SELECT position FROM rm_agency_positions WHERE agency = %s", (agency,)).fetchone()
        return max(0 if row is None else int(row[0]), whole_view(conn))

    return read


def projections_position(topic: str, projections: Sequence[str]) -> PositionReader:
    """The position up to which every event is applied by all of `projections` (cross-agency read models)."""

    def read(conn: psycopg.Connection[TupleRow]) -> int:
        row = conn.execute(
            "WITH relay AS (SELECT partition, position FROM relay_positions WHERE topic = %(topic)s),"
            " lagging AS ("
            "  SELECT coalesce(pp.position, 0) AS applied"
            "  FROM unnest(%(names)s::text[]) AS n(name) CROSS JOIN relay r"
            "  LEFT JOIN projector_positions pp"
            "   ON pp.projection = n.name AND pp.topic = %(topic)s AND pp.partition = r.partition"
            "  WHERE r.partition >= 0 AND coalesce(pp.position, 0) < r.position)"
            " SELECT least("
            "  (SELECT coalesce(max(position), 0) FROM relay WHERE partition = -1),"
            "  (SELECT min(applied) FROM lagging))",
            {"topic": topic, "names": list(projections)},
        ).fetchone()
        return 0 if row is None or row[0] is None else int(row[0])

    return read


@dataclass(frozen=True)
class Freshness:
    """What a read waits for: `min_position` visible (None: no wait), for at most `wait_ms`."""

    min_position: int | None = None
    wait_ms: int = 0


def wait_until_visible(deadline: float, reached: Callable[[], int | None], refusal: Callable[[], NotYetVisible]) -> int:
    """Poll `reached` (a position once it is far enough, else None) until `deadline` (monotonic)."""
    while True:
        found = reached()
        if found is not None:
            return found
        if time.monotonic() >= deadline:
            raise refusal()
        time.sleep(POLL_SECONDS)  # a server-side poll of the read model, bounded by the wait


def wait_for_position(pool: Pool, read: PositionReader, wanted: Freshness) -> int:
    """The position the read models reflect, once it reaches `wanted.min_position` (NotYetVisible if not in time)."""
    deadline = time.monotonic() + wanted.wait_ms / 1000
    position = 0

    def reached() -> int | None:
        nonlocal position
        with pool.connection() as conn:
            position = read(conn)
        return position if wanted.min_position is None or position >= wanted.min_position else None

    def refusal() -> NotYetVisible:
        return NotYetVisible(f"position {wanted.min_position} is not applied yet (at {position}); retry", position)

    return wait_until_visible(deadline, reached, refusal)


def projection_lag(conn: psycopg.Connection[TupleRow], topic: str, projections: Sequence[str]) -> dict[str, int]:
    """Per projection, the published events it has not applied yet: on each partition, the relay's last
    acknowledged offset + 1 minus the projection's next offset (the broker's own end offsets cannot be
    trusted on every broker: docs/DECISIONS.md, *What the local broker cannot be trusted with*)."""
    rows = conn.execute(
        'WITH relay AS (SELECT partition, "offset" FROM relay_positions'
        '  WHERE topic = %(topic)s AND partition >= 0 AND "offset" IS NOT NULL)'
        ' SELECT n.name, sum(greatest(0, r."offset" + 1 - coalesce(pp.next_offset, 0)))'
        " FROM unnest(%(names)s::text[]) AS n(name) CROSS JOIN relay r"
        " LEFT JOIN projector_positions pp"
        "  ON pp.projection = n.name AND pp.topic = %(topic)s AND pp.partition = r.partition"
        " GROUP BY n.name",
        {"topic": topic, "names": list(projections)},
    ).fetchall()
    lag = dict.fromkeys(projections, 0)
    lag.update({str(name): int(events) for name, events in rows})
    return lag


class ProjectionLag:
    """How far the projections a service reads are behind the published log (its readiness)."""

    def __init__(self, pool: Pool, topic: str, projections: Sequence[str]) -> None:
        self.pool = pool
        self.topic = topic
        self.projections = tuple(projections)

    def events(self) -> dict[str, int]:
        with self.pool.connection(timeout=2) as conn:
            return projection_lag(conn, self.topic, self.projections)
