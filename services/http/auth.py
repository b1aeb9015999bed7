"""Identity from the credential (decision 8): a bearer token resolves to a principal."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from domain.identity import Principal, Role
from infra.settings import Settings
from infra.tokens import resolve_token
from services.http.problems import Problem
from services.http.ratelimit import RateLimiter

_bearer = HTTPBearer(auto_error=False, description="A token from `reporting tokens create`")


def authenticated(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),  # noqa: B008
) -> Principal:
    challenge = {"WWW-Authenticate": "Bearer"}
    limits: Limits = request.app.state.limits
    client = request.client.host if request.client else "unknown"
    if credentials is None:
        raise Problem(401, "unauthorized", "Authentication required", "send a bearer token", headers=challenge)
    with request.app.state.pool.connection() as conn:
        principal = resolve_token(conn, credentials.credentials)
    if principal is None:
        # Each failure spends from the address's budget: guessing tokens gets 429s.
        limits.auth_failures.check(client, "failed authentications")
        raise Problem(
            401, "unauthorized", "Invalid token", "the token is unknown, revoked or expired", headers=challenge
        )
    limits.per_token.check(principal.subject, "requests for this token")
    return principal


@dataclass(frozen=True)
class Limits:
    per_token: RateLimiter
    auth_failures: RateLimiter

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            RateLimiter(settings.rate_limit_per_token, 2 * settings.rate_limit_per_token),
            RateLimiter(settings.auth_failures_per_minute / 60, settings.auth_failures_per_minute),
        )


def require_roles(*roles: Role) -> Callable[[Principal], Principal]:
    """A dependency admitting only the given roles (each endpoint declares its roles)."""
    allowed = frozenset(roles)

    def dependency(principal: Principal = Depends(authenticated)) -> Principal:  # noqa: B008
        if principal.role not in allowed:
            raise Problem(
                403,
                "forbidden",
                "Forbidden",
                f"this endpoint admits {', '.join(sorted(r.value for r in allowed))}",
            )
        return principal

    return dependency


def require_agency_access(principal: Principal, agency: str, *, write: bool) -> None:
    """The agency in the path must be the token's own agency for agency reporters."""
    allowed = principal.can_write_agency(agency) if write else principal.can_read_agency(agency)
    if not allowed:
        raise Problem(
            403, "wrong-agency", "Forbidden", f"this token may not {'write' if write else 'read'} agency {agency}"
        )
