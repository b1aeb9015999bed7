"""Refusals. Each has a stable `code` and a `kind`; the HTTP layer maps kinds to statuses.

`DomainError` is the base of every refusal the system gives (the domain's own, and the
application layers' subclasses of it): nothing is recorded when one is raised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar


class ErrorKind(StrEnum):
    """What sort of refusal: the HTTP layer gives each kind one status."""

    INVALID = "invalid"  # the request is wrong (422)
    NOT_FOUND = "not-found"  # no such resource (404)
    CONFLICT = "conflict"  # the current state does not allow it, or not yet (409)
    FORBIDDEN = "forbidden"  # the credential may not do it (403)
    UNAUTHENTICATED = "unauthenticated"  # no valid credential (401)
    TOO_LARGE = "too-large"  # body, batch or result too large (413)
    MALFORMED = "malformed"  # a malformed header or parameter syntax (400)
    RATE_LIMITED = "rate-limited"  # too many requests (429)


class DomainError(Exception):
    """A refused command or query; nothing is recorded."""

    code: ClassVar[str] = "domain-error"
    kind: ClassVar[ErrorKind] = ErrorKind.INVALID
    # Seconds a client should wait before retrying, if retrying helps: a class default that a refusal
    # whose wait depends on the moment (a rate limit) sets on itself.
    retry_after: int | None = None

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def extra(self) -> dict[str, Any]:
        """Members a refusal adds to the problem body (e.g. the rejected values)."""
        return {}


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
    code: ClassVar[str] = "invalid-values"

    def __post_init__(self) -> None:
        count = len(self.rejections)
        super().__init__(f"{count} value(s) rejected; nothing was recorded")

    def extra(self) -> dict[str, Any]:
        return {
            "errors": [
                {"index": r.index, "indicator": r.indicator, "reason": r.reason, "detail": r.detail}
                for r in self.rejections
            ]
        }


class SubmissionLocked(DomainError):
    """Values cannot change while a report is submitted or approved."""

    code = "submission-locked"
    kind = ErrorKind.CONFLICT


class InvalidSource(DomainError):
    """A value's source that is not an imported file's `sha256:<hex>`."""

    code = "invalid-source"


class InvalidTransition(DomainError):
    """A lifecycle step that the current status does not allow."""

    code = "invalid-transition"
    kind = ErrorKind.CONFLICT


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

    def extra(self) -> dict[str, Any]:
        return {"failures": self.failures}


class NotFound(DomainError):
    code = "not-found"
    kind = ErrorKind.NOT_FOUND


class Forbidden(DomainError):
    code = "forbidden"
    kind = ErrorKind.FORBIDDEN


class Conflict(DomainError):
    """The aggregate changed since the version the client based its request on."""

    code = "version-conflict"
    kind = ErrorKind.CONFLICT

    def __init__(self, detail: str, current_version: int) -> None:
        super().__init__(detail)
        self.current_version = current_version

    def extra(self) -> dict[str, Any]:
        return {"current_version": self.current_version}
