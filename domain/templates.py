"""Templates (report forms): versioned sets of indicators an agency fills each period.

A period is filled against the version in force for it, and a submission pins
that version when it opens, so publishing a new version never changes a past period.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.catalogue import Catalogue, Indicator
from domain.errors import InvalidReference, InvalidTemplateChange, NotFound
from domain.ids import aggregate_id
from domain.periods import InvalidPeriod, Period, PeriodKind
from domain.rules import Rule
from domain.values import has_control_characters, is_code, nfc


@dataclass(frozen=True)
class TemplateVersion:
    version: int
    effective_from: str  # a monthly period code: the first month it applies to
    indicators: tuple[str, ...]


class Template(Aggregate):
    """A report form; `base` names a template whose indicators this one extends."""

    class Created(Aggregate.Created):
        code: str
        name_vi: str
        name_en: str
        applies_to: str
        base: str | None
        actor: str
        role: str

    class VersionPublished(Aggregate.Event):
        version: int
        effective_from: str
        indicators: list[str]
        actor: str
        role: str

        def apply(self, aggregate: Template) -> None:
            aggregate.versions.append(TemplateVersion(self.version, self.effective_from, tuple(self.indicators)))

    def __init__(
        self,
        code: str,
        name_vi: str,
        name_en: str,
        applies_to: str,
        base: str | None,
        actor: str,
        role: str,
    ) -> None:
        self.code = code
        self.name_vi = name_vi
        self.name_en = name_en
        self.applies_to = applies_to
        self.base = base
        self.versions: list[TemplateVersion] = []

    @staticmethod
    def create_id(code: str) -> UUID:
        return template_id(code)

    @classmethod
    def open(
        cls,
        code: str,
        name_vi: str,
        name_en: str,
        applies_to: str,
        base: str | None,
        actor: str,
        role: str,
    ) -> Template:
        if not is_code(code):
            raise InvalidTemplateChange(f"template code must be printable ASCII without spaces or '/': {code!r}")
        if any(has_control_characters(text) for text in (name_vi, name_en, applies_to)):
            raise InvalidTemplateChange("names hold no control characters (e.g. NUL)")
        return cls(
            code=code,
            name_vi=nfc(name_vi),
            name_en=name_en,
            applies_to=applies_to,
            base=base,
            actor=actor,
            role=role,
        )

    def publish(
        self,
        effective_from: str,
        indicators: Sequence[str],
        catalogue: Catalogue,
        actor: str,
        role: str,
        *,
        not_before: Period | None = None,
    ) -> TemplateVersion:
        """Publish the next version; it may only start after the latest one starts.

        With `not_before` (the first month not yet open for entry), a new version of a
        template that already has one must start there or later: periods already open keep
        their form. A template's first version may start earlier (nobody filled it yet);
        loading a regime's history passes no `not_before`.
        """
        try:
            start = Period.parse(effective_from)
        except InvalidPeriod as error:
            raise InvalidTemplateChange(str(error)) from None
        if start.kind is not PeriodKind.MONTH:
            raise InvalidTemplateChange("a template version starts at a month (YYYY-MM)")
        latest = self.versions[-1] if self.versions else None
        if latest is not None and start <= Period.parse(latest.effective_from):
            raise InvalidTemplateChange(
                f"version must start after {latest.effective_from}, the start of version "
                f"{latest.version}: past periods keep the form they were filled on"
            )
        if latest is not None and not_before is not None and start < not_before:
            raise InvalidTemplateChange(
                f"a new version must start at {not_before} or later: periods already open keep their form"
            )
        if not indicators:
            raise InvalidTemplateChange("a version lists at least one indicator")
        unknown = [code for code in indicators if code not in catalogue.indicators]
        if unknown:
            raise InvalidReference(f"unknown indicators: {', '.join(unknown)}")
        if len(set(indicators)) != len(indicators):
            raise InvalidTemplateChange("an indicator is listed twice")
        number = 1 if latest is None else latest.version + 1
        self.trigger_event(
            self.VersionPublished,
            version=number,
            effective_from=start.code,
            indicators=list(indicators),
            actor=actor,
            role=role,
        )
        return self.versions[-1]

    def version_for(self, period: Period) -> TemplateVersion | None:
        """The version in force for the period's first month."""
        return version_in_force(self.versions, period)

    def version_number(self, number: int) -> TemplateVersion:
        for version in self.versions:
            if version.version == number:
                return version
        raise NotFound(f"template {self.code} has no version {number}")


def version_in_force(versions: Sequence[TemplateVersion], period: Period) -> TemplateVersion | None:
    """Of versions in publication order, the one in force for the period's first month (None before the first)."""
    first_month = period.months()[0]
    in_force = None
    for version in versions:
        if Period.parse(version.effective_from) <= first_month:
            in_force = version
    return in_force


def template_id(code: str) -> UUID:
    return aggregate_id("template", code)


@dataclass(frozen=True)
class Form:
    """A template version resolved against the catalogue: what a submission accepts."""

    template: str
    version: int
    indicators: Mapping[str, Indicator]
    rules: tuple[Rule, ...]

    @classmethod
    def build(
        cls,
        template: Template,
        version: TemplateVersion,
        catalogue: Catalogue,
        base_indicators: Sequence[str] = (),
    ) -> Form:
        codes = list(dict.fromkeys([*base_indicators, *version.indicators]))
        indicators = {code: catalogue.indicators[code] for code in codes}
        # A rule applies to a form when every indicator it names is on the form.
        rules = tuple(rule for rule in catalogue.rules.values() if all(code in indicators for code in rule.indicators))
        return cls(template.code, version.version, indicators, rules)

    def describe(self) -> dict[str, Any]:
        return {
            "template": self.template,
            "version": self.version,
            "indicators": [indicator.to_dict() for indicator in self.indicators.values()],
            "rules": [rule.to_dict() for rule in self.rules],
        }
