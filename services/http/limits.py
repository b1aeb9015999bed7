"""Resource limits of both HTTP services, in one place (configured by `infra.settings.Settings`).

- the request body size, enforced before the body is parsed (413 `body-too-large`); uploads of files
  (`POST /imports`) may be larger, up to `MAX_UPLOAD_BYTES`;
- the page size of list endpoints (`PageLimit`: 422 `page-too-large` above `MAX_PAGE_SIZE`);
- rate limits: requests per token and failed authentications per client address
  (`Limits`, applied by the authentication dependency in `services/http/auth.py`: 429 + Retry-After).

The values per batch (`MAX_VALUES_PER_BATCH`, 413 `too-many-values`) are checked by the write application.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Query, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infra.settings import Settings
from services.http.errors import BodyTooLarge, PageTooLarge
from services.http.problems import from_domain_error, problem_response
from services.http.ratelimit import Limiter, RateLimiter

DEFAULT_PAGE_SIZE = 100
# Paths whose bodies are uploaded files, streamed to storage rather than parsed in memory.
UPLOAD_PATHS = ("/imports",)

LimiterFactory = Callable[[str, float, int], Limiter]
"""(scope, rate per second, burst) -> a limiter; each scope keeps its own buckets."""


def in_process_limiter(scope: str, rate: float, burst: int) -> Limiter:
    """Buckets of this process alone (tests and tools; the services share theirs through PostgreSQL)."""
    return RateLimiter(rate, burst)


@dataclass(frozen=True)
class Limits:
    per_token: Limiter
    auth_failures: Limiter
    max_page_size: int

    @classmethod
    def from_settings(
        cls, settings: Settings, limiter: LimiterFactory = in_process_limiter, service: str = "service"
    ) -> Limits:
        """Each service limits its own requests (its buckets are shared by its workers and replicas)."""
        return cls(
            limiter(f"{service}/token", settings.rate_limit_per_token, 2 * settings.rate_limit_per_token),
            limiter(
                f"{service}/auth-failures", settings.auth_failures_per_minute / 60, settings.auth_failures_per_minute
            ),
            settings.max_page_size,
        )


def install_limits(
    app: FastAPI, settings: Settings, limiter: LimiterFactory = in_process_limiter, service: str = "service"
) -> None:
    """Every limit of `settings` on `app`: the body size now, the rest read by the dependencies."""
    app.state.limits = Limits.from_settings(settings, limiter, service)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes, max_upload_bytes=settings.max_upload_bytes)


def page_limit(
    request: Request,
    limit: Annotated[
        int | None,
        Query(ge=1, description=f"page size (default {DEFAULT_PAGE_SIZE}; at most the server's MAX_PAGE_SIZE)"),
    ] = None,
) -> int:
    """The page size a list endpoint may return: refused above the configured maximum."""
    maximum = request.app.state.limits.max_page_size
    if limit is None:
        return int(min(DEFAULT_PAGE_SIZE, maximum))
    if limit > maximum:
        raise PageTooLarge(maximum)
    return limit


PageLimit = Annotated[int, Depends(page_limit)]


class _Overflow(Exception):
    """Raised while streaming a body past the limit, caught by the middleware itself."""


class BodySizeLimit:
    """Refuse bodies over `max_bytes` (`max_upload_bytes` for uploads), by Content-Length or while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_upload_bytes: int | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_upload_bytes = max_bytes if max_upload_bytes is None else max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_upload_bytes if scope.get("path", "") in UPLOAD_PATHS else self.max_bytes
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await self._refuse(scope, receive, send, limit)
                return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _Overflow
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _Overflow:
            await self._refuse(scope, receive, send, limit)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        problem = from_domain_error(BodyTooLarge(f"the limit is {limit} bytes"))
        await problem_response(problem, scope.get("path"))(scope, receive, send)
