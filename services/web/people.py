"""Who is signed in: the session cookie, the person behind it, and the pages' access dependencies.

A session names a username; the person (display name, roles, agency, disabled or not) is read
afresh on every request, so a role withdrawn or an account disabled takes effect at once.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import quote

from starlette.requests import Request

from domain.errors import DomainError, ErrorKind
from domain.identity import Role
from infra import request_context
from services.ingest.application.access import Person
from services.ingest.application.access import person as find_person
from services.web.security import SESSION_COOKIE, check_csrf


class SessionInfo(Protocol):
    """A live session: whose it is, and the token its forms must carry."""

    @property
    def username(self) -> str: ...

    @property
    def csrf_token(self) -> str: ...


class SessionEntry(Protocol):
    """A live session as its owner sees it (`infra.web_sessions.SessionEntry`)."""

    @property
    def created_at(self) -> datetime: ...
    @property
    def last_seen_at(self) -> datetime: ...
    @property
    def expires_at(self) -> datetime: ...
    @property
    def idle_ends_at(self) -> datetime: ...
    @property
    def client_address(self) -> str: ...
    @property
    def user_agent(self) -> str: ...
    @property
    def current(self) -> bool: ...


class Sessions(Protocol):
    def open(
        self, username: str, *, idle: timedelta, lifetime: timedelta, client: str = "", user_agent: str = ""
    ) -> tuple[str, SessionInfo]: ...
    def find(self, secret: str) -> SessionInfo | None: ...
    def end(self, secret: str) -> None: ...
    def end_all(self, username: str, *, keep: str = "") -> int: ...
    def active(self, username: str, current: str = "") -> Sequence[SessionEntry]: ...


class SignInRequired(DomainError):
    code = "sign-in-required"
    kind = ErrorKind.UNAUTHENTICATED


class PageForbidden(DomainError):
    code = "forbidden"
    kind = ErrorKind.FORBIDDEN


def sign_in_url(request: Request, *, ended: bool = False) -> str:
    """The sign-in page, back here afterwards; `ended`: it says the session has ended."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/sign-in?next={quote(target, safe='')}" + ("&ended=session" if ended else "")


async def load_person(request: Request) -> Person | None:
    """The signed-in person, if any (sets `request.state.user` and the CSRF token for the templates)."""
    if hasattr(request.state, "user"):
        return request.state.user  # type: ignore[no-any-return]
    web = request.app.state.web  # services.web.web_side.WebSide (not imported: it imports this module)
    person: Person | None = None
    secret = request.cookies.get(SESSION_COOKIE, "")
    session = web.sessions.find(secret) if secret else None
    if session is not None:
        person = find_person(web.write, session.username)
        if person is None:  # disabled since: the session ends with the account
            web.sessions.end(secret)
    request.state.user = person
    request.state.csrf_token = session.csrf_token if session is not None and person is not None else ""
    if person is not None:
        request_context.identify(person.username, person.principal.role.value)  # the request's log line
        await check_csrf(request, request.state.csrf_token)
    return person


async def signed_in(request: Request) -> Person:
    person = await load_person(request)
    if person is None:
        raise SignInRequired("sign in to continue")
    return person


def require(*roles: Role) -> Callable[[Request], Coroutine[Any, Any, Person]]:
    """A page dependency: the signed-in person, acting in one of `roles`."""
    allowed = frozenset(roles)

    async def dependency(request: Request) -> Person:
        person = await signed_in(request)
        acting = person.principal.acting_as(allowed)
        if acting is None:
            raise PageForbidden("your account does not give access to this page")
        return Person(person.username, person.display_name, acting)

    dependency.roles = allowed  # type: ignore[attr-defined]  # read by the page-route x role matrix test
    return dependency
