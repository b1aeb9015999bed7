"""PostgreSQL stops under the services: 503 with Retry-After (never a 500), nothing half-written, recovery.

The database answers the authentication of every request, so while it is down every endpoint of
both services must answer 503 from its authentication dependency (a connection refused, or the
pool's timeout); a request that got past authentication before the stop must answer 503 too.
When the database is back, every endpoint answers as before, with no restart of any process; the
workers (relay, projector, checkpointer) restarted during the outage wait for it instead of exiting.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import psutil
import pytest

from domain.identity import Role
from infra.db import connect
from infra.runtime.ports import wait_until
from infra.runtime.postgres import LocalPostgres
from infra.runtime.processes import http_ready
from infra.settings import Settings
from tests.conftest import StackFactory
from tests.e2e.conftest import on_private_postgres
from tests.e2e.test_authorization_matrix import MATRIX, build_world
from tests.helpers import auth, form_indicators, open_month


def assert_unavailable(response: httpx.Response, where: str) -> None:
    assert response.status_code == 503, f"{where}: {response.status_code} {response.text[:300]}"
    assert int(response.headers["retry-after"]) >= 1, where
    assert response.headers["content-type"].startswith("application/problem+json"), where
    assert response.json()["code"] == "service-unavailable", where


@pytest.mark.slow
def test_a_write_during_the_outage_is_a_503_and_leaves_nothing(
    private_postgres: LocalPostgres, stack_factory: StackFactory, settings: Settings
) -> None:
    chosen = on_private_postgres(settings, private_postgres)
    stack = stack_factory("ingest", settings_override=chosen)
    token = stack.token(Role.AGENCY_REPORTER, "P01")
    period = open_month()
    codes = [i["code"] for i in form_indicators(stack.ingest_url, token, "UNIFIED-PROVINCIAL", period, "integer")]
    url = f"{stack.ingest_url}/agencies/P01/periods/{period}/values"

    def post(value: int) -> httpx.Response:
        batch = [{"indicator": code, "value": value} for code in codes[:20]]
        return httpx.post(url, json={"values": batch}, headers=auth(token), timeout=60)

    assert post(1).status_code == 200

    private_postgres.stop()
    assert_unavailable(post(2), "a write")
    assert httpx.get(stack.ingest_url + "/ready", timeout=10).status_code == 503
    assert httpx.get(stack.ingest_url + "/health", timeout=10).status_code == 200

    private_postgres.start()
    wait_until(lambda: http_ready(stack.ingest_url), 60, what="ready again")
    recovered = post(3)
    assert recovered.status_code == 200, recovered.text
    assert recovered.json()["corrected"] == codes[:20], "the refused write left nothing behind: 1 -> 3"

    with connect(chosen) as conn:
        values = conn.execute(
            "SELECT count(*) FROM reporting_events e WHERE e.topic LIKE %s", ("%IndicatorValue%",)
        ).fetchone()
    assert values is not None
    assert values[0] == 40, "20 first values and 20 corrections: nothing from the refused request"


@pytest.mark.slow
def test_every_endpoint_answers_503_while_the_database_is_down_and_recovers(
    private_postgres: LocalPostgres, stack_factory: StackFactory, settings: Settings
) -> None:
    chosen = on_private_postgres(settings, private_postgres)
    stack = stack_factory("ingest", "relay", "project", "reports", "checkpoint", settings_override=chosen)
    world = build_world(stack)
    rows = list(MATRIX)
    callers = {key: next(iter(MATRIX[key].allowed)) for key in rows}

    # A read that passed authentication and waits for a position: it is in flight when the database stops.
    in_flight: list[httpx.Response] = []
    started = world.stack.settings
    with connect(started) as conn:
        row = conn.execute("SELECT now()").fetchone()
    assert row is not None
    t0 = row[0]

    def wait_for_far_position() -> None:
        in_flight.append(
            httpx.get(
                f"{stack.reports_url}/agencies/P01/periods/{world.period}/report",
                params={"min_position": world.position + 1_000_000, "wait_ms": 10_000},
                headers=auth(world.tokens["own"]),
                timeout=60,
            )
        )

    reader = threading.Thread(target=wait_for_far_position)
    reader.start()

    reports = psutil.Process(stack.services["reports"].process.pid)  # type: ignore[union-attr]

    def polling() -> bool:
        """The reports service queries the database after t0: only that request is under way."""
        ports = [
            c.laddr.port
            for c in reports.net_connections(kind="tcp")
            if c.raddr and c.raddr.port == private_postgres.port
        ]
        with connect(started) as conn:
            found = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE client_port = ANY(%s) AND query_start > %s",
                (ports, t0),
            ).fetchone()
        return found is not None and found[0] > 0

    wait_until(polling, 10, what="the in-flight read polling the read model")
    private_postgres.stop()
    reader.join(60)
    assert len(in_flight) == 1
    assert_unavailable(in_flight[0], "a read in flight when the database stopped")

    with ThreadPoolExecutor(len(rows)) as pool:
        down = list(pool.map(lambda key: world.request(*key, callers[key]), rows))
    for key, response in zip(rows, down, strict=True):
        assert_unavailable(response, f"{key} as {callers[key]}")
    for url in world.urls.values():
        assert httpx.get(url + "/ready", timeout=10).status_code == 503
        assert httpx.get(url + "/health", timeout=10).status_code == 200
    # Workers (re)started during the outage wait for the database instead of exiting.
    for worker in ("relay", "project", "checkpoint"):
        stack.services[worker].kill()
        stack.start(worker)

    private_postgres.start()
    for url in world.urls.values():
        wait_until(lambda url=url: http_ready(url), 60, what="ready again")
    # Every process recovered on its own: each endpoint answers as in the authorization matrix,
    # including the checkpointer's signature and the projector's read models for a new write.
    for key in rows:
        response = world.request(*key, callers[key])
        expected = MATRIX[key].allowed[callers[key]]
        assert response.status_code == expected, f"{key}: {response.status_code} {response.text[:300]}"
    after = httpx.post(
        f"{stack.ingest_url}/agencies/P01/periods/{world.period}/values",
        json={"values": [{"indicator": world.integer, "value": 123_456}]},
        headers=auth(world.tokens["own"]),
        timeout=30,
    )
    assert after.status_code == 200, after.text
    visible = httpx.get(
        f"{stack.reports_url}/agencies/P01/periods/{world.period}/report",
        params={"min_position": after.json()["position"], "wait_ms": 10_000},
        headers=auth(world.tokens["own"]),
        timeout=30,
    )
    assert visible.status_code == 200, visible.text
    assert {v["indicator"]: v["value"] for v in visible.json()["values"]}[world.integer] == 123_456
    for name, service in stack.services.items():
        if service.process is None:
            continue  # not started by this test (the web app)
        assert service.alive(), f"{name} exited: {service.log_path.read_text()[-2000:]}"
