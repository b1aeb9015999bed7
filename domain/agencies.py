"""The agency registry: reporting units, their hierarchy, renames and merges.

Organisations change (2025: ministries and departments merged, 63 provinces
became 34). An agency is never rewritten: a rename or a merge is an event with
the date it takes effect, and past submissions stay with the agency that made them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.errors import DomainError
from domain.ids import aggregate_id
from domain.values import nfc


class AgencyKind(StrEnum):
    MINISTRY = "ministry"
    MINISTRY_UNIT = "ministry_unit"
    PROVINCIAL_DEPARTMENT = "provincial_department"


@dataclass(frozen=True)
class AgencyName:
    effective_from: date
    name_vi: str
    name_en: str


class Agency(Aggregate):
    class Registered(Aggregate.Created):
        code: str
        name_vi: str
        name_en: str
        kind: str
        parent: str | None
        region: str | None
        template: str | None
        effective_from: date
        actor: str
        role: str

    class TemplateAssigned(Aggregate.Event):
        """From now on the agency fills this template (past periods keep theirs)."""

        template: str
        actor: str
        role: str

        def apply(self, aggregate: Agency) -> None:
            aggregate.template = self.template

    class Renamed(Aggregate.Event):
        effective_from: date
        name_vi: str
        name_en: str
        actor: str
        role: str

        def apply(self, aggregate: Agency) -> None:
            aggregate.names.append(AgencyName(self.effective_from, self.name_vi, self.name_en))

    class Closed(Aggregate.Event):
        """The agency stops reporting after `effective_to`; `successor` takes over, if any."""

        effective_to: date
        successor: str | None
        actor: str
        role: str

        def apply(self, aggregate: Agency) -> None:
            aggregate.effective_to = self.effective_to
            aggregate.successor = self.successor

    def __init__(
        self,
        code: str,
        name_vi: str,
        name_en: str,
        kind: str,
        parent: str | None,
        region: str | None,
        template: str | None,
        effective_from: date,
        actor: str,
        role: str,
    ) -> None:
        self.code = code
        self.template = template
        self.kind = AgencyKind(kind)
        self.parent = parent
        self.region = region
        self.effective_from = effective_from
        self.effective_to: date | None = None
        self.successor: str | None = None
        self.names = [AgencyName(effective_from, name_vi, name_en)]

    @staticmethod
    def create_id(code: str) -> UUID:
        return agency_id(code)

    @classmethod
    def register(
        cls,
        code: str,
        name_vi: str,
        name_en: str,
        kind: AgencyKind,
        parent: str | None,
        region: str | None,
        template: str | None,
        effective_from: date,
        actor: str,
        role: str,
    ) -> Agency:
        if not code or not code.isascii() or " " in code or "/" in code:
            raise DomainError(f"agency code must be ASCII without spaces or '/': {code!r}")
        return cls(
            code=code,
            name_vi=nfc(name_vi),
            name_en=name_en,
            kind=str(kind),
            parent=parent,
            region=region,
            template=template,
            effective_from=effective_from,
            actor=actor,
            role=role,
        )

    def assign_template(self, template: str, actor: str, role: str) -> bool:
        if self.template == template:
            return False
        self.trigger_event(self.TemplateAssigned, template=template, actor=actor, role=role)
        return True

    def rename(self, effective_from: date, name_vi: str, name_en: str, actor: str, role: str) -> bool:
        name_vi = nfc(name_vi)
        latest = self.names[-1]
        if effective_from <= latest.effective_from:
            raise DomainError(f"a rename must take effect after {latest.effective_from}")
        if (latest.name_vi, latest.name_en) == (name_vi, name_en):
            return False
        self.trigger_event(
            self.Renamed,
            effective_from=effective_from,
            name_vi=name_vi,
            name_en=name_en,
            actor=actor,
            role=role,
        )
        return True

    def close(self, effective_to: date, successor: str | None, actor: str, role: str) -> None:
        """End the agency; with a successor this is a (many-to-one) merge."""
        if self.effective_to is not None:
            raise DomainError(f"{self.code} already ended on {self.effective_to}")
        if effective_to < self.effective_from:
            raise DomainError("an agency cannot end before it starts")
        if successor == self.code:
            raise DomainError("an agency cannot merge into itself")
        self.trigger_event(self.Closed, effective_to=effective_to, successor=successor, actor=actor, role=role)

    def name_on(self, day: date) -> AgencyName:
        current = self.names[0]
        for name in self.names:
            if name.effective_from <= day:
                current = name
        return current

    def active_on(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)

    def describe(self, on: date | None = None) -> dict[str, Any]:
        name = self.names[-1] if on is None else self.name_on(on)
        return {
            "code": self.code,
            "name_vi": name.name_vi,
            "name_en": name.name_en,
            "kind": str(self.kind),
            "parent": self.parent,
            "region": self.region,
            "template": self.template,
            "effective_from": self.effective_from.isoformat(),
            "effective_to": None if self.effective_to is None else self.effective_to.isoformat(),
            "successor": self.successor,
            "names": [
                {"effective_from": n.effective_from.isoformat(), "name_vi": n.name_vi, "name_en": n.name_en}
                for n in self.names
            ],
        }


def agency_id(code: str) -> UUID:
    return aggregate_id("agency", code)
