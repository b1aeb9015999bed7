"""Admin API for bearer tokens: issue one, list them, revoke one.

Issuing and revoking go through the write application (`services/ingest/application/tokens.py`):
each is an event, with the token's row written in the same transaction. A new token's secret is
in the first answer only; a retry with the same Idempotency-Key answers the token without it.
Revocation takes effect on the very next request, in every worker of both services: each request
looks its token up in the token store, there is no cache. Nothing here shows a stored secret or its hash.
"""

from __future__ import annotations

from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from domain.errors import NotFound
from domain.identity import Role
from infra.tokens import TokenInfo
from services.http.auth import Admin
from services.http.limits import PageLimit
from services.ingest.application import tokens as handle
from services.ingest.application.commands import IssueToken, RevokeToken
from services.ingest.http.dependencies import Writing, answer
from services.ingest.http.schemas import ReasonIn, TokenIn

router = APIRouter(prefix="/admin/tokens", tags=["administration"])


class TokenAdmin(Protocol):
    """The token store as an administrator reads it (`infra.tokens.TokenStore`)."""

    def page(self, *, after: str, limit: int, agency: str | None, active_only: bool) -> list[TokenInfo]: ...

    def info(self, subject: str) -> TokenInfo | None: ...


async def _tokens(request: Request) -> TokenAdmin:
    tokens: TokenAdmin = request.app.state.tokens
    return tokens


Tokens = Annotated[TokenAdmin, Depends(_tokens)]
# PostgreSQL text holds no NUL character: a parameter with one is a 422, never a database error.
NO_NUL = r"^[^\x00]*$"
Subject = Annotated[
    str, Path(min_length=1, max_length=200, pattern=NO_NUL, description="the token's subject (not its secret)")
]


@router.post("", status_code=201)
def issue(body: TokenIn, principal: Admin, call: Writing) -> Response:
    """Issue a token: the answer carries its `secret`, once. A retry with the same Idempotency-Key
    answers the same token with `secret: null` (the secret is never stored)."""
    command = IssueToken(Role(body.role), body.agency, body.label, body.valid_until)
    key = call.idempotency(principal, body)
    return answer(handle.issue_token(call.write, principal, command, idempotency=key), 201)


@router.get("")
def tokens(
    principal: Admin,
    store: Tokens,
    limit: PageLimit,
    after: Annotated[
        str, Query(max_length=200, pattern=NO_NUL, description="keyset: the last subject of the previous page")
    ] = "",
    agency: Annotated[str | None, Query(max_length=100, pattern=NO_NUL)] = None,
    active: Annotated[bool, Query(description="only tokens neither revoked nor expired")] = False,
) -> dict[str, Any]:
    """Every token (subject, role, agency, label, creation, expiry, revocation), in subject order."""
    page = store.page(after=after, limit=limit, agency=agency, active_only=active)
    return {
        "tokens": [token.to_json() for token in page],
        "next_after": page[-1].subject if len(page) == limit else None,
    }


@router.get("/{subject}")
def token(principal: Admin, store: Tokens, subject: Subject) -> dict[str, Any]:
    found = store.info(subject)
    if found is None:
        raise NotFound(f"no token {subject}")
    return found.to_json()


@router.post("/{subject}/revoke")
def revoke(subject: Subject, principal: Admin, call: Writing, body: ReasonIn | None = None) -> Response:
    """Revoke a token now, with an optional `reason` (the body may be left out); revoking a revoked
    token changes nothing and answers the first revocation."""
    given = body or ReasonIn()
    command = RevokeToken(subject, given.reason)
    return answer(handle.revoke_token(call.write, principal, command, idempotency=call.idempotency(principal, given)))
