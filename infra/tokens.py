"""Bearer tokens: random secrets, stored only as SHA-256 digests (docs/DECISIONS.md, *Identity comes
from the credential*).

The secret has 256 bits of entropy, so a fast hash is enough: there is nothing
to brute-force that a slow password hash would protect. `TokenStore` is what the HTTP
services use (the authenticator, the admin API); the functions take a connection (CLI, tests).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool

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


def revoke_token(conn: psycopg.Connection[TupleRow], subject: str, revoked_by: str | None = None) -> bool:
    """Revoke now; False when there is no such token or it was already revoked."""
    with conn.transaction():
        cur = conn.execute(
            "UPDATE api_tokens SET revoked_at = now(), revoked_by = %s WHERE subject = %s AND revoked_at IS NULL",
            (revoked_by, subject),
        )
        return cur.rowcount == 1


@dataclass(frozen=True)
class TokenInfo:
    """What an admin may see of a token: never its secret, nor its hash."""

    subject: str
    role: Role
    agency: str | None
    label: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None

    def to_json(self) -> dict[str, object]:
        return {
            "subject": self.subject,
            "role": self.role.value,
            "agency": self.agency,
            "label": self.label,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "revoked_at": self.revoked_at,
            "revoked_by": self.revoked_by,
        }


_INFO_COLUMNS = "subject, role, agency, label, created_at, expires_at, revoked_at, revoked_by"


def _info(row: tuple[object, ...]) -> TokenInfo:
    subject, role, agency, label, created_at, expires_at, revoked_at, revoked_by = row
    return TokenInfo(
        str(subject),
        Role(str(role)),
        None if agency is None else str(agency),
        str(label),
        created_at,  # type: ignore[arg-type]
        expires_at,  # type: ignore[arg-type]
        revoked_at,  # type: ignore[arg-type]
        None if revoked_by is None else str(revoked_by),
    )


def token_info(conn: psycopg.Connection[TupleRow], subject: str) -> TokenInfo | None:
    row = conn.execute(f"SELECT {_INFO_COLUMNS} FROM api_tokens WHERE subject = %s", (subject,)).fetchone()
    return None if row is None else _info(row)


def list_tokens(
    conn: psycopg.Connection[TupleRow],
    *,
    after: str = "",
    limit: int,
    agency: str | None = None,
    active_only: bool = False,
) -> list[TokenInfo]:
    """Tokens in subject order after `after` (keyset paging)."""
    where = ["subject > %s"]
    params: list[object] = [after]
    if agency is not None:
        where.append("agency = %s")
        params.append(agency)
    if active_only:
        where.append("revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())")
    rows = conn.execute(
        f"SELECT {_INFO_COLUMNS} FROM api_tokens WHERE {' AND '.join(where)} ORDER BY subject LIMIT %s",
        [*params, limit],
    ).fetchall()
    return [_info(row) for row in rows]


class TokenStore:
    """The tokens on a pool: every request looks its token up (no cache), so a revocation acts at once."""

    def __init__(self, pool: ConnectionPool[psycopg.Connection[TupleRow]]) -> None:
        self.pool = pool

    def resolve(self, secret: str) -> Principal | None:
        with self.pool.connection() as conn:
            return resolve_token(conn, secret)

    def page(self, *, after: str, limit: int, agency: str | None, active_only: bool) -> list[TokenInfo]:
        with self.pool.connection() as conn:
            return list_tokens(conn, after=after, limit=limit, agency=agency, active_only=active_only)

    def info(self, subject: str) -> TokenInfo | None:
        with self.pool.connection() as conn:
            return token_info(conn, subject)

    def revoke(self, subject: str, revoked_by: str) -> TokenInfo | None:
        """Revoke now (a revoked token keeps its first revocation); the token as it is then."""
        with self.pool.connection() as conn:
            revoke_token(conn, subject, revoked_by)
            return token_info(conn, subject)
