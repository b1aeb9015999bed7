"""Rows of the registry and template queries: an agency on a date, a template with its versions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from domain.agencies import AgencyName, name_in_force
from domain.periods import Period
from domain.templates import TemplateVersion, version_in_force


@dataclass(frozen=True)
class RegistryEntry:
    """One row of the registry read model (`rm_ref_agencies`)."""

    code: str
    names: tuple[AgencyName, ...]
    kind: str
    region: str | None
    parent: str | None
    template: str | None
    effective_from: date
    effective_to: date | None
    successor: str | None
    electronic_code: str | None = None  # QCVN 102:2016

    def active_on(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)


@dataclass(frozen=True)
class AgencyOnDate:
    """An agency as the registry stood on `on`: the agencies merged into it and who reported for it then."""

    entry: RegistryEntry
    on: date
    predecessors: list[str]
    reporting_unit: str | None

    def to_json(self) -> dict[str, Any]:
        entry = self.entry
        name = name_in_force(entry.names, self.on)
        return {
            "code": entry.code,
            "name_vi": name.name_vi,
            "name_en": name.name_en,
            "kind": entry.kind,
            "region": entry.region,
            "parent": entry.parent,
            "template": entry.template,
            "effective_from": entry.effective_from.isoformat(),
            "effective_to": None if entry.effective_to is None else entry.effective_to.isoformat(),
            "active": entry.active_on(self.on),
            "successor": entry.successor,
            "electronic_code": entry.electronic_code,
            "predecessors": self.predecessors,
            "reporting_unit": self.reporting_unit,
            "names": [
                {"effective_from": n.effective_from.isoformat(), "name_vi": n.name_vi, "name_en": n.name_en}
                for n in entry.names
            ],
        }


def _version_json(version: TemplateVersion | None) -> dict[str, Any] | None:
    if version is None:
        return None
    return {
        "version": version.version,
        "effective_from": version.effective_from,
        "indicators": list(version.indicators),
    }


@dataclass(frozen=True)
class TemplateEntry:
    """A template with its versions, oldest first."""

    code: str
    name_vi: str
    name_en: str
    applies_to: str
    base: str | None
    versions: tuple[TemplateVersion, ...]

    def in_force(self, period: Period) -> dict[str, Any] | None:
        """The version in force for the period's first month, as JSON (None before the first)."""
        return _version_json(version_in_force(self.versions, period))

    def to_json(self, period: Period | None = None) -> dict[str, Any]:
        """The template and its versions; with `period`, the version in force for it too."""
        body: dict[str, Any] = {
            "code": self.code,
            "name_vi": self.name_vi,
            "name_en": self.name_en,
            "applies_to": self.applies_to,
            "base": self.base,
            "versions": [_version_json(v) for v in self.versions],
        }
        if period is not None:
            body["period"] = period.code
            body["in_force"] = self.in_force(period)
        return body
