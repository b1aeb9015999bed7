"""Nobody opens a page they don't belong on: every route of the web app x every kind of person.

The routes come from the app itself (`entrypoints.apps.web_app(settings).routes`), so a page another
engineer adds is covered without a line here: its expected outcome is derived from the route's own
access dependency (`require(...)` carries `.roles`; `signed_in` admits every role) and from its
`{agency}` path parameter (a clerk of another agency is refused, whether it reads or writes). A route
with neither, and not on the public allow-list below, fails the test. A path parameter without a
sample value below fails it too, so that every route is requested for real.

Also: every unsafe route refuses a post without the session's CSRF token (403, nothing changed), the
sign-in form refuses a post without its double-submit cookie, and every response carries the
security headers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import BaseRoute, Mount

from domain.identity import Role
from entrypoints.apps import web_app
from infra.db import connect
from infra.runtime.ports import wait_until
from infra.settings import Settings
from services.web.people import require, signed_in
from services.web.security import CONTENT_SECURITY_POLICY, SESSION_COOKIE, SIGNIN_CSRF_COOKIE
from tests.conftest import Stack, StackFactory
from tests.e2e.test_authorization_matrix import AGENCY_REPORT
from tests.helpers import auth, open_month

# Routes anyone may call, signed in or not, and why.
PUBLIC = {
    ("GET", "/sign-in"): "the sign-in form",
    ("POST", "/sign-in"): "signing in (its own double-submit CSRF check)",
    ("POST", "/sign-out"): "signing out (checks the session's CSRF token when there is a session)",
    ("POST", "/language"): "the language switch (checks the CSRF token when there is a session)",
    ("GET", "/health"): "liveness",
    ("GET", "/ready"): "readiness",
}
PUBLIC_MOUNTS = {"/static": "the pages' own scripts, styles and vendored libraries"}
PUBLIC_ENDPOINTS = {"/metrics": "Prometheus metrics (blocked at the proxy, docs/OPERATIONS.md)"}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
OF_P01_BY_QUERY = {"/audit/proofs/inclusion.json"}  # its sample query names an event of P01's
ALL_ROLES = frozenset(Role)

# Who asks: a username, a role, an agency (the clerk of another agency names P02, the pages name P01).
PEOPLE = {
    "clerk_p01": (Role.AGENCY_REPORTER, "P01"),
    "clerk_p02": (Role.AGENCY_REPORTER, "P02"),
    "reviewer": (Role.MINISTRY_REVIEWER, None),
    "auditor": (Role.AUDITOR, None),
    "admin": (Role.ADMIN, None),
}
CALLERS = ("anonymous", *PEOPLE)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
}


@dataclass(frozen=True)
class Page:
    """One method of one route, and who it admits."""

    method: str
    path: str
    roles: frozenset[Role] | None  # None: public

    @property
    def agency_bound(self) -> bool:
        """The page names P01's data: by its agency, a job P01's clerk started or a proof of P01's event."""
        return "{agency}" in self.path or "{job_id}" in self.path or self.path in OF_P01_BY_QUERY


def _access(dependant: Dependant) -> frozenset[Role] | None:
    """The roles a route's page dependencies admit (the intersection), None when it has none."""
    found: frozenset[Role] | None = getattr(dependant.call, "roles", None)
    if dependant.call is signed_in:
        found = ALL_ROLES
    for sub in dependant.dependencies:
        inner = _access(sub)
        if inner is not None:
            found = inner if found is None else found & inner
    return found


def pages(settings: Settings) -> list[Page]:
    """Every route of the web app (included routers' too); one neither protected nor public fails the test."""
    return pages_of(web_app(settings).routes)


