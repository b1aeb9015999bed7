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

from domain.errors import DomainError, ErrorKind
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


class UnknownReportIndicators(InvalidReportDefinition):
    """The definition names indicators the catalogue does not hold."""


class ReportExists(DomainError):
    """A new report type was asked for with the code of one that exists."""

    code = "report-exists"
    kind = ErrorKind.CONFLICT


@dataclass(frozen=True)
class Problem:
    """What is wrong with one field of a definition: the field, a stable code, and the detail in English."""

    field: str
    code: str
    detail: str


def problems(
    code: object, name_vi: object, name_en: object, period_kind: object, scope: object, indicators: object
) -> list[Problem]:
    """Every problem of a definition's fields, each field checked on its own (a form shows them all at once)."""
    found = []
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        found.append(Problem("code", "code-format", "a report code is 1-64 ASCII letters, digits, '.', '_' or '-'"))
    name = nfc(name_vi).strip() if isinstance(name_vi, str) else ""
    if not name or len(name) > MAX_NAME_LENGTH:
        detail = f"name_vi is required (at most {MAX_NAME_LENGTH} characters)"
        found.append(Problem("name_vi", "name-too-long" if name else "name-required", detail))
    if not isinstance(name_en, str) or len(name_en) > MAX_NAME_LENGTH:
        found.append(Problem("name_en", "name-too-long", f"name_en is text of at most {MAX_NAME_LENGTH} characters"))
    if period_kind not in PeriodKind.__members__.values():
        detail = f"period_kind is one of {', '.join(k.value for k in PeriodKind)}, not {period_kind!r}"
        found.append(Problem("period_kind", "period-kind-unknown", detail))
    if scope not in SCOPES:
        found.append(Problem("scope", "scope-unknown", f"scope is one of {', '.join(SCOPES)}, not {scope!r}"))
    codes = tuple(indicators) if isinstance(indicators, Sequence) and not isinstance(indicators, str) else ()
    if not codes or len(codes) > MAX_INDICATORS:
        found.append(Problem("indicators", "indicators-count", f"a report selects 1-{MAX_INDICATORS} indicators"))
    elif not all(isinstance(item, str) and item for item in codes):
        found.append(Problem("indicators", "indicators-codes", "indicators are indicator codes"))
    elif len(set(codes)) != len(codes):
        found.append(Problem("indicators", "indicator-twice", "an indicator is listed twice"))
    return found


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
        found = problems(self.code, self.name_vi, self.name_en, self.period_kind, self.scope, self.indicators)
        if found:
            raise InvalidReportDefinition(found[0].detail)
        object.__setattr__(self, "name_vi", nfc(self.name_vi).strip())
        object.__setattr__(self, "period_kind", PeriodKind(self.period_kind))
        object.__setattr__(self, "indicators", tuple(self.indicators))

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
            raise UnknownReportIndicators(f"unknown indicators: {', '.join(unknown)}")


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
