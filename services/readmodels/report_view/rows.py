"""What the report view answers: one agency's period, a row per indicator (live and as of a past position)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from domain.rollups import JsonValue


@dataclass(frozen=True)
class ReportValue:
    """An indicator's current value: `revision` counts its value events (1 for the first)."""

    indicator: str
    value: JsonValue
    revision: int
    actor: str | None
    role: str | None
    recorded_at: datetime
    event_id: str
    position: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PeriodValue:
    """An agency's current value of an indicator, as the files of other systems carry it (no comment is stored)."""

    agency: str
    period: str
    indicator: str
    value: int | bool | str  # as the events carry it: decimals as exact strings
    comment: str | None = None


@dataclass(frozen=True)
class AgencyReport:
    """One agency's period; `position` is the agency's position the view reflects."""

    agency: str
    period: str
    position: int
    values: list[ReportValue] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "agency": self.agency,
            "period": self.period,
            "position": self.position,
            "values": [value.to_json() for value in self.values],
        }

    def table(self) -> list[dict[str, Any]]:
        """The rows of an export: each value with its agency and period."""
        return [{"agency": self.agency, "period": self.period, **value.to_json()} for value in self.values]
