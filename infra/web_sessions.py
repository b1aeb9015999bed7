"""Web sessions in PostgreSQL (table `web_sessions` of infra/migrations/0070_people.sql).

A session's cookie holds 256 random bits; only their SHA-256 is stored, so a stolen copy of the
table opens no session. A session ends after `idle` without a request or at its absolute end,
whichever comes first, and at once when signed out (or everywhere, or the account disabled).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from infra.db import Pool

MAX_USER_AGENT = 300


@dataclass(frozen=True)
class OpenSession:
    username: str
    csrf_token: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class SessionEntry:
    """A live session as its owner sees it on their account page (never its secret)."""

    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime  # the absolute end
    idle_ends_at: datetime  # the end if no request comes before
    client_address: str
    user_agent: str
    current: bool  # the session this request came with


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


class PostgresSessions:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    def open(
        self, username: str, *, idle: timedelta, lifetime: timedelta, client: str = "", user_agent: str = ""
    ) -> tuple[str, OpenSession]:
        """A new session; returns the cookie's secret (shown once) and the session."""
        secret = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        with self.pool.connection() as conn:
            row = conn.execute(
                "INSERT INTO web_sessions"
                " (session_hash, username, csrf_token, expires_at, idle_seconds, client_address, user_agent)"
                " VALUES (%s, %s, %s, now() + %s, %s, %s, %s) RETURNING created_at, expires_at",
                (
                    _digest(secret),
                    username,
                    csrf,
                    lifetime,
                    max(1, round(idle.total_seconds())),
                    client[:100],
                    user_agent[:MAX_USER_AGENT],
                ),
            ).fetchone()
        assert row is not None
        return secret, OpenSession(username, csrf, row[0], row[1])

    def find(self, secret: str) -> OpenSession | None:
        """The live session of a cookie, its idle clock restarted; None when unknown or ended."""
        if not secret or len(secret) > 100:
            return None
        with self.pool.connection() as conn:
            row = conn.execute(
                "UPDATE web_sessions SET last_seen_at = now()"
                " WHERE session_hash = %s AND ended_at IS NULL AND expires_at > now()"
                " AND last_seen_at + make_interval(secs => idle_seconds) > now()"
                " RETURNING username, csrf_token, created_at, expires_at",
                (_digest(secret),),
            ).fetchone()
        return None if row is None else OpenSession(row[0], row[1], row[2], row[3])

    def end(self, secret: str) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                "UPDATE web_sessions SET ended_at = now() WHERE session_hash = %s AND ended_at IS NULL",
                (_digest(secret),),
            )

    def end_all(self, username: str, *, keep: str = "") -> int:
        """End every session of a person (sign out everywhere, a disabled account, a new password), but
        the one of `keep`'s cookie if given; how many ended."""
        with self.pool.connection() as conn:
            cur = conn.execute(
                "UPDATE web_sessions SET ended_at = now()"
                " WHERE username = %s AND ended_at IS NULL AND session_hash <> %s",
                (username, _digest(keep) if keep else b""),
            )
            return cur.rowcount

    def active(self, username: str, current: str = "") -> list[SessionEntry]:
        """A person's live sessions, the latest used first; `current` (a cookie's secret) marks its own."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT created_at, last_seen_at, expires_at,"
                " least(expires_at, last_seen_at + make_interval(secs => idle_seconds)),"
                " client_address, user_agent, session_hash = %s"
                " FROM web_sessions WHERE username = %s AND ended_at IS NULL AND expires_at > now()"
                " AND last_seen_at + make_interval(secs => idle_seconds) > now()"
                " ORDER BY last_seen_at DESC",
                (_digest(current) if current else b"", username),
            ).fetchall()
        return [SessionEntry(*row) for row in rows]
