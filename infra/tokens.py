"""Bearer tokens as the services look them up: only SHA-256 digests are stored (docs/DECISIONS.md,
*Identity comes from the credential*).

Tokens are issued and revoked through the write application (`services/ingest/application/tokens.py`),
which writes their rows here in the transaction of their events; this module only reads them.
`TokenStore` is what the HTTP services use (the authenticator, the admin API); the functions take
a connection (the CLI).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool

from domain.access import TOKEN_PREFIX, token_digest
from domain.identity import Principal, Role


def resolve_token(conn: psycopg.Connection[TupleRow], secret: str) -> Principal | None:
    """The principal of a valid token; None when unknown, revoked or expired."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    row = conn.execute(
        "SELECT subject, role, agency FROM api_tokens WHERE token_hash = %s"
        " AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())",
        (token_digest(secret),),
    ).fetchone()
    if row is None:
        return None
    return Principal(subject=row[0], role=Role(row[1]), agency=row[2])


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
