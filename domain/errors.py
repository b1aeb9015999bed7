"""Domain errors. Each has a stable `code`; the HTTP layer maps codes to statuses."""

from __future__ import annotations

from dataclasses import dataclass, field


class DomainError(Exception):
    """A command refused by the domain; nothing is recorded."""

    code = "domain-error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class ValueRejection:
    """Why one value of a batch was refused (`index` is its position in the batch)."""

    index: int
    indicator: str
    reason: str
    detail: str


@dataclass
class BatchRejected(DomainError):
    """At least one value of a batch was invalid; the whole batch is refused."""

    rejections: list[ValueRejection] = field(default_factory=list)
    code = "invalid-values"

    def __post_init__(self) -> None:
        count = len(self.rejections)
        super().__init__(f"{count} value(s) rejected; nothing was recorded")


class SubmissionLocked(DomainError):
    """Values cannot change while a report is submitted or approved."""

    code = "submission-locked"


class InvalidTransition(DomainError):
    """A lifecycle step that the current status does not allow."""

    code = "invalid-transition"


class ReasonRequired(DomainError):
    code = "reason-required"


class InvalidReference(DomainError):
    """An administrative change names an agency, template or indicator that does not exist or does not fit."""

    code = "invalid-reference"


class InvalidDefinition(DomainError):
    """An indicator or rule definition the catalogue refuses (e.g. a changed value type)."""

    code = "invalid-definition"


class InvalidAgencyChange(DomainError):
    """A registration, rename or closure the registry refuses (bad code, dates out of order, ...)."""

    code = "invalid-agency"


class InvalidTemplateChange(DomainError):
    """A template version the template refuses (not after the latest start, not a month, a duplicate)."""

    code = "invalid-template"


class ValidationFailed(DomainError):
    """Submitting a report whose values break required indicators or rules."""

    code = "validation-failed"

    def __init__(self, detail: str, failures: list[dict[str, object]]) -> None:
        super().__init__(detail)
        self.failures = failures


class NotFound(DomainError):
    code = "not-found"


class Forbidden(DomainError):
    code = "forbidden"


class Conflict(DomainError):
    """The aggregate changed since the version the client based its request on."""

    code = "version-conflict"

    def __init__(self, detail: str, current_version: int) -> None:
        super().__init__(detail)
        self.current_version = current_version
