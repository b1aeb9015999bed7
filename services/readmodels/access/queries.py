"""Reading who has access (`rm_access_people`, `rm_access_tokens`): search, filters, keyset pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from domain.errors import NotFound
from services.readmodels import Pool
from services.readmodels.access.projection import search_key
from services.readmodels.errors import InvalidParameter
from services.readmodels.freshness import Freshness, projections_position, wait_for_position

PROJECTIONS = ("access",)
MAX_SEARCH = 100

T = TypeVar("T")


class TokenStatus(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass(frozen=True)
class PersonRow:
    username: str
    display_name: str
    agency: str | None  # None: a ministry account
    roles: tuple[str, ...]
    enabled: bool
    disabled_reason: str | None
    created_at: datetime
    created_by: str
    changed_at: datetime
    changed_by: str
    last_change: str  # the event type of the last change
    password_set_at: datetime | None
    position: int


@dataclass(frozen=True)
class TokenRow:
    token: str  # its public name (subject), never its secret
    label: str
    role: str
    agency: str | None
    issued_at: datetime
    issued_by: str
    expires_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None
    revoke_reason: str | None
    position: int
    status: TokenStatus


@dataclass(frozen=True)
class Page(Generic[T]):
    rows: list[T]
    next_after: str | None  # the key to pass as `after` for the next page; None on the last one


@dataclass(frozen=True)
class AccessCounts:
    people: int
    disabled: int
    tokens_active: int
    tokens_expired: int
    tokens_revoked: int


_PEOPLE = (
    "username, display_name, agency, roles, enabled, disabled_reason, created_at, created_by,"
    " changed_at, changed_by, last_change, password_set_at, position"
)
_TOKENS = (
    "token, label, role, agency, issued_at, issued_by, expires_at, revoked_at, revoked_by, revoke_reason, position,"
    " CASE WHEN revoked_at IS NOT NULL THEN 'revoked' WHEN expires_at <= now() THEN 'expired' ELSE 'active' END"
)
_STATUS_CONDITION = {
    TokenStatus.ACTIVE: "revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())",
    TokenStatus.EXPIRED: "revoked_at IS NULL AND expires_at <= now()",
    TokenStatus.REVOKED: "revoked_at IS NOT NULL",
}


def _person(row: tuple[Any, ...]) -> PersonRow:
    values = list(row)
    values[3] = tuple(values[3])  # roles
    return PersonRow(*values)


def _token(row: tuple[Any, ...]) -> TokenRow:
    values = list(row)
    values[-1] = TokenStatus(values[-1])
    return TokenRow(*values)


def _search(text: str) -> str:
    if len(text) > MAX_SEARCH or "\x00" in text:
        raise InvalidParameter(f"a search has at most {MAX_SEARCH} characters")
    key = search_key(text.strip())
    return "%" + key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _belongs(conditions: list[str], params: dict[str, Any], agency: str | None, ministry: bool) -> None:
    if ministry:
        conditions.append("agency IS NULL")
    elif agency:
        conditions.append("agency = %(agency)s")
        params["agency"] = agency


class AccessQueries:
    def __init__(self, pool: Pool, topic: str) -> None:
        self.pool = pool
        self._position = projections_position(topic, PROJECTIONS)

    def visible(self, wanted: Freshness) -> int:
        """The position the access read model reflects, once it reaches `wanted` (read-your-writes)."""
        return wait_for_position(self.pool, self._position, wanted)

    def people(
        self,
        *,
        search: str = "",
        agency: str | None = None,
        ministry: bool = False,
        role: str | None = None,
        enabled: bool | None = None,
        after: str = "",
        limit: int = 50,
    ) -> Page[PersonRow]:
        """People in username order after `after`: matching `search` (username or name, diacritics
        ignored), of one agency or the ministry, holding `role`, enabled or not."""
        conditions = ["username > %(after)s"]
        params: dict[str, Any] = {"after": after, "limit": limit + 1}
        if search.strip():
            conditions.append("search_text LIKE %(search)s")
            params["search"] = _search(search)
        _belongs(conditions, params, agency, ministry)
        if role:
            conditions.append("%(role)s = ANY(roles)")
            params["role"] = role
        if enabled is not None:
            conditions.append("enabled = %(enabled)s")
            params["enabled"] = enabled
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {_PEOPLE} FROM rm_access_people WHERE {' AND '.join(conditions)}"
                " ORDER BY username LIMIT %(limit)s",
                params,
            ).fetchall()
        found = [_person(row) for row in rows[:limit]]
        return Page(found, found[-1].username if len(rows) > limit else None)

    def person(self, username: str) -> PersonRow:
        with self.pool.connection() as conn:
            row = conn.execute(f"SELECT {_PEOPLE} FROM rm_access_people WHERE username = %s", (username,)).fetchone()
        if row is None:
            raise NotFound(f"no account {username}")
        return _person(row)

    def tokens(
        self,
        *,
        search: str = "",
        agency: str | None = None,
        ministry: bool = False,
        role: str | None = None,
        status: TokenStatus | None = None,
        after: str = "",
        limit: int = 50,
    ) -> Page[TokenRow]:
        """Tokens in name order after `after`: matching `search` (name or label), of one agency or the
        ministry, of one role, active, expired or revoked."""
        conditions = ["token > %(after)s"]
        params: dict[str, Any] = {"after": after, "limit": limit + 1}
        if search.strip():
            conditions.append("search_text LIKE %(search)s")
            params["search"] = _search(search)
        _belongs(conditions, params, agency, ministry)
        if role:
            conditions.append("role = %(role)s")
            params["role"] = role
        if status is not None:
            conditions.append(_STATUS_CONDITION[status])
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {_TOKENS} FROM rm_access_tokens WHERE {' AND '.join(conditions)}"
                " ORDER BY token LIMIT %(limit)s",
                params,
            ).fetchall()
        found = [_token(row) for row in rows[:limit]]
        return Page(found, found[-1].token if len(rows) > limit else None)

    def token(self, name: str) -> TokenRow:
        with self.pool.connection() as conn:
            row = conn.execute(f"SELECT {_TOKENS} FROM rm_access_tokens WHERE token = %s", (name,)).fetchone()
        if row is None:
            raise NotFound(f"no token {name}")
        return _token(row)

    def counts(self) -> AccessCounts:
        """How many people (and disabled), how many tokens active, expired, revoked."""
        with self.pool.connection() as conn:
            people = conn.execute("SELECT count(*), count(*) FILTER (WHERE NOT enabled) FROM rm_access_people")
            total, disabled = people.fetchone() or (0, 0)
            tokens = conn.execute(
                "SELECT"
                f" count(*) FILTER (WHERE {_STATUS_CONDITION[TokenStatus.ACTIVE]}),"
                f" count(*) FILTER (WHERE {_STATUS_CONDITION[TokenStatus.EXPIRED]}),"
                f" count(*) FILTER (WHERE {_STATUS_CONDITION[TokenStatus.REVOKED]})"
                " FROM rm_access_tokens"
            )
            active, expired, revoked = tokens.fetchone() or (0, 0, 0)
        return AccessCounts(int(total), int(disabled), int(active), int(expired), int(revoked))
