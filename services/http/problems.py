"""RFC 9457 problem details, the one catalogue: every refusal is a 4xx with a machine-readable body,
a database that does not answer is a 503 with Retry-After, never a 500.

Refusals are `domain.errors.DomainError`s (the domain's, the applications', `services.http.errors`):
their `kind` gives the status. `Problem` is the response itself, built here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from domain.errors import DomainError, ErrorKind

PROBLEM_BASE = "https://reporting.example.gov.vn/problems/"
MEDIA_TYPE = "application/problem+json"

# The body of every refusal, as declared in the OpenAPI of both services (members beyond these,
# e.g. `errors`, `failures`, `current_version`, `position`, depend on the code).
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "required": ["type", "title", "status", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "code": {"type": "string", "description": "stable machine-readable code (the last segment of type)"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
    },
}
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}}
_REFUSALS: dict[int, str] = {
    400: "malformed header (Idempotency-Key, If-Match)",
    401: "no token, or an unknown, revoked or expired one",
    403: "the token's role or agency is not admitted",
    404: "no such resource",
    409: "conflict with the current state (or not yet visible: retry)",
    413: "body or batch too large",
    422: "the request is invalid; nothing changed",
    429: "rate limited (per token, or failed authentications per address)",
    503: "the database is not answering; retry later",
}


def problem_responses() -> dict[int | str, dict[str, Any]]:
    """The problem responses every operation may give, for the OpenAPI of both services."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status, description in _REFUSALS.items():
        response: dict[str, Any] = {"description": description, "content": {MEDIA_TYPE: {"schema": PROBLEM_SCHEMA}}}
        if status in (429, 503):
            response["headers"] = _RETRY_AFTER
        responses[status] = response
    return responses


# One status per kind of refusal; the problem type is the refusal's own code.
STATUS_BY_KIND: dict[ErrorKind, int] = {
    ErrorKind.INVALID: 422,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.UNAUTHENTICATED: 401,
    ErrorKind.TOO_LARGE: 413,
    ErrorKind.MALFORMED: 400,
    ErrorKind.RATE_LIMITED: 429,
}
# Headers a kind of refusal always carries.
HEADERS_BY_KIND: dict[ErrorKind, dict[str, str]] = {
    ErrorKind.UNAUTHENTICATED: {"WWW-Authenticate": "Bearer"},
}


class Problem(Exception):
    """A problem response (raised, it is answered as is); `extra` members are added to the body."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str = "",
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


def problem_response(problem: Problem, instance: str | None = None) -> Response:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + problem.code,
        "title": problem.title,
        "status": problem.status,
        "code": problem.code,
    }
    if problem.detail:
        body["detail"] = problem.detail
    if instance:
        body["instance"] = instance
    body.update(problem.extra)
    return Response(orjson.dumps(body), status_code=problem.status, media_type=MEDIA_TYPE, headers=problem.headers)


def from_domain_error(error: DomainError) -> Problem:
    title = error.code.replace("-", " ").capitalize()
    headers = dict(HEADERS_BY_KIND.get(error.kind, {}))
    if error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    return Problem(STATUS_BY_KIND[error.kind], error.code, title, error.detail, headers, **error.extra())


def install_problem_handlers(app: FastAPI, unavailable_errors: Iterable[type[Exception]] = ()) -> None:
    """Map every error the services raise to a problem response; never a bare 500.

    `unavailable_errors` are the adapters' "the database is not answering" errors (e.g.
    `infra.db.UNAVAILABLE_ERRORS`, passed by the composition root): each is a 503 with Retry-After.
    """

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> Response:
        return problem_response(exc, request.url.path)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        return problem_response(from_domain_error(exc), request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"location": list(err.get("loc", ())), "reason": err.get("type"), "detail": err.get("msg")}
            for err in exc.errors()
        ]
        problem = Problem(
            422, "invalid-request", "Invalid request", "the request does not match the schema", errors=errors
        )
        return problem_response(problem, request.url.path)

    install_unavailable_handler(app, unavailable_errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not-found", 405: "method-not-allowed", 401: "unauthorized"}.get(exc.status_code, "http-error")
        problem = Problem(exc.status_code, code, str(exc.detail), headers=dict(exc.headers or {}))
        return problem_response(problem, request.url.path)


RETRY_AFTER_SECONDS = "2"


def install_unavailable_handler(app: FastAPI, unavailable_errors: Iterable[type[Exception]]) -> None:
    """Errors that mean "the database is not answering" become a 503: the client may retry later."""

    async def _unavailable(request: Request, exc: Exception) -> Response:
        problem = Problem(
            503,
            "service-unavailable",
            "Service unavailable",
            # A failure before the commit stored nothing (every write is one transaction); one during
            # the commit may have stored everything: a retry with the same Idempotency-Key is safe.
            "the database is not answering; the request was not completed: retry it later"
            " (with the same Idempotency-Key)",
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        )
        return problem_response(problem, request.url.path)

    for error_type in unavailable_errors:
        app.add_exception_handler(error_type, _unavailable)
