"""What every router of the reports API shares: the read side, the callers, the parameters of a read.

Parameters are checked here, before anything is read: each refusal is a read-side `DomainError`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import Depends, Query, Request

from domain.identity import Principal, Role
from domain.periods import InvalidPeriod, Period
from domain.scope import Scope
from services.http.auth import require_roles
from services.http.read_side import ReadSide
from services.readmodels.audit_trail.queries import AsOf
from services.readmodels.errors import (
    AsOfRequired,
    InvalidInstant,
    InvalidParameter,
    InvalidPeriodParameter,
    TooManyIndicators,
)
from services.readmodels.freshness import Freshness

MAX_WAIT_MS = 10_000
DEFAULT_WAIT_MS = 5000
MAX_PERIODS = 120
MAX_INDICATORS = 500


def read_side(request: Request) -> ReadSide:
    side: ReadSide = request.app.state.read_side
    return side


Read = Annotated[ReadSide, Depends(read_side)]

# ---- who reads ---------------------------------------------------------------------

Reader = Annotated[Principal, Depends(require_roles(*Role))]
MinistryReader = Annotated[Principal, Depends(require_roles(Role.MINISTRY_REVIEWER, Role.AUDITOR, Role.ADMIN))]
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]

# ---- freshness and format ----------------------------------------------------------


def freshness(
    min_position: Annotated[
        int | None, Query(ge=0, description="wait until this position (from the write API) is visible")
    ] = None,
    wait_ms: Annotated[int, Query(ge=0, le=MAX_WAIT_MS, description="how long to wait for min_position")] = (
        DEFAULT_WAIT_MS
    ),
) -> Freshness:
    """The read-your-writes parameters every read accepts."""
    return Freshness(min_position, wait_ms)


FreshnessQuery = Annotated[Freshness, Depends(freshness)]
Format = Annotated[Literal["json", "csv", "xlsx"], Query(alias="format", description="json, csv or xlsx")]

# ---- text, days, periods -------------------------------------------------------------


def refuse_nul(**values: str | list[str] | None) -> None:
    """PostgreSQL text cannot hold NUL: such a parameter is refused, never a database error."""
    for name, value in values.items():
        items = value if isinstance(value, list) else [value]
        if any(item is not None and "\x00" in item for item in items):
            raise InvalidParameter(f"{name} contains a NUL character")


def require_zone(**instants: datetime | None) -> None:
    for name, value in instants.items():
        if value is not None and value.tzinfo is None:
            raise InvalidInstant(f"{name} needs a time zone (e.g. Z)")


PeriodCode = Annotated[str | None, Query(min_length=4, max_length=7, description="YYYY-MM, YYYYQn, YYYYSn or YYYY")]
OptionalPeriod = Annotated[str | None, Query(min_length=4, max_length=7)]
PeriodFrom = Annotated[str | None, Query(alias="from", min_length=4, max_length=7)]
PeriodTo = Annotated[str | None, Query(alias="to", min_length=4, max_length=7)]
ScopeText = Annotated[str, Query(max_length=200)]


def parse_period(code: str, name: str | None = "period") -> Period:
    """The period `code` names; refused with the parameter's `name` (if any) in the detail."""
    try:
        return Period.parse(code)
    except InvalidPeriod as error:
        raise InvalidPeriodParameter(f"{name}: {error}" if name else str(error)) from None


def period_range(period: str | None, start: str | None, end: str | None) -> list[Period]:
    """`period=`, or `from=` and optionally `to=` (periods of one kind, at most MAX_PERIODS)."""
    if period is not None:
        if start is not None or end is not None:
            raise InvalidPeriodParameter("pass period= or from=/to=, not both")
        return [parse_period(period)]
    if start is None:
        raise InvalidPeriodParameter("pass period= or from= (and optionally to=)")
    first = parse_period(start, "from")
    last = parse_period(end, "to") if end is not None else first
    if first.kind is not last.kind:
        raise InvalidPeriodParameter("from and to must be periods of the same kind")
    if last < first:
        raise InvalidPeriodParameter("to comes before from")
    periods = [first]
    while periods[-1] < last:
        if len(periods) >= MAX_PERIODS:
            raise InvalidPeriodParameter(f"at most {MAX_PERIODS} periods at once")
        periods.append(periods[-1].next())
    return periods


class RollupQuery:
    """What a roll-up asks for: indicators, periods, scope (the query of `/rollups` and `/rollups/as-of`)."""

    def __init__(
        self,
        indicator: Annotated[list[str] | None, Query(max_length=MAX_INDICATORS)] = None,
        period: OptionalPeriod = None,
        start: PeriodFrom = None,
        end: PeriodTo = None,
        scope: ScopeText = str(Scope.NATIONAL),
    ) -> None:
        self.indicator = indicator
        self.period = period
        self.start = start
        self.end = end
        self.scope = scope

    def periods(self) -> list[Period]:
        return period_range(self.period, self.start, self.end)

    def indicators(self) -> list[str] | None:
        """The indicators asked for (None: every indicator)."""
        if self.indicator and len(self.indicator) > MAX_INDICATORS:
            raise TooManyIndicators(f"at most {MAX_INDICATORS}")
        return self.indicator or None

    def parsed_scope(self) -> Scope:
        return Scope.parse(self.scope)


RollupParameters = Annotated[RollupQuery, Depends()]


class AsOfQuery:
    """When, for time travel: a past global position or a past instant (exactly one)."""

    def __init__(
        self,
        position: Annotated[int | None, Query(ge=0, description="a past global position")] = None,
        at: Annotated[datetime | None, Query(description="a past instant (ISO 8601 with zone)")] = None,
        wait_ms: Annotated[int, Query(ge=0, le=MAX_WAIT_MS)] = DEFAULT_WAIT_MS,
    ) -> None:
        self.position = position
        self.at = at
        self.wait_ms = wait_ms

    def moment(self) -> AsOf:
        if (self.position is None) == (self.at is None):
            raise AsOfRequired("pass exactly one of position= or at=")
        require_zone(at=self.at)
        return AsOf(self.position, self.at, self.wait_ms)


AsOfParameters = Annotated[AsOfQuery, Depends()]
