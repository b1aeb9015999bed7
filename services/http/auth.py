"""Identity from the credential (docs/DECISIONS.md, *Identity comes from the credential*): a bearer
token resolves to a principal, through the app's `Authenticator`; each endpoint declares its roles.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Protocol

from fastapi import Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from domain.errors import Forbidden
from domain.identity import Principal, Role
from infra import request_context
from services.http.errors import Unauthenticated, WrongAgency
from services.http.limits import Limits
from services.http.ratelimit import enforce

__all__ = [
    "Admin",
    "AgencyReporter",
    "Authenticator",
    "Limits",
    "Reader",
    "Reviewer",
    "ReviewerOrAdmin",
    "authenticated",
    "declare_roles",
    "require_agency_access",
    "require_roles",
]

_bearer = HTTPBearer(auto_error=False, description="A token from `reporting tokens create`")


class Authenticator(Protocol):
    """Resolves a bearer token's secret (the app's `state.authenticator`, set by the composition root)."""

    def resolve(self, secret: str) -> Principal | None:
        """The principal of a valid token; None when it is unknown, revoked or expired."""
        ...


def authenticated(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),  # noqa: B008
) -> Principal:
    limits: Limits = request.app.state.limits
    client = request.client.host if request.client else "unknown"
    if credentials is None:
        raise Unauthenticated("send a bearer token")
    # An address that spent its budget of failures is refused before its token is even looked up,
    # so that a guessing loop learns nothing more, not even from a lucky guess (the cost: other
    # clients behind the same address wait too, for at most 60 / AUTH_FAILURES_PER_MINUTE seconds).
    enforce(limits.auth_failures, client, "failed authentications from this address", spend=False)
    authenticator: Authenticator = request.app.state.authenticator
    principal = authenticator.resolve(credentials.credentials)
    if principal is None:
        limits.auth_failures.take(client)
        raise Unauthenticated("the token is unknown, revoked or expired")
    request_context.identify(principal.subject, principal.role.value)
    enforce(limits.per_token, principal.subject, "requests for this token")
    return principal


def require_roles(*roles: Role) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    """A dependency admitting only the given roles (each endpoint declares its roles)."""
    allowed = frozenset(roles)

    # A coroutine: it only compares roles, so it needs no hand-off to the thread pool.
    async def dependency(principal: Principal = Depends(authenticated)) -> Principal:  # noqa: B008
        if principal.role not in allowed:
            raise Forbidden(f"this endpoint admits {', '.join(sorted(r.value for r in allowed))}")
        return principal

    dependency.roles = allowed  # type: ignore[attr-defined]  # read by declare_roles
    return dependency


# The principal of a route, by the roles it admits.
Reader = Annotated[Principal, Depends(require_roles(*Role))]
AgencyReporter = Annotated[Principal, Depends(require_roles(Role.AGENCY_REPORTER))]
Reviewer = Annotated[Principal, Depends(require_roles(Role.MINISTRY_REVIEWER))]
ReviewerOrAdmin = Annotated[Principal, Depends(require_roles(Role.MINISTRY_REVIEWER, Role.ADMIN))]
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]

ROLES_EXTENSION = "x-roles"


def _route_roles(dependant: Dependant) -> frozenset[Role] | None:
    """The roles a route's `require_roles` dependency admits (None: no such dependency)."""
    found: frozenset[Role] | None = getattr(dependant.call, "roles", None)
    for sub in dependant.dependencies:
        inner = _route_roles(sub)
        if inner is not None:
            found = inner if found is None else found & inner
    return found


def declare_roles(app: FastAPI) -> None:
    """Each operation's OpenAPI names the roles it admits (`x-roles`, and a line of its description).

    Taken from the route's own `require_roles` dependency, so the documentation cannot drift from
    the rule; the authorization matrix test checks the rule against the service's answers.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        for context in iter_route_contexts(app.routes):  # routes of included routers too
            route = context.original_route
            if not isinstance(route, APIRoute) or context.path_format is None:
                continue
            roles = _route_roles(route.dependant)
            if roles is None:
                continue
            names = sorted(role.value for role in roles)
            for method in route.methods or ():
                operation = schema["paths"].get(context.path_format, {}).get(method.lower())
                if operation is None:
                    continue
                operation[ROLES_EXTENSION] = names
                line = f"Roles: {', '.join(names)}."
                operation["description"] = f"{operation.get('description', '')}\n\n{line}".strip()
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def require_agency_access(principal: Principal, agency: str, *, write: bool) -> None:
    """The agency in the path must be the token's own agency for agency reporters."""
    allowed = principal.can_write_agency(agency) if write else principal.can_read_agency(agency)
    if not allowed:
        raise WrongAgency(f"this token may not {'write' if write else 'read'} agency {agency}")
