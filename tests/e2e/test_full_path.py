"""An agency's values travel the whole path: API -> event store -> Kafka -> projector -> reports."""

from __future__ import annotations

import httpx
import orjson

from domain.identity import Role
from infra.integration_events import SCHEMA_VERSION, EventType, IntegrationEvent
from infra.kafka import header
from tests.conftest import Stack
from tests.helpers import auth, form_indicators, open_month, store_events, topic_messages


def test_values_reach_the_reports_api_and_the_topic(stack: Stack) -> None:
    token = stack.token(Role.AGENCY_REPORTER, "P01")
    period = open_month()
    indicators = form_indicators(stack.ingest_url, token, "UNIFIED-PROVINCIAL", period, "integer")[:5]
    assert len(indicators) == 5
    values = {item["code"]: 1000 + n for n, item in enumerate(indicators)}

    response = httpx.post(
        f"{stack.ingest_url}/agencies/P01/periods/{period}/values",
        json={"values": [{"indicator": code, "value": value} for code, value in values.items()]},
        headers=auth(token),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["submitted"] == list(values)
    position = body["position"]
    assert isinstance(position, int)
    assert position > 0

    # Strongly consistent read from the aggregate.
    submission = httpx.get(f"{stack.ingest_url}/agencies/P01/periods/{period}/submission", headers=auth(token)).json()
    assert {v["indicator"]: v["value"] for v in submission["values"]} == values

    # Eventually visible in the read model; read-your-writes with min_position.
    report = httpx.get(
        f"{stack.reports_url}/agencies/P01/periods/{period}/report",
        params={"min_position": position, "wait_ms": 10_000},
        headers=auth(token),
        timeout=15,
    )
    assert report.status_code == 200, report.text
    assert report.json()["position"] >= position
    assert {v["indicator"]: v["value"] for v in report.json()["values"]} == values

    # One message per value on the topic, in the documented schema; the topic holds exactly the store's events.
    stored = [e.position for e in store_events(stack.settings)]
    records = topic_messages(stack.settings, set(stored))
    assert sorted(IntegrationEvent.from_bytes(r.value).position for r in records) == stored
    messages = [r for r in records if header(r.headers, "event_type") == EventType.VALUE_SUBMITTED.encode()]
    assert len(messages) == 5
    for message in messages:
        event = IntegrationEvent.from_bytes(message.value)
        assert message.value == event.to_bytes(), "published bytes are canonical"
        assert message.key == b"P01"
        assert header(message.headers, "notification_id") == str(event.position).encode()
        assert header(message.headers, "schema_version") == str(SCHEMA_VERSION).encode()
        assert event.agency == "P01"
        assert event.period == period.code
        assert values[event.indicator or ""] == event.value
        assert event.actor
        assert event.role == "agency_reporter"
        raw = orjson.loads(message.value)
        assert list(raw) == sorted(raw), "keys are sorted"
