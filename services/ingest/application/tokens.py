"""Systems' API tokens: issued and revoked as events of their `ApiToken` (`domain.access`).

The one way a token comes to exist: `issue_token` stores the `ApiToken.Issued` event and the
token's row (the SHA-256 of its secret, what it may do) in the same transaction; `revoke_token`
stores `ApiToken.Revoked` and marks the row revoked in the same transaction, so the credential
table and the audited history never disagree. The secret is in the first answer only: in no
event, in no stored Idempotency-Key answer.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime

from domain.access import TOKEN_PREFIX, ApiToken, InvalidToken, check_token_role, expiry_after, token_id
from domain.errors import Forbidden
from domain.identity import Principal, Role
from services.ingest.application.access import known_agency
from services.ingest.application.commands import IssueToken, RevokeToken
from services.ingest.application.execute import execute
from services.ingest.application.idempotency import Idempotency
from services.ingest.application.outcomes import Replayed, TokenChanged, TokenIssued
from services.ingest.application.reference import get
from services.ingest.application.write_side import WriteSide

MAX_YEARS = 10  # a token with an end has it within this many years; a token without one works until revoked


def new_secret() -> str:
    """256 random bits behind a public prefix (so a leaked token is recognisable in logs and scanners)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_name(role: Role, agency: str | None) -> str:
    """A token's public name (its subject): the role, the agency, a random suffix."""
    return f"{role.value}:{agency + ':' if agency else ''}{secrets.token_hex(6)}"


def expiry_of(valid_until: date | None, today: date) -> datetime | None:
    """When a token valid through `valid_until` stops working; None: until revoked."""
    if valid_until is None:
        return None
    if valid_until < today:
        raise InvalidToken("a token's last valid day is today or later")
    if valid_until > today.replace(year=today.year + MAX_YEARS):
        raise InvalidToken(f"a token's last valid day is at most {MAX_YEARS} years away (or none)")
    return expiry_after(valid_until)


def _administrator(principal: Principal) -> None:
    if not principal.can_administer:
        raise Forbidden("only an administrator issues and revokes tokens")


def issue_token(
    ws: WriteSide, principal: Principal, command: IssueToken, *, idempotency: Idempotency | None = None
) -> TokenIssued | Replayed:
    """A new token for a system; its secret is in this answer only (a replay says it is not shown again)."""
    _administrator(principal)
    secret = new_secret()
    name = token_name(command.role, command.agency)

    def load() -> ApiToken:
        check_token_role(command.role, command.agency)
        if command.agency is not None:
            known_agency(ws, command.agency, InvalidToken)
        expires = expiry_of(command.valid_until, ws.clock.today())
        return ApiToken.issue(name, command.label, command.role, command.agency, expires, principal)

    def issued(token: ApiToken, _: None, positions: Sequence[int]) -> TokenIssued:
        return replace(TokenIssued.of(token, positions=tuple(positions)), secret=secret)

    return execute(
        ws.store,
        load,
        lambda _: None,
        issued,
        idempotency=idempotency,
        secrets=lambda token: (token.digest_row(secret),),
    )


def revoke_token(
    ws: WriteSide, principal: Principal, command: RevokeToken, *, idempotency: Idempotency | None = None
) -> TokenChanged | Replayed:
    """Refuse the token from its next request on; revoking a revoked token records nothing and keeps the first."""
    _administrator(principal)
    return execute(
        ws.store,
        lambda: get(ws.store, token_id(command.token), ApiToken, f"token {command.token}"),
        lambda token: token.revoke(principal, command.reason),
        lambda token, _, positions: TokenChanged.of(token, positions=tuple(positions)),
        idempotency=idempotency,
        secrets=lambda token: (token.revocation_row(),),
    )
