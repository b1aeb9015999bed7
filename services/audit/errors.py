"""Refusals of the transparency log's queries (each a `DomainError`)."""

from __future__ import annotations

from domain.errors import DomainError, ErrorKind


class EventRequired(DomainError):
    """An inclusion proof names its event by exactly one of position and event id."""

    code = "event-required"


class InvalidSizes(DomainError):
    code = "invalid-sizes"


class NotYetCheckpointed(DomainError):
    """No signed checkpoint covers the event yet; a later one will."""

    code = "not-yet-checkpointed"
    kind = ErrorKind.CONFLICT


class NotCovered(DomainError):
    """The event is not in the tree of the checkpoint asked for."""

    code = "not-covered"


class InconsistentLog(DomainError):
    """The stored log does not verify against a signed checkpoint: a matter for `reporting audit verify`."""

    code = "inconsistent-log"
    kind = ErrorKind.CONFLICT
