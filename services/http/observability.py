"""What every HTTP service shows its operators: a request id, one JSON log line and metrics per request.

`instrument(app, service, channel)` (called by `services/http/platform.py` for the APIs and by
`services/web/app.py` for the pages) adds, outermost first:

1. `RequestObservability`: the request id, accepted from `X-Request-ID` when it is acceptable
   (`infra.request_context.accepted_request_id`) or generated, bound for the whole request (the
   events it stores carry it) and returned in the response's `X-Request-ID`; then one log line:
   method, route template, status, duration, request id, the subject and role (set by the
   authentication: `infra.request_context.identify`), and the agency and period when the route
   or its query names them. Never the raw path or query string, a header or a body: no secret
   can reach the log. Probes (`/health`, `/ready`, `/metrics`) log at DEBUG unless they fail;
2. `infra.metrics.HTTPMetricsMiddleware`: requests and latency by route template;
3. `GET /metrics` (outside the OpenAPI).
"""

from __future__ import annotations

import logging
import time
from urllib.parse import parse_qsl

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infra import request_context
from infra.logs import fields
from infra.metrics import HTTPMetricsMiddleware, metrics_endpoint, route_template
from infra.request_context import REQUEST_ID_HEADER, RequestContext, accepted_request_id, new_request_id

log = logging.getLogger("reporting.http")

PROBES = frozenset({"/health", "/ready", "/metrics"})
_HEADER = REQUEST_ID_HEADER.lower().encode()
MAX_FIELD = 64  # a client-chosen value (a query's period) is cut to this length in the log


def _named(scope: Scope, name: str) -> str | None:
    """A path parameter of the route, or else a query parameter, of that name (cut to MAX_FIELD)."""
    value = (scope.get("path_params") or {}).get(name)
    if value is None:
        query = scope.get("query_string", b"").decode("latin-1")
        value = next((v for k, v in parse_qsl(query) if k == name), None)
    return None if value is None else str(value)[:MAX_FIELD]


class RequestObservability:
    def __init__(self, app: ASGIApp, service: str, channel: str) -> None:
        self.app = app
        self.service = service
        self.channel = channel

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == _HEADER), None)
        request_id = accepted_request_id(offered) or new_request_id()
        context = RequestContext(request_id, channel=self.channel)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        with request_context.bound(context):
            try:
                await self.app(scope, receive, send_with_id)
            except Exception:
                log.exception("request failed", extra=fields(route=route_template(scope)))
                raise
            finally:
                self._log(scope, context, status, time.perf_counter() - started, offered)

    def _log(self, scope: Scope, context: RequestContext, status: int, seconds: float, offered: str | None) -> None:
        path = str(scope.get("path", ""))
        level = logging.DEBUG if path in PROBES and status < 400 else logging.INFO
        if not log.isEnabledFor(level):
            return
        line = {
            "method": str(scope.get("method", "")),
            "route": route_template(scope),
            "status": status,
            "duration_seconds": round(seconds, 6),
            "channel": context.channel,
            "subject": context.subject,
            "role": context.role,
            "agency": context.agency or _named(scope, "agency"),
            "period": context.period or _named(scope, "period"),
        }
        if offered is not None and offered != context.request_id:
            line["request_id_refused"] = True  # the client's X-Request-ID was not acceptable
        log.log(level, "request", extra=fields(**{k: v for k, v in line.items() if v is not None}))


def instrument(app: FastAPI, service: str, channel: str) -> None:
    """Request ids, the request log line, metrics and `/metrics` on `app` (call it after its other middleware)."""
    app.router.routes.append(Route("/metrics", metrics_endpoint(), include_in_schema=False))
    app.add_middleware(HTTPMetricsMiddleware, service=service)
    app.add_middleware(RequestObservability, service=service, channel=channel)
