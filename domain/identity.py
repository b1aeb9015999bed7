"""Who is acting: roles and the principal a credential resolves to (docs/DECISIONS.md, *Identity*)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum


class Role(StrEnum):
    AGENCY_REPORTER = "agency_reporter"
    MINISTRY_REVIEWER = "ministry_reviewer"
    AUDITOR = "auditor"
    ADMIN = "admin"


# When a person holds several roles, the one an action is recorded under is the first of these
# that the action admits.
ROLE_ORDER = (Role.AGENCY_REPORTER, Role.MINISTRY_REVIEWER, Role.AUDITOR, Role.ADMIN)


@dataclass(frozen=True)
class Principal:
    """The identity behind a request; the agency comes from the credential, never the body.

    `role` is the role the principal acts in (what events record); `roles` every role it holds
    (a token holds one; a person may hold several ministry roles).
    """

    subject: str
    role: Role
    agency: str | None = None
    roles: frozenset[Role] = field(default=frozenset())

    def __post_init__(self) -> None:
        if not self.roles:
            object.__setattr__(self, "roles", frozenset({self.role}))
        if self.role not in self.roles:
            raise ValueError(f"{self.subject} does not hold the role {self.role}")
        if (Role.AGENCY_REPORTER in self.roles) != (self.agency is not None) or (
            self.agency is not None and len(self.roles) > 1
        ):
            raise ValueError("an agency reporter has exactly one agency and no other role; other roles no agency")

    @classmethod
    def of_roles(cls, subject: str, roles: Iterable[Role], agency: str | None = None) -> Principal:
        held = frozenset(roles)
        primary = next(role for role in ROLE_ORDER if role in held)
        return cls(subject, primary, agency, held)

    def acting_as(self, allowed: Iterable[Role]) -> Principal | None:
        """This principal acting in the first role it holds that `allowed` admits; None if it holds none."""
        admitted = frozenset(allowed)
        for role in ROLE_ORDER:
            if role in self.roles and role in admitted:
                return self if role is self.role else replace(self, role=role)
        return None

    def can_write_agency(self, agency: str) -> bool:
        return self.role is Role.AGENCY_REPORTER and self.agency == agency

    def can_read_agency(self, agency: str) -> bool:
        if self.role is Role.AGENCY_REPORTER:
            return self.agency == agency
        return True

    @property
    def can_review(self) -> bool:
        return self.role is Role.MINISTRY_REVIEWER

    @property
    def can_administer(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def reads_everything(self) -> bool:
        return self.role is not Role.AGENCY_REPORTER
