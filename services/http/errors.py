"""The refusals of the HTTP layer itself: credentials, limits, agency access."""

from __future__ import annotations

from typing import Any

from domain.errors import DomainError, ErrorKind


class Unauthenticated(DomainError):
    """No token, or an unknown, revoked or expired one."""

    code = "unauthorized"
    kind = ErrorKind.UNAUTHENTICATED


class WrongAgency(DomainError):
    """An agency token naming another agency."""

    code = "wrong-agency"
    kind = ErrorKind.FORBIDDEN


class RateLimited(DomainError):
    code = "rate-limited"
    kind = ErrorKind.RATE_LIMITED

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class PageTooLarge(DomainError):
    code = "page-too-large"

    def __init__(self, maximum: int) -> None:
        super().__init__(f"limit is at most {maximum}")
        self.maximum = maximum

    def extra(self) -> dict[str, Any]:
        return {"maximum": self.maximum}


class BodyTooLarge(DomainError):
    code = "body-too-large"
    kind = ErrorKind.TOO_LARGE
