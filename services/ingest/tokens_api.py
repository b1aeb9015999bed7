"""Admin API for bearer tokens: list them and revoke one (issuing stays on the CLI, `reporting tokens create`).

Revocation takes effect on the very next request, in every worker of both services:
each request looks its token up in PostgreSQL (`infra/tokens.py`), there is no cache.
Nothing here ever shows a secret or its hash.
"""

from __future__ import annotations

from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Depends, Path, Query, Request
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool

from domain.identity import Principal, Role
from infra.tokens import list_tokens, revoke_token, token_info
from services.http.auth import require_roles
from services.http.limits import PageLimit
from services.http.problems import Problem

router = APIRouter(tags=["administration"])

Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
Subject = Annotated[str, Path(min_length=1, max_length=200, description="the token's subject (not its secret)")]


def _pool(request: Request) -> ConnectionPool[psycopg.Connection[TupleRow]]:
    pool: ConnectionPool[psycopg.Connection[TupleRow]] = request.app.state.pool
    return pool


@router.get("/admin/tokens")
def tokens(
    request: Request,
    principal: Admin,
    limit: PageLimit,
    after: Annotated[str, Query(max_length=200, description="keyset: the last subject of the previous page")] = "",
    agency: Annotated[str | None, Query(max_length=100)] = None,
    active: Annotated[bool, Query(description="only tokens neither revoked nor expired")] = False,
) -> dict[str, Any]:
    """Every token (subject, role, agency, label, creation, expiry, revocation), in subject order."""
    with _pool(request).connection() as conn:
        page = list_tokens(conn, after=after, limit=limit, agency=agency, active_only=active)
    return {
        "tokens": [token.to_json() for token in page],
        "next_after": page[-1].subject if len(page) == limit else None,
    }


@router.get("/admin/tokens/{subject}")
def token(request: Request, principal: Admin, subject: Subject) -> dict[str, Any]:
    with _pool(request).connection() as conn:
        found = token_info(conn, subject)
    if found is None:
        raise Problem(404, "not-found", "Not found", f"no token {subject}")
    return found.to_json()


@router.post("/admin/tokens/{subject}/revoke")
def revoke(request: Request, principal: Admin, subject: Subject) -> dict[str, Any]:
    """Revoke a token now; revoking a revoked token changes nothing and answers the first revocation."""
    with _pool(request).connection() as conn:
        revoke_token(conn, subject, principal.subject)
        found = token_info(conn, subject)
    if found is None:
        raise Problem(404, "not-found", "Not found", f"no token {subject}")
    return found.to_json()
