"""/ready means something: the reports API and the web app are not ready while a projection they read
lags past READY_MAX_LAG_EVENTS, and ready again once it caught up; the write API does not depend on it."""

from __future__ import annotations

from dataclasses import replace

import httpx

from domain.identity import Role
from infra.runtime.ports import wait_until
from infra.settings import Settings
from tests.conftest import StackFactory
from tests.helpers import auth, form_indicators, open_month


def ready(url: str) -> httpx.Response:
    return httpx.get(url + "/ready", timeout=5)


def test_not_ready_while_a_projection_lags_past_the_limit(stack_factory: StackFactory, settings: Settings) -> None:
    # Nothing is published before the relay starts: everything is ready.
    stack = stack_factory("ingest", "reports", "web", settings_override=replace(settings, ready_max_lag_events=3))
    token = stack.token(Role.AGENCY_REPORTER, "P01")
    period = open_month()
    codes = [i["code"] for i in form_indicators(stack.ingest_url, token, "UNIFIED-PROVINCIAL", period, "integer")[:5]]
    values = {"values": [{"indicator": code, "value": 1} for code in codes]}
    written = httpx.post(f"{stack.ingest_url}/agencies/P01/periods/{period}/values", json=values, headers=auth(token))
    assert written.status_code == 200

    # The relay publishes the seed and the values; no projector applies them.
    stack.start("relay")
    for url in (stack.reports_url, stack.web_url):
        wait_until(lambda url=url: ready(url).status_code == 503, 60, what=f"{url} not ready")
        answer = ready(url).json()
        assert answer["status"] == "not ready"
        assert answer["checks"]["postgres"] == "ok"
        assert answer["checks"]["projections"].startswith("lagging: ")
        assert "(the limit is 3)" in answer["checks"]["projections"]
        assert "report_view " in answer["checks"]["projections"]
    assert ready(stack.ingest_url).status_code == 200, "the write API reads no projection"
    assert httpx.get(stack.reports_url + "/health").status_code == 200, "alive all the same"

    stack.start("project")
    for url in (stack.reports_url, stack.web_url):
        wait_until(lambda url=url: ready(url).status_code == 200, 60, what=f"{url} ready again")
        assert ready(url).json()["checks"] == {"postgres": "ok", "projections": "ok"}
