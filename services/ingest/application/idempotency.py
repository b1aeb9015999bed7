"""Idempotency-Key handling, pure: which request a key names, and whether a stored answer is its own.

A retry with the same key and the same request gets the first answer, whatever happened since;
the same key with another request is refused. The answer is stored in the same transaction as
the events it produced (the event store's `save`), or alone when the request stored no event.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import orjson

from services.ingest.application.errors import IdempotencyKeyReused, InvalidIdempotencyKey
from services.ingest.application.ports import StoredAnswer

MAX_KEY_LENGTH = 200


def fingerprint(method: str, path: str, body: object) -> bytes:
    """Same method, path and (canonical) body: the same request."""
    canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + canonical).digest()


def check_key(key: str) -> str:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidIdempotencyKey(f"1 to {MAX_KEY_LENGTH} printable characters")
    return key


@dataclass(frozen=True)
class Idempotency:
    """A request's Idempotency-Key: scoped to the credential's subject, bound to the request's fingerprint."""

    subject: str
    key: str
    fingerprint: bytes

    @classmethod
    def of(cls, subject: str, key: str, method: str, path: str, body: object) -> Idempotency:
        return cls(subject, check_key(key), fingerprint(method, path, body))


def first_answer(idempotency: Idempotency, stored: StoredAnswer | None) -> bytes | None:
    """The answer stored for this key, if any; refused when it answered another request."""
    if stored is None:
        return None
    if stored.fingerprint != idempotency.fingerprint:
        raise IdempotencyKeyReused("this Idempotency-Key was already used with a different request")
    return stored.body
