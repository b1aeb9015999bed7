"""Liveness and readiness: /health answers while the process runs; /ready when its dependencies do."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from fastapi import FastAPI
from fastapi.responses import ORJSONResponse


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
            except Exception as error:  # any failure means "not ready", whatever its kind
                results[name] = f"unavailable: {type(error).__name__}"
        ok = all(value == "ok" for value in results.values())
        return ORJSONResponse(
            {"status": "ready" if ok else "not ready", "checks": results}, status_code=200 if ok else 503
        )
