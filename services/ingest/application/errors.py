"""The write application's refusals (the domain's own are in `domain.errors`)."""

from __future__ import annotations

from domain.errors import DomainError, ErrorKind


class PeriodNotOpen(DomainError):
    """The period's cut-off window has not started, the agency did not exist then, or it has no template."""

    code = "period-not-open"


class InvalidPeriodError(DomainError):
    """Not a period code, or not a month where values are entered."""

    code = "invalid-period"


class IdempotencyKeyReused(DomainError):
    code = "idempotency-key-reused"


class InvalidIdempotencyKey(DomainError):
    code = "invalid-idempotency-key"
    kind = ErrorKind.MALFORMED


class InvalidIfMatch(DomainError):
    code = "invalid-if-match"
    kind = ErrorKind.MALFORMED


class TooManyValues(DomainError):
    code = "too-many-values"
    kind = ErrorKind.TOO_LARGE