def pages_of(routes: Sequence[BaseRoute]) -> list[Page]:
    found, unprotected = [], []
    for context in iter_route_contexts(routes):
        route = context.original_route
        if isinstance(route, Mount):
            assert route.path in PUBLIC_MOUNTS, f"mount {route.path} is on no allow-list"
            continue
        if not isinstance(route, APIRoute) and getattr(route, "path", None) in PUBLIC_ENDPOINTS:
            continue
        assert isinstance(route, APIRoute), f"{route}: pages are FastAPI routes, with their dependencies"
        path = context.path_format
        assert path is not None
        roles = _access(context.dependant)  # the effective route's: router-level dependencies included
        for method in sorted((context.methods or set()) - {"HEAD"}):
            if roles is None and (method, path) not in PUBLIC:
                unprotected.append(f"{method} {path}")
            found.append(Page(method, path, roles))
    assert unprotected == [], "routes with neither `require(...)`/`signed_in` nor a place on the public list"
    return found


class Visitor:
    """One person's browser, as httpx: cookies, and the session's CSRF token read from the page."""

    def __init__(self, stack: Stack, username: str | None = None, password: str = "") -> None:
        self.client = httpx.Client(base_url=stack.web_url, follow_redirects=False, timeout=30)
        self.csrf = ""
        if username is not None:
            signed = sign_in(self.client, username, password)
            assert signed.status_code == 303, signed.text
            self.csrf = csrf_of(self.client.get("/account").text)

    def close(self) -> None:
        self.client.close()


def sign_in(client: httpx.Client, username: str, password: str) -> httpx.Response:
    form = client.get("/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    return client.post(
        "/sign-in", data={"username": username, "password": password, "csrf_token": token.group(1), "next": "/"}
    )


def csrf_of(html: str) -> str:
    found = re.search(r'data-csrf="([^"]*)"', html)
    assert found is not None
    assert found.group(1), "a signed-in page carries the session's CSRF token"
    return found.group(1)


@contextmanager
def answer(client: httpx.Client, method: str, url: str, **kwargs: Any) -> Iterator[httpx.Response]:
    """The response's status and headers; a body is read only when it is not a stream (live pages)."""
    with client.stream(method, url, **kwargs) as response:
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            response.read()
        yield response


@dataclass
class World:
    stack: Stack
    passwords: dict[str, str]
    samples: dict[str, str]
    queries: dict[str, dict[str, str]]  # a page's required query parameters
    visitors: dict[str, Visitor]

    def url(self, page: Page) -> str:
        names = re.findall(r"{(\w+)(?::\w+)?}", page.path)
        missing = [name for name in names if name not in self.samples]
        assert not missing, f"{page.path}: add a sample value for {missing} to the page-route matrix"
        path = re.sub(r"{(\w+)(?::\w+)?}", lambda m: self.samples[m.group(1)], page.path)
        query = self.queries.get(page.path)
        return f"{path}?{urlencode(query)}" if query else path

    def renew(self, caller: str) -> None:
        """A new session for the caller (after an unsafe request, which may have ended theirs)."""
        self.visitors[caller].close()
        self.visitors[caller] = Visitor(self.stack, caller, self.passwords[caller])


def expected(page: Page, caller: str) -> str:
    """What the caller gets: `sign-in` (303 to the sign-in form), `forbidden` (403) or `allowed`."""
    if page.roles is None:
        return "allowed"
    if caller == "anonymous":
        return "sign-in"
    role, agency = PEOPLE[caller]
    if role not in page.roles:
        return "forbidden"
    if page.agency_bound and agency is not None and agency != "P01":
        return "forbidden"
    return "allowed"


def outcome(response: httpx.Response) -> str:
    if response.status_code == 303 and "/sign-in?next=" in response.headers.get("location", ""):
        return "sign-in"
    if response.status_code in (401, 403):
        return "forbidden"
    return "allowed"


def event_count(settings: Settings) -> int:
    with connect(settings) as conn:
        row = conn.execute("SELECT count(*) FROM reporting_events").fetchone()
    return 0 if row is None else int(row[0])


