"""The access projection: one row per person's account and per system's token, from their events.

Rows are folded in memory per batch (each aggregate's events arrive in order: an aggregate's
agency never changes, so all its events share one partition) and written once per key.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.rows import TupleRow

from infra.integration_events import (
    AccountCreated,
    AccountRenamed,
    AccountRoleGranted,
    AccountRoleWithdrawn,
    ApiTokenIssued,
    EventType,
    IntegrationEvent,
)

PEOPLE_COLUMNS = (
    "username",
    "display_name",
    "search_text",
    "agency",
    "roles",
    "enabled",
    "disabled_reason",
    "created_at",
    "created_by",
    "changed_at",
    "changed_by",
    "last_change",
    "password_set_at",
    "position",
)
TOKEN_COLUMNS = (
    "token",
    "label",
    "search_text",
    "role",
    "agency",
    "issued_at",
    "issued_by",
    "expires_at",
    "revoked_at",
    "revoked_by",
    "revoke_reason",
    "position",
)


def search_key(text: str) -> str:
    """Lower case without diacritics, so that "nguyen van" finds "Nguyễn Văn" (and "đ" is "d")."""
    decomposed = unicodedata.normalize("NFD", text.lower().replace("đ", "d"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _person(event: IntegrationEvent) -> dict[str, Any]:
    created = event.details(AccountCreated)
    return {
        "username": created.username,
        "display_name": created.display_name,
        "agency": event.agency,
        "roles": sorted(created.roles),
        "enabled": True,
        "disabled_reason": None,
        "created_at": event.occurred_at,
        "created_by": event.actor,
        "password_set_at": None,
    }


def _step_person(row: dict[str, Any], event: IntegrationEvent) -> None:
    kind = event.event_type
    if kind is EventType.ACCOUNT_ROLE_GRANTED:
        row["roles"] = sorted({*row["roles"], event.details(AccountRoleGranted).granted})
    elif kind is EventType.ACCOUNT_ROLE_WITHDRAWN:
        row["roles"] = sorted(set(row["roles"]) - {event.details(AccountRoleWithdrawn).withdrawn})
    elif kind is EventType.ACCOUNT_RENAMED:
        row["display_name"] = event.details(AccountRenamed).display_name
    elif kind is EventType.ACCOUNT_DISABLED:
        row.update(enabled=False, disabled_reason=event.reason)
    elif kind is EventType.ACCOUNT_ENABLED:
        row.update(enabled=True, disabled_reason=None)
    elif kind is EventType.ACCOUNT_PASSWORD_SET:
        row["password_set_at"] = event.occurred_at
    row.update(
        search_text=search_key(f"{row['username']} {row['display_name']}"),
        changed_at=event.occurred_at,
        changed_by=event.actor,
        last_change=str(kind),
        position=event.position,
    )


def _token(event: IntegrationEvent) -> dict[str, Any]:
    issued = event.details(ApiTokenIssued)
    return {
        "token": issued.token,
        "label": issued.label,
        "search_text": search_key(f"{issued.token} {issued.label}"),
        "role": issued.token_role,
        "agency": event.agency,
        "issued_at": event.occurred_at,
        "issued_by": event.actor,
        "expires_at": issued.expires_at,
        "revoked_at": None,
        "revoked_by": None,
        "revoke_reason": None,
        "position": event.position,
    }


def _revoke(row: dict[str, Any], event: IntegrationEvent) -> None:
    row.update(revoked_at=event.occurred_at, revoked_by=event.actor, revoke_reason=event.reason)
    row["position"] = event.position


def _upsert(cur: psycopg.Cursor[TupleRow], table: str, columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> None:
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns[1:])
    cur.executemany(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
        f" ON CONFLICT ({columns[0]}) DO UPDATE SET {updates}",
        [tuple(row[c] for c in columns) for row in rows],
    )


def _stored(
    cur: psycopg.Cursor[TupleRow], table: str, columns: Sequence[str], keys: Sequence[str]
) -> dict[str, dict[str, Any]]:
    found = cur.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE {columns[0]} = ANY(%s)", (list(keys),))
    return {row[0]: dict(zip(columns, row, strict=True)) for row in found.fetchall()}


class AccessProjection:
    name = "access"

    def __init__(self, suffix: str = "") -> None:
        self.people = "rm_access_people" + suffix
        self.token_table = "rm_access_tokens" + suffix
        self.tables: tuple[str, ...] = (self.people, self.token_table)
        self.indexed_reads: tuple[str, ...] = ()
        self.log_order = False
        self.key_local = True

    def apply(self, cur: psycopg.Cursor[TupleRow], events: Sequence[IntegrationEvent]) -> None:
        accounts = [e for e in events if e.aggregate == "account"]
        tokens = [e for e in events if e.aggregate == "api_token"]
        if accounts:
            self._apply_accounts(cur, accounts)
        if tokens:
            self._apply_tokens(cur, tokens)

    def _apply_accounts(self, cur: psycopg.Cursor[TupleRow], events: Sequence[IntegrationEvent]) -> None:
        names = sorted({str(e.data["username"]) for e in events})
        rows = _stored(cur, self.people, PEOPLE_COLUMNS, names)
        for event in events:
            username = str(event.data["username"])
            if event.event_type is EventType.ACCOUNT_CREATED:
                rows[username] = _person(event)
            if username in rows:  # an account's first event is its creation
                _step_person(rows[username], event)
        _upsert(cur, self.people, PEOPLE_COLUMNS, list(rows.values()))

    def _apply_tokens(self, cur: psycopg.Cursor[TupleRow], events: Sequence[IntegrationEvent]) -> None:
        names = sorted({str(e.data["token"]) for e in events})
        rows = _stored(cur, self.token_table, TOKEN_COLUMNS, names)
        for event in events:
            name = str(event.data["token"])
            if event.event_type is EventType.TOKEN_ISSUED:
                rows[name] = _token(event)
            elif name in rows:
                _revoke(rows[name], event)
        _upsert(cur, self.token_table, TOKEN_COLUMNS, list(rows.values()))
