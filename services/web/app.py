"""The people's web app: server-rendered pages over the same application and read models as the APIs.

`create_app` composes nothing: it is given the built `WebSide`, `resources` to enter while it runs
(the composition root's pools and stores) and the `readiness` checks of /ready.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractContextManager, asynccontextmanager
from importlib import resources as package_files
from types import ModuleType

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain.errors import DomainError, ErrorKind
from services.http.health import add_health_routes
from services.http.limits import BodySizeLimit
from services.http.observability import instrument
from services.http.problems import STATUS_BY_KIND
from services.web.pages import (
    account,
    admin,
    audit_as_of,
    audit_home,
    audit_proofs,
    audit_trail,
    boards,
    compliance,
    entry,
    home,
    imports,
    live,
    reports,
    review,
)
from services.web.people import SignInRequired, sign_in_url
from services.web.security import SESSION_COOKIE, SecurityHeaders
from services.web.templating import gettext, render
from services.web.timing import ServerTiming
from services.web.web_side import WebSide

FORM_OVERHEAD = 64 << 10  # a multipart form's own fields and boundaries
# Each page module has its `router`, and `NAV`, its main-menu entries.
PAGES: tuple[ModuleType, ...] = (account, home, entry, review, live, compliance, boards, reports, admin, imports)
PAGES += (audit_home, audit_trail, audit_as_of, audit_proofs)  # the auditors' console


def error_page(request: Request, status: int, title: str, message: str) -> Response:
    return render(request, "error.html", {"title": title, "message": message}, status_code=status)


def create_app(
    web: WebSide,
    resources: Callable[[], AbstractContextManager[None]],
    readiness: Mapping[str, Callable[[], None]],
    unavailable_errors: tuple[type[Exception], ...] = (),
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with resources():
            yield

    app = FastAPI(title="Reporting web app", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.web = web
    app.add_middleware(SecurityHeaders)
    # The largest form is a file to import: no body past what an upload may be.
    app.add_middleware(BodySizeLimit, max_bytes=web.imports.max_upload_bytes + FORM_OVERHEAD)
    # A form of 200 indicators is half a megabyte of HTML; compressed, a tenth (event streams are left alone).
    app.add_middleware(GZipMiddleware, minimum_size=2000, compresslevel=6)
    app.add_middleware(ServerTiming)  # outermost: the time includes the compression
    static = package_files.files("services.web").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    app.state.nav_entries = tuple(entry for page in PAGES for entry in page.NAV)
    for page in PAGES:
        app.include_router(page.router)
    add_health_routes(app, readiness)
    instrument(app, "web", "web")

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        ended = bool(request.cookies.get(SESSION_COOKIE))  # a session it had has expired or was ended
        if request.headers.get("hx-request"):  # htmx follows this header, not a 303
            return Response(status_code=401, headers={"HX-Redirect": sign_in_url(request, ended=ended)})
        response = RedirectResponse(sign_in_url(request, ended=ended), status_code=303)
        if ended:
            response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @app.exception_handler(DomainError)
    async def _refused(request: Request, exc: DomainError) -> Response:
        title = gettext(request, "This cannot be done")
        if exc.kind is ErrorKind.FORBIDDEN:
            title = gettext(request, "Not allowed")
        elif exc.kind is ErrorKind.NOT_FOUND:
            title = gettext(request, "Not found")
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
        message = gettext(request, exc.detail)
        status = STATUS_BY_KIND[exc.kind]  # the API's status for the same refusal
        response: Response
        if request.headers.get("hx-request"):  # a fragment for the part of the page that asked
            response = render(request, "_error_fragment.html", {"message": message}, status_code=status)
        else:
            response = error_page(request, status, title, message)
        if headers:
            response.headers.update(headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        return error_page(
            request, 422, gettext(request, "This cannot be done"), gettext(request, "The form was not filled in right.")
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return error_page(request, 404, gettext(request, "Not found"), gettext(request, "There is no such page."))
        return error_page(request, exc.status_code, gettext(request, "This cannot be done"), str(exc.detail))

    async def _unavailable(request: Request, exc: Exception) -> Response:
        message = gettext(request, "The service is not answering right now. Nothing was lost: try again shortly.")
        response = error_page(request, 503, gettext(request, "Please try again"), message)
        response.headers["Retry-After"] = "2"
        return response

    for error_type in unavailable_errors:
        app.add_exception_handler(error_type, _unavailable)
    return app
