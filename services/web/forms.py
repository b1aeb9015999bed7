"""What the pages' forms share: errors next to their fields, a key per rendered form so that a form sent
twice (a double click, a reload) answers as the first did, and waiting until a write is visible.

A refusal of the application (`DomainError`) carries an English message; pages show it in the reader's
language through the catalogues (the message is the msgid), next to the field it is about.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import orjson
from starlette.requests import Request

from domain.errors import DomainError
from services.ingest.application.access import Person
from services.ingest.application.errors import InvalidIdempotencyKey
from services.ingest.application.idempotency import Idempotency
from services.ingest.application.outcomes import Outcome, Replayed, Stored
from services.readmodels.errors import NotYetVisible
from services.readmodels.freshness import Freshness
from services.web.templating import gettext

FORM_KEY_FIELD = "form_key"
# How long a page waits for its write to reach the read model it shows next (read-your-writes).
VISIBLE_WAIT_MS = 5000


def new_form_key() -> str:
    return secrets.token_urlsafe(18)


def form_idempotency(person: Person, request: Request, key: str, fields: Mapping[str, object]) -> Idempotency | None:
    """The form's key bound to what it sent (`fields`: never a password, whose digest would be a weak hash)."""
    if not key:
        return None
    try:
        return Idempotency.of(person.principal.subject, key, request.method, request.url.path, dict(fields))
    except InvalidIdempotencyKey:
        return None


@dataclass
class FormErrors:
    """Messages, by field (`general` for the form as a whole), already in the reader's language."""

    fields: dict[str, str] = field(default_factory=dict)
    general: str = ""

    def __bool__(self) -> bool:
        return bool(self.fields or self.general)

    def add(self, name: str, message: str) -> None:
        self.fields.setdefault(name, message)

    def refusal(self, request: Request, name: str, error: DomainError) -> None:
        """A refusal of the application, next to the field `name` ("" for the whole form)."""
        message = gettext(request, error.detail)
        if name:
            self.add(name, message)
        elif not self.general:
            self.general = message


def position_of(outcome: Outcome) -> int | None:
    """The position of the last event a write stored (a replayed answer's too); None if it stored none."""
    if isinstance(outcome, Stored):
        return outcome.position
    if isinstance(outcome, Replayed):
        position = orjson.loads(outcome.answer).get("position")
        return position if isinstance(position, int) else None
    return None


class Visible(Protocol):
    """Something whose reads can wait for a position (a read model's query object)."""

    def visible(self, wanted: Freshness) -> int: ...


def wait_visible(queries: Visible, outcome: Outcome) -> bool:
    """Wait (bounded) until the read model shows the write; False if it does not in time (the page says so)."""
    position = position_of(outcome)
    if position is None:
        return True
    try:
        queries.visible(Freshness(position, VISIBLE_WAIT_MS))
    except NotYetVisible:
        return False
    return True
