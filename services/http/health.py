"""Liveness and readiness: /health answers while the process runs; /ready when its dependencies do.

A readiness check is a function that returns when its dependency is fine and raises otherwise:
`NotReady` with a message for the operator (shown as is), or any error of the dependency.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from fastapi import FastAPI
from fastapi.responses import ORJSONResponse


class NotReady(Exception):
    """A dependency answers but is not fit to serve (e.g. a projection too far behind); its message is shown."""


def lag_check(lag: Callable[[], Mapping[str, int]], max_events: int) -> Callable[[], None]:
    """Not ready while a projection has more than `max_events` published events to apply."""

    def check() -> None:
        behind = {name: events for name, events in lag().items() if events > max_events}
        if behind:
            listed = ", ".join(f"{name} {events} events" for name, events in sorted(behind.items()))
            raise NotReady(f"lagging: {listed} behind (the limit is {max_events})")

    return check


def add_health_routes(app: FastAPI, checks: Mapping[str, Callable[[], None]]) -> None:
    @app.get("/health", tags=["health"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    readiness = {
        "type": "object",
        "required": ["status", "checks"],
        "properties": {"status": {"type": "string"}, "checks": {"type": "object"}},
    }

    @app.get(
        "/ready",
        tags=["health"],
        responses={
            200: {"description": "every dependency answers", "content": {"application/json": {"schema": readiness}}},
            503: {"description": "a dependency is down", "content": {"application/json": {"schema": readiness}}},
        },
    )
    def ready() -> ORJSONResponse:
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                check()
                results[name] = "ok"
            except NotReady as error:
                results[name] = str(error)
            except Exception as error:  # any failure means "not ready", whatever its kind
                results[name] = f"unavailable: {type(error).__name__}"
        ok = all(value == "ok" for value in results.values())
        return ORJSONResponse(
            {"status": "ready" if ok else "not ready", "checks": results}, status_code=200 if ok else 503
        )
