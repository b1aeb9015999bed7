"""What every HTTP service is built on: its adapters as the composition root built them, and the app
with what the services share (problem details, limits, roles in the OpenAPI, health, the authenticator).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass, field

from fastapi import FastAPI
from fastapi.responses import ORJSONResponse

from infra.settings import Settings
from services.http.auth import Authenticator, declare_roles
from services.http.health import add_health_routes
from services.http.limits import LimiterFactory, in_process_limiter, install_limits
from services.http.observability import instrument
from services.http.problems import install_problem_handlers, problem_responses

API_CHANNEL = "api"  # values entered through the write API (infra.metrics: `channel`)


@dataclass(frozen=True)
class Platform:
    """The adapters an HTTP service needs beyond its own: built, not yet connected.

    `resources` connects them as the service starts and closes them as it stops; `readiness`
    are the checks of /ready; `unavailable_errors` the adapters' "database not answering" errors;
    `limiter` makes the rate limiters (one shared by every worker process, from the composition root).
    """

    settings: Settings
    authenticator: Authenticator
    readiness: Mapping[str, Callable[[], None]]
    unavailable_errors: tuple[type[Exception], ...]
    resources: Callable[[], AbstractContextManager[object]] = field(default=nullcontext)
    limiter: LimiterFactory = in_process_limiter


def service_app(title: str, platform: Platform, service: str) -> FastAPI:
    """A FastAPI app with everything both services share; the caller adds its routers.

    `service` names it in the metrics and the logs (`ingest`, `reports`).
    """

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        with platform.resources():
            yield

    app = FastAPI(
        title=title,
        version="1",
        lifespan=lifespan,
        default_response_class=ORJSONResponse,
        responses=problem_responses(),
    )
    app.state.authenticator = platform.authenticator
    install_limits(app, platform.settings, platform.limiter, service)
    declare_roles(app)
    install_problem_handlers(app, platform.unavailable_errors)
    add_health_routes(app, platform.readiness)
    instrument(app, service, API_CHANNEL)
    return app
