"""Refusals of the read side: what a query cannot answer, or not yet (each a `DomainError`)."""

from __future__ import annotations

from typing import Any

from domain.errors import DomainError, ErrorKind


class NotYetVisible(DomainError):
    """The read model has not applied the position the client waits for; retrying helps."""

    code = "not-yet-visible"
    kind = ErrorKind.CONFLICT
    retry_after = 1

    def __init__(self, detail: str, position: int) -> None:
        super().__init__(detail)
        self.position = position

    def extra(self) -> dict[str, Any]:
        return {"position": self.position}


class InvalidPeriodParameter(DomainError):
    """A period, or a range of periods, that the query cannot take."""

    code = "invalid-period"


class InvalidParameter(DomainError):
    """A parameter the read models cannot hold (PostgreSQL text holds no NUL character)."""

    code = "invalid-parameter"


class InvalidInstant(DomainError):
    """An instant without a time zone."""

    code = "invalid-instant"


class TooManyIndicators(DomainError):
    code = "too-many-indicators"


class AsOfRequired(DomainError):
    """Time travel names exactly one of a position or an instant."""

    code = "as-of-required"


class WrongAgency(DomainError):
    """An agency credential reads only its own agency's data."""

    code = "wrong-agency"
    kind = ErrorKind.FORBIDDEN


class TooManyRows(DomainError):
    """More rows than the export format holds."""

    code = "too-many-rows"
    kind = ErrorKind.TOO_LARGE