@pytest.fixture
def world(stack_factory: StackFactory) -> Iterator[World]:
    stack = stack_factory("web", "relay", "project", "reports", "checkpoint")
    passwords = {name: stack.person(name, role, agency) for name, (role, agency) in PEOPLE.items()}
    token, admin = stack.issue_tokens([(Role.AUDITOR, None), (Role.ADMIN, None)])
    period = open_month().code

    def projected() -> bool:
        with connect(stack.settings) as conn:
            people = conn.execute("SELECT count(*) FROM rm_access_people").fetchone()
            tokens = conn.execute("SELECT count(*) FROM rm_access_tokens").fetchone()
        return people == (len(PEOPLE),) and tokens == (2,)

    wait_until(projected, 30, what="the access read model holds the sample people and tokens")
    position = _value_entered(stack, passwords["clerk_p01"], period)
    signed = httpx.post(
        f"{stack.reports_url}/audit/checkpoints", params={"wait_ms": 10_000}, headers=auth(admin.secret), timeout=30
    )
    assert signed.status_code == 201, signed.text
    assert signed.json()["last_position"] >= position, "the checkpoint covers the clerk's value"
    samples = {
        "agency": "P01",
        "period": period,
        "username": "clerk_p01",
        "token": token.token,
        "indicator": "POS.ITEMS",
        "code": AGENCY_REPORT,
        "fmt": "csv",
        "checkpoint_id": str(signed.json()["id"]),
        "job_id": _checked_upload(stack, passwords["clerk_p01"], period),
    }
    queries = {
        "/agencies/{agency}/periods/{period}/check": {"indicator": "POS.ITEMS"},
        "/live": {"watch": "rollups"},
        "/audit/proofs/inclusion.json": {"position": str(position)},
    }
    visitors = {"anonymous": Visitor(stack), **{name: Visitor(stack, name, passwords[name]) for name in PEOPLE}}
    yield World(stack, passwords, samples, queries, visitors)
    for visitor in visitors.values():
        visitor.close()


def _value_entered(stack: Stack, password: str, period: str) -> int:
    """P01's clerk saves one cell: the position of its event (for a proof of inclusion)."""
    clerk = Visitor(stack, "clerk_p01", password)
    try:
        saved = clerk.client.post(
            f"/agencies/P01/periods/{period}/cells/POS.ITEMS",
            data={"v.POS.ITEMS": "5"},
            headers={"X-CSRF-Token": clerk.csrf, "Idempotency-Key": "page-matrix-cell"},
        )
    finally:
        clerk.close()
    assert saved.status_code == 200, saved.text
    return int(saved.headers["X-Position"])


def _checked_upload(stack: Stack, password: str, period: str) -> str:
    """A job of P01's: its clerk uploads a CSV of one value for a check (nothing stored)."""
    clerk = Visitor(stack, "clerk_p01", password)
    try:
        answered = clerk.client.post(
            f"/agencies/P01/periods/{period}/import",
            data={"csrf_token": clerk.csrf, "format": "csv", "mode": "all_or_nothing"},
            files={"file": ("values.csv", b"indicator,value\nPOS.ITEMS,7\n", "text/csv")},
        )
    finally:
        clerk.close()
    assert answered.status_code == 303, answered.text
    return answered.headers["location"].rsplit("/", 1)[1]


def test_every_page_every_person(world: World) -> None:
    routes = pages(world.stack.settings)
    assert {("GET", "/admin/people"), ("POST", "/admin/tokens"), ("GET", "/account")} <= {
        (p.method, p.path) for p in routes
    }, "the enumeration sees the pages"
    failures = []
    checked = 0
    for page in routes:
        if page.roles is None:
            continue
        url = world.url(page)
        for caller in CALLERS:
            want = expected(page, caller)
            visitor = world.visitors[caller]
            data = {"csrf_token": visitor.csrf} if page.method in UNSAFE else None
            with answer(visitor.client, page.method, url, data=data) as response:
                got = outcome(response)
                redirected = response.status_code == 303  # to the person's own month or page
                if want == "allowed" and page.method == "GET" and response.status_code != 200 and not redirected:
                    got = f"status {response.status_code}"
            if page.method in UNSAFE and want == "allowed":
                world.renew(caller)  # the request may have changed or ended its session
            checked += 1
            if got != want:
                failures.append(f"{caller:10} {page.method:4} {url}: {got} (expected {want})")
    assert failures == [], "\n" + "\n".join(failures)
    assert checked >= 6 * 15


