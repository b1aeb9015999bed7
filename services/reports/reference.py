"""Reference data on the read side: agencies, indicators, templates, report definitions, in memory.

Loaded from the reference read models (`rm_ref_*`, `rm_report_definitions`) and
kept per process until their version (the count of reference events applied)
changes, so a roll-up query does not re-read the registry. From it come the
*expected* counts: how many agencies had to report an indicator in a period
(agencies active in the period's cut-off window whose template, in the version
in force for the period, holds the indicator), overall, per region, per kind.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg.rows import TupleRow

from domain.periods import Period, PeriodKind
from domain.values import Aggregation, ValueType

NATIONAL = "national"


@dataclass(frozen=True)
class AgencyInfo:
    code: str
    name_vi: str
    name_en: str
    names: tuple[tuple[date, str, str], ...]
    kind: str
    region: str | None
    template: str | None
    effective_from: date
    effective_to: date | None
    successor: str | None

    def active_in(self, period: Period) -> bool:
        """The agency existed during some day of the period's cut-off window."""
        start, end = period.cutoff_window()
        return self.effective_from <= end and (self.effective_to is None or self.effective_to >= start)

    def name_in(self, period: Period) -> str:
        """Its Vietnamese name in force at the end of the period: history keeps the name it reported under."""
        end = period.cutoff_window()[1]
        current = self.names[0][1] if self.names else self.name_vi
        for effective_from, name_vi, _ in self.names:
            if effective_from <= end:
                current = name_vi
        return current

    def in_scope(self, scope: str) -> bool:
        if scope == NATIONAL:
            return True
        kind, _, value = scope.partition(":")
        if kind == "region":
            return self.region == value
        if kind == "kind":
            return self.kind == value
        return False


@dataclass(frozen=True)
class IndicatorInfo:
    code: str
    name_vi: str
    name_en: str
    unit: str
    group: str
    value_type: ValueType
    aggregation_time: Aggregation
    aggregation_agencies: Aggregation


@dataclass(frozen=True)
class TemplateInfo:
    code: str
    base: str | None
    versions: tuple[tuple[Period, frozenset[str]], ...]  # (first month, indicators), oldest first

    def indicators_for(self, period: Period) -> frozenset[str]:
        """The version in force for the period's first month (as `domain.templates.Template.version_for`)."""
        first = period.months()[0]
        chosen: frozenset[str] = frozenset()
        for start, indicators in self.versions:
            if start <= first:
                chosen = indicators
        return chosen


@dataclass(frozen=True)
class DefinitionInfo:
    code: str
    name_vi: str
    name_en: str
    period_kind: PeriodKind
    scope: str
    indicators: tuple[str, ...]
    revision: int
    actor: str
    defined_at: datetime
    position: int

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name_vi": self.name_vi,
            "name_en": self.name_en,
            "period_kind": str(self.period_kind),
            "scope": self.scope,
            "indicators": list(self.indicators),
            "revision": self.revision,
            "actor": self.actor,
            "defined_at": self.defined_at,
            "position": self.position,
        }


@dataclass
class Reference:
    version: int
    agencies: dict[str, AgencyInfo]
    indicators: dict[str, IndicatorInfo]
    templates: dict[str, TemplateInfo]
    definitions: dict[str, DefinitionInfo]
    _forms: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    _expected: dict[tuple[str, str], Counter[str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def regions(self) -> list[str]:
        return sorted({a.region for a in self.agencies.values() if a.region})

    def kinds(self) -> list[str]:
        return sorted({a.kind for a in self.agencies.values()})

    def form(self, template: str, period: Period) -> frozenset[str]:
        """The indicators an agency on `template` reports for `period` (its base template's first)."""
        key = (template, period.code)
        cached = self._forms.get(key)
        if cached is not None:
            return cached
        info = self.templates.get(template)
        indicators: frozenset[str] = frozenset()
        if info is not None:
            indicators = info.indicators_for(period)
            base = self.templates.get(info.base) if info.base else None
            if base is not None:
                indicators |= base.indicators_for(period)
        self._forms[key] = indicators
        return indicators

    def expected_agencies(self, period: Period, scope: str = NATIONAL) -> list[AgencyInfo]:
        """Agencies that had to report for `period`: active in it, with a template, in the scope."""
        return [
            a for a in self.agencies.values() if a.template is not None and a.in_scope(scope) and a.active_in(period)
        ]

    def expected(self, period: Period, scope: str = NATIONAL) -> Counter[str]:
        """Indicator -> how many agencies of the scope had to report it for the period."""
        key = (period.code, scope)
        with self._lock:
            cached = self._expected.get(key)
        if cached is not None:
            return cached
        per_template = Counter(a.template for a in self.expected_agencies(period, scope) if a.template)
        counts: Counter[str] = Counter()
        for template, agencies in per_template.items():
            for indicator in self.form(template, period):
                counts[indicator] += agencies
        with self._lock:
            if len(self._expected) > 50_000:
                self._expected.clear()
            self._expected[key] = counts
        return counts

    def must_report(self, agency: AgencyInfo, indicator: str, period: Period) -> bool:
        if agency.template is None or not agency.active_in(period):
            return False
        return indicator in self.form(agency.template, period)


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


class ReferenceCache:
    """One snapshot per process, reloaded when the reference read models have changed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshot: Reference | None = None

    def get(self, conn: psycopg.Connection[TupleRow]) -> Reference:
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
