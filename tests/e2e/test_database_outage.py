"""PostgreSQL stops under the write API: 503 with Retry-After (never a 500), nothing half-written, recovery."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from domain.identity import Role
from infra.db import connect
from infra.migrate import migrate
from infra.runtime.ports import free_port, wait_until
from infra.runtime.postgres import LocalPostgres
from infra.settings import Settings
from services.ingest.bootstrap import ingest_service
from services.ingest.seed import load_seed
from tests.conftest import StackFactory
from tests.helpers import auth, form_indicators, open_month


@pytest.fixture
def private_postgres() -> Iterator[LocalPostgres]:
    """A cluster of this test alone: it is stopped in the middle of the test."""
    folder = Path(tempfile.mkdtemp(prefix="reporting-outage-"))
    folder.chmod(0o755)
    with LocalPostgres(folder / "pg", free_port(), log_path=folder / "pg.log") as server:
        yield server


@pytest.mark.slow
def test_outage_answers_503_and_recovers(
    stack_factory: StackFactory, settings: Settings, private_postgres: LocalPostgres
) -> None:
    chosen = replace(settings, postgres_port=private_postgres.port, postgres_dbname=private_postgres.dbname)
    migrate(chosen)
    with ingest_service(chosen) as service:
        load_seed(service)
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
    down = post(2)
    assert down.status_code == 503, down.text
    assert down.headers["retry-after"]
    assert down.json()["code"] == "service-unavailable"
    assert httpx.get(stack.ingest_url + "/ready", timeout=10).status_code == 503
    assert httpx.get(stack.ingest_url + "/health", timeout=10).status_code == 200

    private_postgres.start()
    wait_until(lambda: httpx.get(stack.ingest_url + "/ready", timeout=10).status_code == 200, 60, what="ready again")
    recovered = post(3)
    assert recovered.status_code == 200, recovered.text
    assert recovered.json()["corrected"] == codes[:20], "the refused write left nothing behind: 1 -> 3"

    with connect(chosen) as conn:
        values = conn.execute(
            "SELECT count(*) FROM reporting_events e WHERE e.topic LIKE %s", ("%IndicatorValue%",)
        ).fetchone()
    assert values is not None
    assert values[0] == 40, "20 first values and 20 corrections: nothing from the refused request"