def test_every_unsafe_page_refuses_a_post_without_the_csrf_token(world: World) -> None:
    unsafe = [
        p for p in pages(world.stack.settings) if p.method in UNSAFE and (p.method, p.path) != ("POST", "/sign-in")
    ]
    assert len(unsafe) >= 10
    before = event_count(world.stack.settings)
    for page in unsafe:
        # Someone the page admits, so that only the missing token can be the reason for the refusal.
        caller = next(c for c in PEOPLE if expected(page, c) == "allowed")
        visitor = world.visitors[caller]
        url = world.url(page)
        someone_else = world.visitors["auditor" if caller == "admin" else "admin"]
        for data in ({}, {"csrf_token": "not-the-token"}, {"csrf_token": someone_else.csrf}):
            with answer(visitor.client, page.method, url, data=data) as response:
                assert response.status_code == 403, f"{caller} {page.method} {url} with {data}: {response.status_code}"
                assert "Biểu mẫu đã hết hạn" in response.text
        # Still signed in: the refused post ended nothing.
        assert visitor.client.get("/account").status_code == 200, f"{page.path} ended the session"
    assert event_count(world.stack.settings) == before, "a refused post stores nothing"
    # An htmx post carries the token in its header, and passes.
    admin = world.visitors["admin"]
    htmx = admin.client.post("/language", data={"lang": "vi", "next": "/"}, headers={"X-CSRF-Token": admin.csrf})
    assert htmx.status_code == 303


def test_the_sign_in_form_needs_its_double_submit_cookie(world: World) -> None:
    client = httpx.Client(base_url=world.stack.web_url, follow_redirects=False)
    form = client.get("/sign-in")
    cookie = form.cookies.get(SIGNIN_CSRF_COOKIE)
    assert cookie
    assert re.search(r"httponly", form.headers["set-cookie"], re.I)
    assert re.search(r"samesite=strict", form.headers["set-cookie"], re.I)
    fields = {"username": "admin", "password": world.passwords["admin"], "next": "/"}
    bare = httpx.post(f"{world.stack.web_url}/sign-in", data={**fields, "csrf_token": cookie})
    assert bare.status_code == 403, "no cookie: another site's form"
    wrong = client.post("/sign-in", data={**fields, "csrf_token": "forged"})
    assert wrong.status_code == 403, "a token that is not the cookie's"
    assert SESSION_COOKIE not in client.cookies
    signed = client.post("/sign-in", data={**fields, "csrf_token": cookie})
    assert signed.status_code == 303
    session = signed.headers["set-cookie"]
    assert re.search(r"httponly", session, re.I)
    assert re.search(r"samesite=lax", session, re.I)
    client.close()


def test_every_response_carries_the_security_headers(world: World) -> None:
    admin = world.visitors["admin"]
    urls = [world.url(p) for p in pages(world.stack.settings) if p.method == "GET"]
    urls += ["/no-such-page", "/static/css/app.css", "/static/js/copy.js"]
    for url in urls:
        for visitor in (admin, world.visitors["anonymous"]):
            with answer(visitor.client, "GET", url) as response:
                for name, value in SECURITY_HEADERS.items():
                    assert response.headers.get(name) == value, f"{url}: {name}"
                cache = response.headers.get("cache-control", "")
                assert ("no-store" in cache) != url.startswith("/static/"), f"{url}: pages are never cached"


def test_a_page_without_an_access_rule_fails_the_matrix() -> None:
    """The enumeration itself: a route another engineer forgot to protect is caught, wherever it is included."""
    router = APIRouter()

    @router.get("/reports/{agency}")
    async def forgotten(agency: str) -> str:
        return agency

    @router.get("/protected", dependencies=[Depends(require(Role.AUDITOR))])
    async def protected() -> str:
        return ""

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)  # as the web app
    app.include_router(router, prefix="/x")
    with pytest.raises(AssertionError, match="neither"):
        pages_of(app.routes)
    guarded = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    guarded.include_router(router, prefix="/x", dependencies=[Depends(require(Role.ADMIN))])
    found = {(p.path, p.roles) for p in pages_of(guarded.routes)}
    assert found == {("/x/reports/{agency}", frozenset({Role.ADMIN})), ("/x/protected", frozenset())}
