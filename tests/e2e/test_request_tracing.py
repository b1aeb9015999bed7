"""One request id from the HTTP edge to the read model: the response, the stored events, the Kafka
headers, the projector's log line; and the JSON log lines hold no secret."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import orjson

from domain.identity import Role
from infra.db import connect
from infra.kafka import header
from infra.runtime.ports import wait_until
from tests.conftest import StackFactory
from tests.helpers import auth, form_indicators, log_lines, open_month, topic_messages


def test_one_request_id_travels_from_the_request_to_the_projectors_log(stack_factory: StackFactory) -> None:
    stack = stack_factory("ingest", "relay", "project")
    token = stack.token(Role.AGENCY_REPORTER, "P01")
    period = open_month()
    codes = [i["code"] for i in form_indicators(stack.ingest_url, token, "UNIFIED-PROVINCIAL", period, "integer")[:3]]
    request_id = f"tracing-{uuid.uuid4()}"

    response = httpx.post(
        f"{stack.ingest_url}/agencies/P01/periods/{period}/values",
        json={"values": [{"indicator": code, "value": 7 + n} for n, code in enumerate(codes)]},
        headers={**auth(token), "X-Request-ID": request_id},
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"] == request_id
    last = response.json()["position"]

    # 1. Stored with every event the request produced (and only those).
    with connect(stack.settings) as conn:
        rows = conn.execute("SELECT notification_id, state FROM reporting_events ORDER BY notification_id").fetchall()
    stamped = {int(n) for n, state in rows if orjson.loads(bytes(state)).get("request_id") == request_id}
    assert last in stamped
    assert len(stamped) == len(codes) + 1, "the submission's opening and one event per value"
    assert max(stamped) == last

    # 2. In the Kafka headers of each of those events (not in the canonical value).
    def published() -> bool:
        with connect(stack.settings) as conn:
            row = conn.execute(
                "SELECT position FROM relay_positions WHERE topic = %s AND partition = -1",
                (stack.settings.kafka_topic,),
            ).fetchone()
        return row is not None and int(row[0]) >= last

    wait_until(published, 60, what="the relay published the request's events")
    records = topic_messages(stack.settings, stamped)
    carried = {
        int(header(r.headers, "notification_id") or 0): header(r.headers, "request_id")
        for r in records
        if int(header(r.headers, "notification_id") or 0) in stamped
    }
    assert carried == dict.fromkeys(stamped, request_id.encode())
    assert all(b"request_id" not in r.value for r in records), "the id is metadata, not part of the event"

    # 3. In the projector's log line for the batch that applied them.
    project_log = stack.services["project"].log_path

    def applied_line() -> dict[str, Any] | None:
        for line in log_lines(project_log):
            if line.get("message") == "batch applied" and request_id in line.get("request_ids", []):
                return line
        return None

    wait_until(lambda: applied_line() is not None, 60, what="the projector's log names the request")
    line = applied_line()
    assert line is not None
    assert line["first_position"] <= min(stamped)
    assert line["last_position"] >= max(stamped)
    assert line["applied"]["report_view"] >= len(stamped)
    assert line["service"] == "project"
    assert line["level"] == "info"

    # 4. And in the ingest service's line for the request, with who and on what.
    ingest_log = stack.services["ingest"].log_path

    def request_line() -> dict[str, Any] | None:
        return next(
            (x for x in log_lines(ingest_log) if x.get("message") == "request" and x.get("request_id") == request_id),
            None,
        )

    wait_until(lambda: request_line() is not None, 10, what="the request's log line")
    entry = request_line()
    assert entry is not None
    assert entry["route"] == "/agencies/{agency}/periods/{period}/values"
    assert entry["method"] == "POST"
    assert entry["status"] == 200
    assert entry["duration_seconds"] > 0
    assert entry["agency"] == "P01"
    assert entry["period"] == period.code
    assert entry["role"] == "agency_reporter"
    assert entry["subject"].startswith("agency_reporter:P01:"), entry
    assert entry["channel"] == "api"

    # An unacceptable id is replaced by one the edge generates (and the line says so).
    refused = httpx.get(
        f"{stack.ingest_url}/agencies/P01/periods/{period}/submission",
        headers={**auth(token), "X-Request-ID": "spaces are refused, and so is " + "x" * 200},
    )
    assert refused.status_code == 200
    generated = refused.headers["x-request-id"]
    assert len(generated) == 32
    assert int(generated, 16) >= 0
    wait_until(
        lambda: any(x.get("request_id") == generated and x.get("request_id_refused") for x in log_lines(ingest_log)),
        10,
        what="the replaced id in the log",
    )

    # No secret in any log line: not the token, not the Authorization header.
    for service in ("ingest", "relay", "project"):
        text = stack.services[service].log_path.read_text(encoding="utf-8")
        assert token not in text, service
        assert "Bearer" not in text, service
