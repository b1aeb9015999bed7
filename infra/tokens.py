"""Bearer tokens: random secrets, stored only as SHA-256 digests (decision 8).

The secret has 256 bits of entropy, so a fast hash is enough: there is nothing
to brute-force that a slow password hash would protect.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import TupleRow

from domain.identity import Principal, Role

TOKEN_PREFIX = "rpt_"  # noqa: S105 - a public prefix, not a secret


@dataclass(frozen=True)
class IssuedToken:
    secret: str
    principal: Principal


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def create_token(
    conn: psycopg.Connection[TupleRow],
    role: Role,
    agency: str | None = None,
    *,
    label: str = "",
    expires_at: datetime | None = None,
) -> IssuedToken:
    """Issue a token; the secret is shown once and never stored."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    subject = f"{role.value}:{agency + ':' if agency else ''}{secrets.token_hex(6)}"
    principal = Principal(subject=subject, role=role, agency=agency)
    with conn.transaction():
        conn.execute(
            "INSERT INTO api_tokens (token_hash, subject, role, agency, label, expires_at)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            (digest(secret), subject, role.value, agency, label, expires_at),
        )
    return IssuedToken(secret, principal)


def resolve_token(conn: psycopg.Connection[TupleRow], secret: str) -> Principal | None:
    """The principal of a valid token; None when unknown, revoked or expired."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    row = conn.execute(
        "SELECT subject, role, agency FROM api_tokens WHERE token_hash = %s"
        " AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())",
        (digest(secret),),
    ).fetchone()
    if row is None:
        return None
    return Principal(subject=row[0], role=Role(row[1]), agency=row[2])


def revoke_token(conn: psycopg.Connection[TupleRow], subject: str) -> bool:
    with conn.transaction():
        cur = conn.execute(
            "UPDATE api_tokens SET revoked_at = now() WHERE subject = %s AND revoked_at IS NULL",
            (subject,),
        )
        return cur.rowcount == 1
