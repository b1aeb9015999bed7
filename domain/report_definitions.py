"""Derived report types as data: which indicators, which period type, which scope.

"Enter once, use many": a report definition adds no data entry. It selects
indicators that agencies already report monthly, a period type (month,
quarter, half-year, year) and a scope (one agency, a region, the nation), and
the read side produces it from the roll-ups for any period that has data.
Definitions are aggregates, so adding or revising one is an event like any other.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.errors import DomainError
from domain.ids import aggregate_id
from domain.periods import PeriodKind
from domain.values import nfc


class ReportScope:
    AGENCY = "agency"
    REGION = "region"
    NATIONAL = "national"


SCOPES = (ReportScope.AGENCY, ReportScope.REGION, ReportScope.NATIONAL)
MAX_INDICATORS = 500
MAX_NAME_LENGTH = 500
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_FIELDS = frozenset({"code", "name_vi", "name_en", "period_kind", "scope", "indicators"})


class InvalidReportDefinition(DomainError):
    code = "invalid-definition"


@dataclass(frozen=True)
class ReportSpec:
    """One report definition (value object); `from_dict` is the JSON form of the seed file and the API."""

    code: str
    name_vi: str
    name_en: str
    period_kind: PeriodKind
    scope: str
    indicators: tuple[str, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.code, str) or not _CODE.fullmatch(self.code):
            raise InvalidReportDefinition("a report code is 1-64 ASCII letters, digits, '.', '_' or '-'")
        name = nfc(self.name_vi).strip() if isinstance(self.name_vi, str) else ""
        if not name or len(name) > MAX_NAME_LENGTH:
            raise InvalidReportDefinition(f"name_vi is required (at most {MAX_NAME_LENGTH} characters)")
        object.__setattr__(self, "name_vi", name)
        if not isinstance(self.name_en, str) or len(self.name_en) > MAX_NAME_LENGTH:
            raise InvalidReportDefinition(f"name_en is text of at most {MAX_NAME_LENGTH} characters")
        try:
            object.__setattr__(self, "period_kind", PeriodKind(self.period_kind))
        except ValueError:
            raise InvalidReportDefinition(
                f"period_kind is one of {', '.join(k.value for k in PeriodKind)}, not {self.period_kind!r}"
            ) from None
        if self.scope not in SCOPES:
            raise InvalidReportDefinition(f"scope is one of {', '.join(SCOPES)}, not {self.scope!r}")
        indicators = tuple(self.indicators)
        if not indicators or len(indicators) > MAX_INDICATORS:
            raise InvalidReportDefinition(f"a report selects 1-{MAX_INDICATORS} indicators")
        if not all(isinstance(code, str) and code for code in indicators):
            raise InvalidReportDefinition("indicators are indicator codes")
        if len(set(indicators)) != len(indicators):
            raise InvalidReportDefinition("an indicator is listed twice")
        object.__setattr__(self, "indicators", indicators)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReportSpec:
        if not isinstance(data, Mapping):
            raise InvalidReportDefinition("a report definition is an object")
        unknown = set(data) - _FIELDS
        if unknown:
            raise InvalidReportDefinition(f"unknown field(s): {', '.join(sorted(map(str, unknown)))}")
        missing = _FIELDS - {"name_en"} - set(data)
        if missing:
            raise InvalidReportDefinition(f"missing field(s): {', '.join(sorted(missing))}")
        indicators = data["indicators"]
        if not isinstance(indicators, Sequence) or isinstance(indicators, str):
            raise InvalidReportDefinition("indicators is a list of indicator codes")
        return cls(
            code=data["code"],
            name_vi=data["name_vi"],
            name_en=data.get("name_en") or "",
            period_kind=data["period_kind"],
            scope=data["scope"],
            indicators=tuple(indicators),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name_vi": self.name_vi,
            "name_en": self.name_en,
            "period_kind": str(self.period_kind),
            "scope": self.scope,
            "indicators": list(self.indicators),
        }

    def check_indicators(self, known: Mapping[str, object]) -> None:
        """Every selected indicator must be in the catalogue."""
        unknown = [code for code in self.indicators if code not in known]
        if unknown:
            raise InvalidReportDefinition(f"unknown indicators: {', '.join(unknown)}")


class ReportDefinition(Aggregate):
    """A derived report type; every event carries the whole definition."""

    class Created(Aggregate.Created):
        code: str
        name_vi: str
        name_en: str
        period_kind: str
        scope: str
        indicators: list[str]
        actor: str
        role: str

    class Revised(Aggregate.Event):
        code: str
        name_vi: str
        name_en: str
        period_kind: str
        scope: str
        indicators: list[str]
        actor: str
        role: str

        def apply(self, aggregate: ReportDefinition) -> None:
            aggregate.spec = ReportSpec(
                self.code, self.name_vi, self.name_en, PeriodKind(self.period_kind), self.scope, tuple(self.indicators)
            )

    def __init__(
        self,
        code: str,
        name_vi: str,
        name_en: str,
        period_kind: str,
        scope: str,
        indicators: list[str],
        actor: str,
        role: str,
    ) -> None:
        self.spec = ReportSpec(code, name_vi, name_en, PeriodKind(period_kind), scope, tuple(indicators))

    @staticmethod
    def create_id(code: str) -> UUID:
        return report_definition_id(code)

    @classmethod
    def define(cls, spec: ReportSpec, actor: str, role: str) -> ReportDefinition:
        return cls(actor=actor, role=role, **_event_fields(spec))

    def revise(self, spec: ReportSpec, actor: str, role: str) -> bool:
        """Replace the definition; False when nothing changes. The code never changes."""
        if spec.code != self.spec.code:
            raise InvalidReportDefinition("the code of a report definition cannot change")
        if spec == self.spec:
            return False
        self.trigger_event(self.Revised, actor=actor, role=role, **_event_fields(spec))
        return True


def _event_fields(spec: ReportSpec) -> dict[str, Any]:
    data = spec.to_dict()
    data["indicators"] = list(spec.indicators)
    return data


def report_definition_id(code: str) -> UUID:
    return aggregate_id("report_definition", code)
