"""Reference data on the read side, in memory: agencies, indicators, templates, report definitions.

A snapshot of the reference read model (loaded by `queries.py`, or folded from the log by
`asof.py`). From it come the *expected* counts: how many agencies had to report an indicator in
a period (agencies active in the period's cut-off window whose template, in the version in force
for the period, holds the indicator), overall, per region, per kind; and the resolution of what
a query names (indicators, scopes, report definitions) against what exists.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from domain.errors import NotFound
from domain.periods import Period, PeriodKind
from domain.scope import Dimension, Scope
from domain.values import Aggregation, ValueType


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
        return self.name_on(period.cutoff_window()[1])

    def name_on(self, day: date) -> str:
        """Its Vietnamese name in force on `day`."""
        current = self.names[0][1] if self.names else self.name_vi
        for effective_from, name_vi, _ in self.names:
            if effective_from <= day:
                current = name_vi
        return current

    def in_scope(self, scope: Scope) -> bool:
        return scope.contains(self.kind, self.region)


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
    _expected: dict[tuple[str, str], Counter[str]] = field(default_factory=dict)  # (period, scope) -> counts
    _agencies_expected: dict[tuple[str, str], list[AgencyInfo]] = field(default_factory=dict)
    _regions: list[str] | None = None
    _kinds: list[str] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def regions(self) -> list[str]:
        if self._regions is None:  # a snapshot does not change: its regions and kinds are found once
            self._regions = sorted({a.region for a in self.agencies.values() if a.region})
        return list(self._regions)

    def kinds(self) -> list[str]:
        if self._kinds is None:
            self._kinds = sorted({a.kind for a in self.agencies.values()})
        return list(self._kinds)

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

    def expected_agencies(self, period: Period, scope: Scope = Scope.NATIONAL) -> list[AgencyInfo]:
        """Agencies that had to report for `period`: active in it, with a template, in the scope (a list the
        snapshot keeps: not to be changed)."""
        key = (period.code, str(scope))
        with self._lock:
            cached = self._agencies_expected.get(key)
        if cached is not None:
            return cached
        found = [
            a for a in self.agencies.values() if a.template is not None and a.in_scope(scope) and a.active_in(period)
        ]
        with self._lock:
            if len(self._agencies_expected) > 10_000:
                self._agencies_expected.clear()
            self._agencies_expected[key] = found
        return found

    def expected(self, period: Period, scope: Scope | str = Scope.NATIONAL) -> Counter[str]:
        """Indicator -> how many agencies of the scope (a `Scope` or its text) had to report it for the period."""
        if isinstance(scope, str):
            scope = Scope.parse(scope)
        key = (period.code, str(scope))
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

    # ---- what a query names, resolved against what exists --------------------------

    def indicators_named(self, codes: Sequence[str] | None) -> list[str]:
        """The indicators asked for (default: every indicator), each once; NotFound for an unknown one."""
        if not codes:
            return sorted(self.indicators)
        unknown = [code for code in codes if code not in self.indicators]
        if unknown:
            raise NotFound(f"no indicator {', '.join(unknown[:10])}")
        return list(dict.fromkeys(codes))

    def scopes(self, scope: Scope) -> list[Scope]:
        """The scopes `scope` stands for (`region`: every region, ...); NotFound for a region or kind no agency has."""
        regions, kinds = self.regions(), self.kinds()
        if scope.value is not None and scope.value not in (regions if scope.dimension is Dimension.REGION else kinds):
            raise NotFound(f"no agency has {scope.dimension} {scope.value!r}")
        return scope.expand(regions, kinds)

    def definition(self, code: str) -> DefinitionInfo:
        found = self.definitions.get(code)
        if found is None:
            raise NotFound(f"no report definition {code}")
        return found
