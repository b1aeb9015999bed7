"""Who is acting: roles and the principal a credential resolves to (design decision 8)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    AGENCY_REPORTER = "agency_reporter"
    MINISTRY_REVIEWER = "ministry_reviewer"
    AUDITOR = "auditor"
    ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    """The identity behind a request; the agency comes from the credential, never the body."""

    subject: str
    role: Role
    agency: str | None = None

    def __post_init__(self) -> None:
        if (self.role is Role.AGENCY_REPORTER) != (self.agency is not None):
            raise ValueError("an agency reporter has exactly one agency; other roles none")

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
