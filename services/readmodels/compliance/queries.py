"""Reading the compliance rows (`rm_compliance`): the board (per month and agency, status and timeliness; per
month, rates), the review queue (submitted reports, longest waiting first), the counts per status, and one
agency's reports with the latest step and its reason."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from functools import cached_property
from typing import Any

from domain.periods import Period, ReportingRegime
from domain.scope import Dimension, InvalidScope, Scope
from services.readmodels import Pool
from services.readmodels.freshness import Freshness, projections_position, wait_for_position
from services.readmodels.reference.queries import ReferenceQueries
from services.readmodels.reference.snapshot import AgencyInfo, Reference

PROJECTIONS = ("compliance", "reference")
BOARDS_KEPT = 8
MAX_QUEUE_PAGE = 500
STATUS_LABELS = {
    "not_started": "Chưa nhập số liệu",
    "draft": "Đang nhập",
    "submitted_on_time": "Đã gửi đúng hạn",
    "submitted_late": "Đã gửi muộn",
    "returned": "Bị trả lại",
    "recalled": "Đã thu hồi để sửa",
    "reopened": "Mở lại để sửa",
    "approved": "Đã phê duyệt",
}
# Every status of the board, in the order of the report's life (an agency that has not started first);
# a board sorts by it, from what needs chasing to what is done.
BOARD_STATUSES = tuple(STATUS_LABELS)


@dataclass(frozen=True)
class BoardRow:
    """An agency's report of one month. `days_late`: of the first submission, or overdue while not submitted."""

    agency: str
    name_vi: str | None
    region: str | None
    kind: str | None
    period: str
    expected: bool
    status: str
    status_label: str
    deadline: str
    first_submitted_at: datetime | None
    on_time: bool | None
    days_late: int
    times_submitted: int
    last_submitted_at: datetime | None
    last_days_late: int | None
    approved_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Tally:
    """Agencies that had to report, how many of them reported, and how many on time (their first submission)."""

    expected: int = 0
    reported: int = 0
    on_time: int = 0

    def count(self, row: BoardRow) -> None:
        """Count one row of a board (an agency that reported without having to is not counted)."""
        if not row.expected:
            return
        self.expected += 1
        if row.times_submitted:
            self.reported += 1
            self.on_time += 1 if row.on_time else 0

    def add(self, other: Tally) -> None:
        self.expected += other.expected
        self.reported += other.reported
        self.on_time += other.on_time

    @property
    def reporting_rate(self) -> float | None:
        return round(self.reported / self.expected, 4) if self.expected else None

    @property
    def on_time_rate(self) -> float | None:
        return round(self.on_time / self.expected, 4) if self.expected else None


