"""Reading the compliance board (`rm_compliance`): per month and agency, status and timeliness; per month, rates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from domain.periods import Period, ReportingRegime
from domain.scope import InvalidScope, Scope
from services.readmodels import Pool
from services.readmodels.freshness import Freshness, projections_position, wait_for_position
from services.readmodels.reference.queries import ReferenceQueries
from services.readmodels.reference.snapshot import AgencyInfo

PROJECTIONS = ("compliance", "reference")
STATUS_LABELS = {
    "not_started": "Chưa nhập số liệu",
    "draft": "Đang nhập",
    "submitted_on_time": "Đã gửi đúng hạn",
    "submitted_late": "Đã gửi muộn",
    "returned": "Bị trả lại",
    "reopened": "Mở lại để sửa",
    "approved": "Đã phê duyệt",
}


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

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Board:
    scope: Scope
    rates: list[RateRow]
    agencies: list[BoardRow]


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

    def visible(self, wanted: Freshness) -> int:
        return wait_for_position(self.pool, self._position, wanted)

    def board(self, periods: Sequence[Period], scope: Scope, today: date) -> Board:
        """Per month (`periods`) and agency of one scope: status and timeliness; per month, the rates
        among the agencies that had to report. `today` is the day overdue reports are counted to."""
        ref = self.reference.snapshot()
        scopes = ref.scopes(scope)
        if len(scopes) != 1:
            raise InvalidScope("one scope: national, region:<r> or kind:<k>")
        chosen = scopes[0]
        found_by_period = self._stored(periods)
        board_rows: list[BoardRow] = []
        rates: list[RateRow] = []
        for period in periods:
            deadline = self.regime.deadline(period)
            found = found_by_period.get(period.code, {})
            expected = {a.code: a for a in ref.expected_agencies(period, chosen)}
            agencies: dict[str, AgencyInfo | None] = dict(expected)
            for code in found:
                known = ref.agencies.get(code)
                if code not in agencies and (known.in_scope(chosen) if known else chosen == Scope.NATIONAL):
                    agencies[code] = known
            reported = on_time = 0
            for code in sorted(agencies):
                info = agencies[code]
                row = found.get(code)
                first_at = row.first_submitted_at if row else None
                first_late = row.first_late if row else None
                times = row.times_submitted if row else 0
                board_status = _board_status(row.status if row else None, first_late)
                if times and code in expected:
                    reported += 1
                    on_time += 0 if first_late else 1
                first_days = row.first_days_late if row else None
                # Not submitted yet: overdue by the days since the deadline.
                days_late = int(first_days or 0) if first_at is not None else max(0, (today - deadline).days)
                board_rows.append(
                    BoardRow(
                        agency=code,
                        name_vi=info.name_in(period) if info else None,
                        region=info.region if info else None,
                        kind=info.kind if info else None,
                        period=period.code,
                        expected=code in expected,
                        status=board_status,
                        status_label=STATUS_LABELS.get(board_status, board_status),
                        deadline=((row.deadline if row else None) or deadline).isoformat(),
                        first_submitted_at=first_at,
                        on_time=None if first_at is None else not first_late,
                        days_late=days_late,
                        times_submitted=times,
                        last_submitted_at=row.last_submitted_at if row else None,
                        last_days_late=row.last_days_late if row else None,
                        approved_at=row.approved_at if row else None,
                    )
                )
            rates.append(_rates(period, len(expected), reported, on_time, deadline))
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

    def _stored(self, periods: Sequence[Period]) -> dict[str, dict[str, _Stored]]:
        """period -> agency -> its row."""
        by_period: dict[str, dict[str, _Stored]] = {}
        with self.pool.connection() as conn:
            for stored in conn.execute(
                "SELECT period, agency, status, deadline, times_submitted, first_submitted_at, first_late,"
                " first_days_late, last_submitted_at, last_days_late, approved_at"
                " FROM rm_compliance WHERE period = ANY(%s)",
                ([p.code for p in periods],),
            ):
                by_period.setdefault(stored[0], {})[stored[1]] = _Stored(*stored[2:])
        return by_period


def _rates(period: Period, expected: int, reported: int, on_time: int, deadline: date) -> RateRow:
    return RateRow(
        period=period.code,
        deadline=deadline.isoformat(),
        expected=expected,
        reported=reported,
        on_time=on_time,
        reporting_rate=round(reported / expected, 4) if expected else None,
        on_time_rate=round(on_time / expected, 4) if expected else None,
    )
