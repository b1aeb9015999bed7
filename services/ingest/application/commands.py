"""The writes the application accepts, as typed commands (what the client asked, parsed, nothing computed).

`expected_version` is the version the client based its change on (`If-Match`): when given, a
command on an aggregate at another version is a conflict instead of being retried on fresh state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from domain.agencies import AgencyKind
from domain.catalogue import Indicator
from domain.errors import InvalidAgencyChange, InvalidDefinition
from domain.identity import Role
from domain.report_definitions import ReportSpec
from domain.rules import Rule
from services.ingest.application.errors import InvalidIfMatch


def expected_version(if_match: str | None) -> int | None:
    """The version an `If-Match` header names ("12", '"12"' or 'W/"12"'); None without one."""
    if if_match is None:
        return None
    text = if_match.strip().strip('"').removeprefix("W/").strip('"')
    if not text.isdigit():
        raise InvalidIfMatch('If-Match holds the submission version, e.g. "12"')
    return int(text)


# ---- submissions -------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One raw value for one indicator; the indicator's type decides whether it is valid."""

    indicator: str
    value: object


@dataclass(frozen=True)
class EnterValues:
    """Values for one agency and month, all accepted or none; `reason` for corrections after a submission."""

    agency: str
    period: str
    entries: tuple[Entry, ...]
    reason: str | None = None
    expected_version: int | None = None

    @classmethod
    def of(
        cls, agency: str, period: str, entries: Sequence[tuple[str, object]], reason: str | None = None
    ) -> EnterValues:
        return cls(agency, period, tuple(Entry(code, value) for code, value in entries), reason)


class Action(StrEnum):
    SUBMIT = "submit"
    APPROVE = "approve"
    RETURN = "return"
    REOPEN = "reopen"
    RECALL = "recall"


@dataclass(frozen=True)
class ChangeStatus:
    """A step of one period's report: submit or recall (the agency), approve / return / reopen (the ministry)."""

    agency: str
    period: str
    action: Action
    reason: str | None = None
    expected_version: int | None = None


# ---- the catalogue, templates and report definitions -------------------------


@dataclass(frozen=True)
class DefineIndicators:
    """Add or revise indicator definitions and cross-indicator rules."""

    indicators: tuple[Indicator, ...]
    rules: tuple[Rule, ...] = ()

    @classmethod
    def from_dicts(
        cls, indicators: Sequence[Mapping[str, Any]], rules: Sequence[Mapping[str, Any]] = ()
    ) -> DefineIndicators:
        """From their JSON form (the seed files' and the API's)."""
        try:
            return cls(tuple(map(Indicator.from_dict, indicators)), tuple(map(Rule.from_dict, rules)))
        except (KeyError, ValueError, TypeError, ArithmeticError) as error:  # ArithmeticError: Decimal("q8")
            raise InvalidDefinition(str(error)) from None


@dataclass(frozen=True)
class PublishTemplate:
    """Create a template with its first version, or publish its next version.

    A next version starts at a month not yet open for entry, unless `backfill` (loading a
    regime's history into a new store, as the seed does). Names, `applies_to` and `base` are
    needed only to create the template.
    """

    code: str
    effective_from: str
    indicators: tuple[str, ...]
    name_vi: str = ""
    name_en: str = ""
    applies_to: str = ""
    base: str | None = None
    backfill: bool = False


@dataclass(frozen=True)
class DefineReport:
    """Add or revise a derived report type (`new_only`: refused if one with the code exists)."""

    spec: ReportSpec
    new_only: bool = False


# ---- the agency registry -----------------------------------------------------


@dataclass(frozen=True)
class Rename:
    effective_from: date
    name_vi: str
    name_en: str = ""


@dataclass(frozen=True)
class RegisterAgency:
    """Register an agency; for an agency already registered, apply its new renames, template and end.

    `merged_into` names the successor of an agency that ends on `effective_to`.
    """

    code: str
    name_vi: str
    kind: AgencyKind
    effective_from: date
    name_en: str = ""
    parent: str | None = None
    region: str | None = None
    template: str | None = None
    effective_to: date | None = None
    merged_into: str | None = None
    renames: tuple[Rename, ...] = ()
    electronic_code: str | None = None  # QCVN 102:2016, e.g. 000.00.00.H26

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RegisterAgency:
        """From its JSON form (the seed file's and the API's); dates are ISO dates."""
        try:
            return cls(
                code=str(data["code"]),
                name_vi=str(data["name_vi"]),
                name_en=str(data.get("name_en") or ""),
                kind=AgencyKind(data["kind"]),
                effective_from=date.fromisoformat(str(data["effective_from"])),
                parent=data.get("parent"),
                region=data.get("region"),
                template=data.get("template"),
                effective_to=date.fromisoformat(str(data["effective_to"])) if data.get("effective_to") else None,
                merged_into=data.get("merged_into") or None,
                renames=tuple(
                    Rename(date.fromisoformat(str(r["effective_from"])), str(r["name_vi"]), str(r.get("name_en") or ""))
                    for r in data.get("renames") or ()
                ),
                electronic_code=data.get("electronic_code") or None,
            )
        except (KeyError, ValueError, TypeError) as error:
            raise InvalidAgencyChange(str(error)) from None


@dataclass(frozen=True)
class RenameAgency:
    """A new name from `effective_from`; earlier periods keep the names they were reported under."""

    code: str
    effective_from: date
    name_vi: str
    name_en: str = ""


@dataclass(frozen=True)
class CloseAgency:
    """The agency's last day; with a successor, a merge (the successor reports from the next day)."""

    code: str
    effective_to: date
    successor: str | None = None


@dataclass(frozen=True)
class AssignElectronicCode:
    """The agency's electronic identifier code in the national scheme (QCVN 102:2016)."""

    code: str
    electronic_code: str


@dataclass(frozen=True)
class AssignTemplate:
    """The template the agency fills for periods not opened yet (opened ones keep theirs)."""

    code: str
    template: str


# ---- people ------------------------------------------------------------------


@dataclass(frozen=True)
class CreateAccount:
    """A person's account: agency accounts report for their agency, ministry accounts hold ministry roles."""

    username: str
    display_name: str
    agency: str | None
    roles: frozenset[Role]
    password: str = field(repr=False)


@dataclass(frozen=True)
class SetRoles:
    username: str
    roles: frozenset[Role]


@dataclass(frozen=True)
class RenameAccount:
    username: str
    display_name: str


@dataclass(frozen=True)
class DisableAccount:
    username: str
    reason: str | None = None


@dataclass(frozen=True)
class EnableAccount:
    username: str
    reason: str | None = None


@dataclass(frozen=True)
class ResetPassword:
    """An administrator sets a person's password (the person changes it at the next sign-in)."""

    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class ChangePassword:
    """A person changes their own password, proving the current one."""

    current: str = field(repr=False)
    new: str = field(repr=False)


# ---- systems' API tokens -----------------------------------------------------


@dataclass(frozen=True)
class IssueToken:
    """A system's token: one role, the agency of an agency reporter, which system holds it (`label`),
    and the last Vietnamese calendar day it works (None: until revoked)."""

    role: Role
    agency: str | None
    label: str
    valid_until: date | None = None


@dataclass(frozen=True)
class RevokeToken:
    """Refuse a token from now on; `token` is its public name (its subject), never its secret."""

    token: str
    reason: str | None = None