@dataclass(frozen=True)
class RateRow:
    """One month: how many agencies had to report, reported, and reported on time."""

    period: str
    deadline: str
    expected: int
    reported: int
    on_time: int
    reporting_rate: float | None
    on_time_rate: float | None

    @classmethod
    def of(cls, period: str, deadline: str, tally: Tally) -> RateRow:
        return cls(
            period, deadline, tally.expected, tally.reported, tally.on_time, tally.reporting_rate, tally.on_time_rate
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Board:
    scope: Scope
    rates: list[RateRow]
    agencies: list[BoardRow]

    @cached_property
    def by_scope(self) -> list[ScopeRates]:
        """`rates_by_scope` of this board, worked out once (a board is shared by the pages that show it)."""
        return rates_by_scope(self)


@dataclass(frozen=True)
class ScopeRates:
    """A scope's rates per month of a board, and over all its months together."""

    scope: Scope
    periods: list[RateRow]
    total: Tally


def rates_by_scope(board: Board) -> list[ScopeRates]:
    """The board's own scope, then each region and each agency kind within it: rates per month and in all."""
    deadlines = {rate.period: rate.deadline for rate in board.rates}
    tallies: dict[Scope, dict[str, Tally]] = {board.scope: {}}
    by_region = board.scope.dimension is not Dimension.REGION
    by_kind = board.scope.dimension is not Dimension.KIND
    scopes_of: dict[tuple[str | None, str | None], list[Scope]] = {}  # (region, kind) -> the row's scopes
    for row in board.agencies:
        scopes = scopes_of.get((row.region, row.kind))
        if scopes is None:
            scopes = [board.scope]
            if row.region and by_region:
                scopes.append(Scope(Dimension.REGION, row.region))
            if row.kind and by_kind:
                scopes.append(Scope(Dimension.KIND, row.kind))
            scopes_of[(row.region, row.kind)] = scopes
        for scope in scopes:
            per_period = tallies.setdefault(scope, {})
            per_period.setdefault(row.period, Tally()).count(row)
    result = []
    for scope in sorted(tallies, key=lambda s: (s != board.scope, s.dimension != Dimension.REGION, s)):
        periods = []
        total = Tally()
        for period, deadline in deadlines.items():
            tally = tallies[scope].get(period, Tally())
            total.add(tally)
            periods.append(RateRow.of(period, deadline, tally))
        if total.expected or scope == board.scope:
            result.append(ScopeRates(scope, periods, total))
    return result


@dataclass(frozen=True)
class _Stored:
    """A row of `rm_compliance`."""

    status: str
    deadline: date | None
    times_submitted: int
    first_submitted_at: datetime | None
    first_late: bool | None
    first_days_late: int | None
    last_submitted_at: datetime | None
    last_days_late: int | None
    approved_at: datetime | None


_REPORT_COLUMNS = (
    "agency, period, status, deadline, times_submitted, first_submitted_at, first_late, first_days_late,"
    " last_submitted_at, last_days_late, approved_at, step_at, step_actor, step_role, step_reason, return_reason"
)


@dataclass(frozen=True)
class ReportStatus:
    """One agency's report of one month as the compliance rows hold it, with its latest step and why."""

    agency: str
    period: str
    status: str  # the lifecycle status: draft, submitted, approved, returned, recalled, reopened
    deadline: date | None
    times_submitted: int
    first_submitted_at: datetime | None
    first_late: bool | None
    first_days_late: int | None
    last_submitted_at: datetime | None
    last_days_late: int | None
    approved_at: datetime | None
    step_at: datetime | None
    step_actor: str | None
    step_role: str | None
    step_reason: str | None
    return_reason: str | None

    @property
    def board_status(self) -> str:
        return _board_status(self.status, self.first_late)


@dataclass(frozen=True)
class QueueEntry:
    """A report awaiting review, with its agency as the registry names it for that month."""

    report: ReportStatus
    name_vi: str | None
    region: str | None
    kind: str | None


@dataclass(frozen=True)
class QueueFilter:
    """Which submitted reports: each member given narrows the queue."""

    period: Period | None = None
    region: str | None = None
    kind: str | None = None


@dataclass(frozen=True)
class Queue:
    entries: list[QueueEntry]
    total: int  # how many match the filter, all pages together
    per_period: dict[str, int]  # submitted reports awaiting review per month (whatever the filter)


def _board_status(status: str | None, first_late: bool | None) -> str:
    if status is None:
        return "not_started"
    if status == "submitted":
        return "submitted_late" if first_late else "submitted_on_time"
    return status


@dataclass(frozen=True)
class ReportState:
    """A report's lifecycle as the national feed states it: its form version, status and last submission."""

    agency: str
    period: str
    template: str
    template_version: int
    status: str
    last_submitted_at: datetime | None


class ComplianceQueries:
    def __init__(self, pool: Pool, reference: ReferenceQueries, regime: ReportingRegime, topic: str) -> None:
        self.pool = pool
        self.reference = reference
        self.regime = regime
        self._position = projections_position(topic, PROJECTIONS)
        self._expected: dict[tuple[int, str], int] = {}
        self._lock = threading.Lock()
        self._boards: dict[tuple[Any, ...], Board] = {}  # the last boards computed, oldest first

    def visible(self, wanted: Freshness) -> int:
        return wait_for_position(self.pool, self._position, wanted)

    def board(self, periods: Sequence[Period], scope: Scope, today: date) -> Board:
        """Per month (`periods`) and agency of one scope: status and timeliness; per month, the rates
        among the agencies that had to report. `today` is the day overdue reports are counted to.

        A board is computed again only when its rows or the reference data changed: live pages read it
        after every projector batch, most of which bring no lifecycle step (the rows' highest position
        tells; it only grows). Open boards of the same months share one computation."""
        ref = self.reference.snapshot()
        scopes = ref.scopes(scope)
        if len(scopes) != 1:
            raise InvalidScope("one scope: national, region:<r> or kind:<k>")
        chosen = scopes[0]
        codes = [p.code for p in periods]
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT max(latest) FROM unnest(%s::text[]) AS p(period), LATERAL ("
                " SELECT position AS latest FROM rm_compliance c WHERE c.period = p.period"
                " ORDER BY position DESC LIMIT 1) AS l",
                (codes,),
            ).fetchone()
        key = (tuple(codes), str(chosen), today, ref.version, row[0] if row else None)
        with self._lock:
            cached = self._boards.get(key)
        if cached is not None:
            return cached
        board = self.compute_board(ref, periods, chosen, today)
        with self._lock:
            self._boards[key] = board
            while len(self._boards) > BOARDS_KEPT:
                self._boards.pop(next(iter(self._boards)))
        return board

    def compute_board(self, ref: Reference, periods: Sequence[Period], chosen: Scope, today: date) -> Board:
        """`board` worked out from the read model, whatever was computed before (one scope, resolved)."""
        found_by_period = self._stored(periods)
        board_rows: list[BoardRow] = []
        rates: list[RateRow] = []
        for period in periods:
            deadline = self.regime.deadline(period)
            deadline_text = deadline.isoformat()
            names_on = period.cutoff_window()[1]  # history keeps the name an agency reported under
            overdue = max(0, (today - deadline).days)
            found = found_by_period.get(period.code, {})
            expected = {a.code: a for a in ref.expected_agencies(period, chosen)}
            agencies: dict[str, AgencyInfo | None] = dict(expected)
            for code in found:
                known = ref.agencies.get(code)
                if code not in agencies and (known.in_scope(chosen) if known else chosen == Scope.NATIONAL):
                    agencies[code] = known
            tally = Tally()
            for code in sorted(agencies):
                info = agencies[code]
                row = found.get(code)
                first_at = row.first_submitted_at if row else None
                first_late = row.first_late if row else None
                times = row.times_submitted if row else 0
                board_status = _board_status(row.status if row else None, first_late)
                first_days = row.first_days_late if row else None
                # Not submitted yet: overdue by the days since the deadline.
                days_late = int(first_days or 0) if first_at is not None else overdue
                stored_deadline = row.deadline if row else None
                board_row = BoardRow(
                    agency=code,
                    name_vi=info.name_on(names_on) if info else None,
                    region=info.region if info else None,
                    kind=info.kind if info else None,
                    period=period.code,
                    expected=code in expected,
                    status=board_status,
                    status_label=STATUS_LABELS.get(board_status, board_status),
                    deadline=stored_deadline.isoformat() if stored_deadline else deadline_text,
                    first_submitted_at=first_at,
                    on_time=None if first_at is None else not first_late,
                    days_late=days_late,
                    times_submitted=times,
                    last_submitted_at=row.last_submitted_at if row else None,
                    last_days_late=row.last_days_late if row else None,
                    approved_at=row.approved_at if row else None,
                )
                tally.count(board_row)
                board_rows.append(board_row)
            rates.append(RateRow.of(period.code, deadline.isoformat(), tally))
        return Board(chosen, rates, board_rows)

    def report_states(self, period: str, agency: str | None) -> list[ReportState]:
        """The reports of a month (of one agency, or every agency's) that were opened, in agency order."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT agency, period, template, template_version, status, last_submitted_at FROM rm_compliance"
                " WHERE period = %s AND (%s::text IS NULL OR agency = %s) AND template IS NOT NULL ORDER BY agency",
                (period, agency, agency),
            ).fetchall()
        return [ReportState(*row) for row in rows]

    # ---- the review queue, the counts, one agency's reports ---------------------------

    def queue(self, wanted: QueueFilter, limit: int, offset: int = 0) -> Queue:
        """Submitted reports awaiting review, longest waiting first (by their latest submission)."""
        conditions = ["c.status = 'submitted'"]
        params: dict[str, Any] = {"limit": min(limit, MAX_QUEUE_PAGE), "offset": offset}
        if wanted.period is not None:
            conditions.append("c.period = %(period)s")
            params["period"] = wanted.period.code
        for column in ("region", "kind"):
            value = getattr(wanted, column)
            if value is not None:
                conditions.append(f"a.{column} = %({column})s")
                params[column] = value
        # The registry is joined only to filter by region or kind: the page itself walks the queue's index.
        joined = " JOIN rm_ref_agencies a ON a.agency = c.agency" if wanted.region or wanted.kind else ""
        where = f"FROM rm_compliance c{joined} WHERE {' AND '.join(conditions)}"
        columns = ", ".join(f"c.{name.strip()}" for name in _REPORT_COLUMNS.split(","))
        ref = self.reference.snapshot()
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {columns} {where} ORDER BY c.last_submitted_at, c.agency, c.period"
                " LIMIT %(limit)s OFFSET %(offset)s",
                params,
            ).fetchall()
            counted = conn.execute(f"SELECT count(*) {where}", params).fetchone()
            per_period: dict[str, int] = {
                str(period): int(count)
                for period, count in conn.execute(
                    "SELECT period, count(*) FROM rm_compliance WHERE status = 'submitted' GROUP BY period"
                    " ORDER BY period DESC"
                )
            }
        entries = []
        for row in rows:
            report = ReportStatus(*row)
            info = ref.agencies.get(report.agency)
            name = info.name_in(Period.parse(report.period)) if info else None
            entries.append(QueueEntry(report, name, info.region if info else None, info.kind if info else None))
        return Queue(entries, int(counted[0]) if counted else 0, per_period)

    def counts(self, periods: Sequence[Period]) -> dict[str, dict[str, int]]:
        """Per month, how many agencies that had to report are at each board status (`BOARD_STATUSES`)."""
        ref = self.reference.snapshot()
        found: dict[str, dict[str, int]] = {p.code: dict.fromkeys(BOARD_STATUSES, 0) for p in periods}
        windows = [(p.code, *p.cutoff_window()) for p in periods]
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT c.period, c.status, coalesce(c.first_late, false), count(*)"
                " FROM unnest(%s::text[], %s::date[], %s::date[]) AS w(period, first_day, last_day)"
                " JOIN rm_compliance c ON c.period = w.period"
                " JOIN rm_ref_agencies a ON a.agency = c.agency"
                " WHERE a.template IS NOT NULL AND a.effective_from <= w.last_day"
                " AND (a.effective_to IS NULL OR a.effective_to >= w.first_day) GROUP BY 1, 2, 3",
                ([w[0] for w in windows], [w[1] for w in windows], [w[2] for w in windows]),
            ).fetchall()
        for period, status, first_late, count in rows:
            found[period][_board_status(status, first_late)] += int(count)
        for period in periods:
            counts = found[period.code]
            counts["not_started"] = max(0, self._expected_count(ref.version, period) - sum(counts.values()))
        return found

    def _expected_count(self, version: int, period: Period) -> int:
        key = (version, period.code)
        cached = self._expected.get(key)
        if cached is None:
            cached = len(self.reference.snapshot().expected_agencies(period))
            if len(self._expected) > 1000:
                self._expected.clear()
            self._expected[key] = cached
        return cached

    def agency_reports(self, agency: str, periods: Sequence[Period]) -> dict[str, ReportStatus]:
        """The agency's reports of these months that were started (period code -> its row)."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {_REPORT_COLUMNS} FROM rm_compliance WHERE agency = %s AND period = ANY(%s)",
                (agency, [p.code for p in periods]),
            ).fetchall()
        return {row[1]: ReportStatus(*row) for row in rows}

    def _stored(self, periods: Sequence[Period]) -> dict[str, dict[str, _Stored]]:
        """period -> agency -> its row."""
        by_period: dict[str, dict[str, _Stored]] = {}
        with self.pool.connection() as conn, conn.cursor(binary=True) as cur:  # binary: 10,000 rows a month
            for stored in cur.execute(
                "SELECT period, agency, status, deadline, times_submitted, first_submitted_at, first_late,"
                " first_days_late, last_submitted_at, last_days_late, approved_at"
                " FROM rm_compliance WHERE period = ANY(%s)",
                ([p.code for p in periods],),
            ):
                by_period.setdefault(stored[0], {})[stored[1]] = _Stored(*stored[2:])
        return by_period
