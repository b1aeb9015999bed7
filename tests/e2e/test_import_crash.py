"""A 100,000-value import whose worker is killed (SIGKILL) halfway, then resumed by a new worker: every value
is stored exactly once, and the summary counts each once."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest

from bench.environment import load_form
from domain.identity import Role
from domain.periods import Period
from infra.db import connect
from infra.runtime.ports import wait_until
from infra.settings import Settings
from tests.conftest import StackFactory
from tests.helpers import auth

AGENCY = "T01"
INDICATORS = [f"CRASH.I{n:03d}" for n in range(400)]
FIRST = Period.parse("2000-01")
MONTHS = 250  # x 400 indicators = 100,000 values, all in months long open (2000-01 to 2020-10)


def large_form(settings: Settings) -> None:
    """An agency that has reported 400 indicators a month since 2000: room for 100,000 values."""
    load_form(settings, "CRASH-400", INDICATORS, (AGENCY,), since=FIRST, registered=date(2000, 1, 1), backfill=True)


def hundred_thousand_values() -> bytes:
    lines = ["agency,period,indicator,value"]
    month = FIRST
    for n in range(MONTHS):
        lines += [f"{AGENCY},{month.code},{code},{n * 1000 + i}" for i, code in enumerate(INDICATORS)]
        month = month.next()
    return ("\r\n".join(lines) + "\r\n").encode()


def job_of(url: str, token: str, job_id: str) -> dict[str, Any]:
    response = httpx.get(f"{url}/imports/{job_id}", headers=auth(token), timeout=10)
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()
    return job


@pytest.mark.slow
def test_a_killed_import_resumes_and_stores_every_value_exactly_once(stack_factory: StackFactory) -> None:
    stack = stack_factory("ingest", "import-worker")
    large_form(stack.settings)
    token = stack.token(Role.AGENCY_REPORTER, AGENCY)
    data = hundred_thousand_values()
    response = httpx.post(
        f"{stack.ingest_url}/imports",
        content=data,
        params={"mode": "best_effort", "filename": "100k.csv"},
        headers={**auth(token), "Content-Type": "text/csv"},
        timeout=60,
    )
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    batches = 0

    def halfway() -> bool:
        nonlocal batches
        job = job_of(stack.ingest_url, token, job_id)
        assert job["status"] != "done", "the job ended before it could be killed"
        batches = job["progress"]["batches_done"]
        return bool(batches >= MONTHS // 2)

    wait_until(halfway, 300, interval=0.05, what="half of the batches")
    stack.services["import-worker"].kill()
    killed = job_of(stack.ingest_url, token, job_id)
    assert killed["status"] == "running"
    assert MONTHS // 2 <= killed["progress"]["batches_done"] < MONTHS
    with connect(stack.settings) as conn:
        stored_when_killed = conn.execute(
            "SELECT count(*) FROM reporting_events WHERE topic LIKE '%%IndicatorValueSubmitted'"
        ).fetchone()
    assert stored_when_killed is not None
    assert 0 < stored_when_killed[0] < 100_000

    stack.start("import-worker")
    wait_until(
        lambda: job_of(stack.ingest_url, token, job_id)["status"] == "done", 300, interval=0.2, what="the job's end"
    )
    job = job_of(stack.ingest_url, token, job_id)
    assert job["attempts"] == 2
    summary = job["summary"]
    assert (summary["rows"], summary["values"], summary["stored"], summary["rejected"]) == (100_000,) * 3 + (0,)
    assert summary["outcome"] == "imported"
    source = "sha256:" + job["file"]["sha256"]
    with connect(stack.settings) as conn:
        values, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT (originator_id, convert_from(state, 'UTF8')::jsonb ->> 'indicator'))"
            " FROM reporting_events WHERE topic LIKE '%%IndicatorValueSubmitted'"
            " AND convert_from(state, 'UTF8')::jsonb ->> 'source' = %s",
            (source,),
        ).fetchone() or (0, 0)
        corrections = conn.execute(
            "SELECT count(*) FROM reporting_events WHERE topic LIKE '%%IndicatorValueCorrected'"
        ).fetchone()
    assert (values, distinct) == (100_000, 100_000), "every value stored exactly once"
    assert corrections == (0,)
