"""The agency registry: reporting units, their hierarchy, renames and merges.

Organisations change (2025: ministries and departments merged, 63 provinces
became 34). An agency is never rewritten: a rename or a merge is an event with
the date it takes effect, and past submissions stay with the agency that made them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any, Protocol, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.errors import InvalidAgencyChange, InvalidReference, InvalidTransition
from domain.identifiers import parse_electronic_code
from domain.ids import aggregate_id
from domain.values import has_control_characters, is_code, nfc


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

        agency: str
        template: str
        actor: str
        role: str

        def apply(self, aggregate: Agency) -> None:
            aggregate.template = self.template

    class Renamed(Aggregate.Event):
        agency: str
        effective_from: date
        name_vi: str
        name_en: str
        actor: str
        role: str

        def apply(self, aggregate: Agency) -> None:
            aggregate.names.append(AgencyName(self.effective_from, self.name_vi, self.name_en))

    class Closed(Aggregate.Event):
        """The agency stops reporting after `effective_to`; `successor` takes over, if any."""

        agency: str
        effective_to: date
        successor: str | None
        actor: str
        role: str

        def apply(self, aggregate: Agency) -> None:
            aggregate.effective_to = self.effective_to
            aggregate.successor = self.successor

    class ElectronicCodeAssigned(Aggregate.Event):
        """The agency's electronic identifier code in the national scheme (QCVN 102:2016)."""

        agency: str
        electronic_code: str
        actor: str
        role: str

        def apply(self, aggregate: Agency) -> None:
            aggregate.electronic_code = self.electronic_code

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
        self.electronic_code: str | None = None
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
        if not is_code(code):
            raise InvalidAgencyChange(f"agency code must be printable ASCII without spaces or '/': {code!r}")
        _check_names(name_vi, name_en)
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
        self.trigger_event(self.TemplateAssigned, agency=self.code, template=template, actor=actor, role=role)
        return True

    def assign_electronic_code(self, electronic_code: str, actor: str, role: str) -> bool:
        """Give the agency its electronic identifier code (checked: QCVN 102:2016); False when it already has it."""
        try:
            code = parse_electronic_code(electronic_code)
        except ValueError as error:
            raise InvalidAgencyChange(str(error)) from None
        if code == self.electronic_code:
            return False
        self.trigger_event(self.ElectronicCodeAssigned, agency=self.code, electronic_code=code, actor=actor, role=role)
        return True

    def rename(self, effective_from: date, name_vi: str, name_en: str, actor: str, role: str) -> bool:
        name_vi = nfc(name_vi).strip()
        _check_names(name_vi, name_en)
        latest = self.names[-1]
        if effective_from <= latest.effective_from:
            raise InvalidAgencyChange(
                f"a rename must take effect after {latest.effective_from}: past names stay as they were"
            )
        if self.effective_to is not None and effective_from > self.effective_to:
            raise InvalidAgencyChange(f"{self.code} ended on {self.effective_to}; it cannot be renamed after that")
        if (latest.name_vi, latest.name_en) == (name_vi, name_en):
            return False
        self.trigger_event(
            self.Renamed,
            agency=self.code,
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
            raise InvalidTransition(f"{self.code} already ended on {self.effective_to}")
        if effective_to < self.effective_from:
            raise InvalidAgencyChange("an agency cannot end before it starts")
        if effective_to < self.names[-1].effective_from:
            raise InvalidAgencyChange(f"{self.code} was renamed on {self.names[-1].effective_from}, after that end")
        if successor == self.code:
            raise InvalidReference("an agency cannot merge into itself")
        self.trigger_event(
            self.Closed, agency=self.code, effective_to=effective_to, successor=successor, actor=actor, role=role
        )

    def merge_into(self, successor: Agency, effective_to: date, actor: str, role: str) -> None:
        """Close the agency on `effective_to`; `successor` reports for it from the next day.

        Many agencies may merge into one (63 provinces became 34 on 2025-07-01);
        the successor must be in force on the day after the merge.
        """
        check_successor(self, successor, effective_to)
        self.close(effective_to, successor.code, actor, role)

    def name_on(self, day: date) -> AgencyName:
        """The name in force on `day` (the first name for a day before the agency existed)."""
        return name_in_force(self.names, day)

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
            "electronic_code": self.electronic_code,
            "names": [
                {"effective_from": n.effective_from.isoformat(), "name_vi": n.name_vi, "name_en": n.name_en}
                for n in self.names
            ],
        }


def agency_id(code: str) -> UUID:
    return aggregate_id("agency", code)


def _check_names(name_vi: str, name_en: str) -> None:
    if not nfc(name_vi).strip():
        raise InvalidAgencyChange("a name is required")
    if has_control_characters(name_vi) or has_control_characters(name_en):
        raise InvalidAgencyChange("a name holds no control characters (e.g. NUL)")


def check_successor(agency: Agency, successor: Agency, effective_to: date) -> None:
    """A merge's successor is another agency, in force on the day after the merge."""
    if successor.code == agency.code:
        raise InvalidReference("an agency cannot merge into itself")
    if effective_to >= date.max:
        raise InvalidAgencyChange("a merge takes effect on a date")
    day_after = effective_to + timedelta(days=1)
    if not successor.active_on(day_after):
        raise InvalidReference(f"successor {successor.code} is not in force on {day_after.isoformat()}")


def name_in_force(names: Sequence[AgencyName], day: date) -> AgencyName:
    """Of names ordered by `effective_from`, the one in force on `day` (the first before any)."""
    current = names[0]
    for name in names:
        if name.effective_from <= day:
            current = name
    return current


class RegistryEntry(Protocol):
    """What the registry helpers need of an agency (the aggregate, or a row of a read model)."""

    @property
    def code(self) -> str: ...

    @property
    def effective_from(self) -> date: ...

    @property
    def effective_to(self) -> date | None: ...

    @property
    def successor(self) -> str | None: ...


E = TypeVar("E", bound=RegistryEntry)


def predecessors(registry: Iterable[E], code: str) -> list[str]:
    """The agencies merged into `code`, in code order (many-to-one merges)."""
    return sorted(entry.code for entry in registry if entry.successor == code)


def reporting_unit_on(registry: Mapping[str, E], code: str, day: date) -> E | None:
    """The agency that reports for `code` on `day`: itself while in force, else its successor, followed
    through successive merges; None when it had not started yet or ended without a successor."""
    entry = registry.get(code)
    seen: set[str] = set()
    while entry is not None and entry.code not in seen:
        seen.add(entry.code)
        if day < entry.effective_from:
            return None
        if entry.effective_to is None or day <= entry.effective_to:
            return entry
        entry = registry.get(entry.successor) if entry.successor is not None else None
    return None
