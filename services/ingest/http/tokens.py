"""Admin API for bearer tokens: list them and revoke one (issuing stays on the CLI, `reporting tokens create`).

Revocation takes effect on the very next request, in every worker of both services: each request
looks its token up in the token store, there is no cache. Nothing here shows a secret or its hash.
"""

from __future__ import annotations

from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, Path, Query, Request

from domain.errors import NotFound
from infra.tokens import TokenInfo
from services.http.auth import Admin
from services.http.limits import PageLimit

router = APIRouter(prefix="/admin/tokens", tags=["administration"])


class TokenAdmin(Protocol):
    """The token store as an administrator sees it (`infra.tokens.TokenStore`)."""

    def page(self, *, after: str, limit: int, agency: str | None, active_only: bool) -> list[TokenInfo]: ...

    def info(self, subject: str) -> TokenInfo | None: ...

    def revoke(self, subject: str, revoked_by: str) -> TokenInfo | None: ...


def _tokens(request: Request) -> TokenAdmin:
    tokens: TokenAdmin = request.app.state.tokens
    return tokens


Tokens = Annotated[TokenAdmin, Depends(_tokens)]
# PostgreSQL text holds no NUL character: a parameter with one is a 422, never a database error.
NO_NUL = r"^[^\x00]*$"
Subject = Annotated[
    str, Path(min_length=1, max_length=200, pattern=NO_NUL, description="the token's subject (not its secret)")
]


def _found(token: TokenInfo | None, subject: str) -> dict[str, Any]:
    if token is None:
        raise NotFound(f"no token {subject}")
    return token.to_json()


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
    return _found(store.info(subject), subject)


@router.post("/{subject}/revoke")
def revoke(principal: Admin, store: Tokens, subject: Subject) -> dict[str, Any]:
    """Revoke a token now; revoking a revoked token changes nothing and answers the first revocation."""
    return _found(store.revoke(subject, principal.subject), subject)
