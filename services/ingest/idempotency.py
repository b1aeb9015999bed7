"""Idempotency-Key handling: a retry with the same key and body gets the original response.

The record is written in the same transaction as the events it produced (see
`infra.event_store.ReportingRecorder`); a request that stored no event writes
its record on its own.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import orjson
import psycopg
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool

from services.http.problems import Problem

MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class StoredResponse:
    fingerprint: bytes
    status_code: int
    body: bytes


def fingerprint(method: str, path: str, body: object) -> bytes:
    """Same method, path and (canonical) body: the same request."""
    canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + canonical).digest()


def check_key(key: str) -> str:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise Problem(
            400, "invalid-idempotency-key", "Invalid Idempotency-Key", f"1 to {MAX_KEY_LENGTH} printable characters"
        )
    return key


class IdempotencyStore:
    def __init__(self, pool: ConnectionPool[psycopg.Connection[TupleRow]]) -> None:
        self.pool = pool

    def find(self, subject: str, key: str) -> StoredResponse | None:
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT fingerprint, status_code, response FROM idempotency_keys WHERE subject = %s AND key = %s",
                (subject, key),
            ).fetchone()
        return None if row is None else StoredResponse(bytes(row[0]), row[1], bytes(row[2]))

    def save_alone(self, subject: str, key: str, fp: bytes, status_code: int, body: bytes) -> None:
        """For a request that stored no event; the first writer of a key wins."""
        with self.pool.connection() as conn:
            conn.execute(
                "INSERT INTO idempotency_keys (subject, key, fingerprint, status_code, response)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (subject, key, fp, status_code, body),
            )
