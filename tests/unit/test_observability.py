"""Request ids, JSON log lines, the write side's metrics, readiness checks and the limiters, without servers."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from prometheus_client import Histogram
from prometheus_client.parser import text_string_to_metric_families

from domain.errors import BatchRejected, SubmissionLocked
from domain.submission import submission_id
from infra import metrics, request_context
from infra.canonical import CanonicalMapper, StoredRow, fast_canonical
from infra.integration_events import METADATA_FIELDS, MODELS, from_domain_event, message_headers, request_id_of
from infra.logs import JSONFormatter, fields
from infra.request_context import RequestContext, accepted_request_id
from services.http.health import NotReady, add_health_routes, lag_check
from services.http.observability import instrument
from services.http.ratelimit import RateLimiter, enforce
from services.ingest.application.commands import Action, ChangeStatus, EnterValues
from services.ingest.application.submissions import change_status, enter_values
from services.ingest.application.write_side import WriteSide
from tests.unit.test_handlers import AGENCY, OPEN, PAST, codes, complete, memory
from tests.unit.test_handlers import clock as clock
from tests.unit.test_handlers import ws as ws


def sample(name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        for s in family.samples:
            if s.name == name and labels.items() <= s.labels.items():
                return float(s.value)
    return 0.0


class Lines(logging.Handler):
    """The JSON lines a logger writes, parsed."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JSONFormatter("unit"))
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(orjson.loads(self.format(record)))


@pytest.fixture
def http_lines() -> Iterator[Lines]:
    handler = Lines()
    logger = logging.getLogger("reporting.http")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


# ---- request ids and log lines --------------------------------------------------------------


@pytest.mark.parametrize(
    "offered",
    ["3f2a9c7e-1b2d-4c5e-8f90-123456789abc", "00f067aa0ba902b7", "gateway:1234.5_x", "a"],
)
def test_usual_request_ids_are_accepted(offered: str) -> None:
    assert accepted_request_id(offered) == offered


@pytest.mark.parametrize("offered", ["", " ", "a b", "x" * 129, "-leading-dash", "é", "id\nsecond line", "a;b"])
def test_unusual_request_ids_are_replaced(offered: str) -> None:
    assert accepted_request_id(offered) is None


def test_a_log_line_is_one_json_object_with_the_request_id_and_its_fields() -> None:
    handler = Lines()
    logger = logging.getLogger("unit.lines")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        with request_context.bound(RequestContext("rid-1")):
            logger.warning("hello %s", "Hà Nội", extra=fields(events=3, service="not this"))
        logger.info("outside")
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    inside, outside, failed = handler.lines
    assert inside["message"] == "hello Hà Nội"
    assert inside["request_id"] == "rid-1"
    assert inside["events"] == 3
    assert inside["service"] == "unit", "a field cannot overwrite the line's own members"
    assert inside["level"] == "warning"
    assert inside["time"].endswith("Z")
    assert "request_id" not in outside
    assert "ValueError: boom" in failed["exception"]


def http_app() -> FastAPI:
    app = FastAPI()

    def who() -> None:
        request_context.identify("agency_reporter:P01:abc", "agency_reporter")

    @app.post("/agencies/{agency}/periods/{period}/values", dependencies=[Depends(who)])
    def values(agency: str, period: str) -> dict[str, str | None]:
        return {"request_id": request_context.current_request_id()}

    @app.get("/rollups")
    def rollups() -> dict[str, str]:
        return {}

    add_health_routes(app, {})
    instrument(app, "unit-observed", "api")
    return app


def test_the_edge_binds_returns_and_logs_one_request_id(http_lines: Lines) -> None:
    with TestClient(http_app(), base_url="http://service") as client:  # its own event loop, in a thread
        secret = {"Authorization": "Bearer rpt_secret_value"}
        chosen = client.post("/agencies/P01/periods/2025-09/values", headers={**secret, "X-Request-ID": "mine-1"})
        replaced = client.post("/agencies/P01/periods/2025-09/values", headers={"X-Request-ID": "not mine!"})
        client.get("/rollups?period=2025Q3&indicator=X&token=hidden")
        probe = client.get("/health")
    assert chosen.headers["x-request-id"] == "mine-1"
    assert chosen.json() == {"request_id": "mine-1"}, "bound while the handler runs (in its worker thread)"
    generated = replaced.headers["x-request-id"]
    assert generated != "not mine!"
    assert replaced.json() == {"request_id": generated}
    assert probe.status_code == 200
    first, second, third, health = http_lines.lines
    assert first["message"] == "request"
    assert first["request_id"] == "mine-1"
    assert first["route"] == "/agencies/{agency}/periods/{period}/values"
    assert (first["method"], first["status"], first["agency"], first["period"]) == ("POST", 200, "P01", "2025-09")
    assert (first["subject"], first["role"], first["channel"]) == ("agency_reporter:P01:abc", "agency_reporter", "api")
    assert first["duration_seconds"] > 0
    assert second["request_id_refused"] is True
    assert second["request_id"] == generated
    assert third["period"] == "2025Q3", "from the query when the route has no such parameter"
    assert "agency" not in third
    assert health["level"] == "debug", "probes log below INFO"
    text = orjson.dumps(http_lines.lines).decode()
    assert "rpt_secret_value" not in text
    assert "hidden" not in text, "no query string"


# ---- the request id in the stored events --------------------------------------------------


def test_events_stored_in_a_request_carry_its_id_beside_their_fields_not_in_the_contract(ws: WriteSide) -> None:
    entries = [(code, 10 + n) for n, code in enumerate(codes(ws, "integer")[:2])]
    with request_context.bound(RequestContext("stored-rid", channel="api")):
        enter_values(ws, AGENCY, EnterValues.of("P01", OPEN, entries))
    enter_values(ws, AGENCY, EnterValues.of("P01", OPEN, [(entries[0][0], 99)]))  # outside any request
    store = memory(ws)
    stored = list(store.application.recorder.select_events(submission_id("P01", OPEN)))
    assert [orjson.loads(e.state).get("request_id") for e in stored] == ["stored-rid"] * 3 + [None]
    for position, event in enumerate(store.application.events.get(submission_id("P01", OPEN)), 1):
        published = from_domain_event(event, position)
        assert b"request_id" not in published.to_bytes(), "the canonical bytes do not depend on it"
    first = stored[1]
    assert request_id_of(store.application.mapper.to_domain_event(first)) == "stored-rid"
    event = store.application.mapper.to_domain_event(first)
    row = StoredRow(7, str(first.originator_id), first.originator_version, first.topic, first.state)
    assert fast_canonical(row)[1] == from_domain_event(event, 7).to_bytes(), "the fast path leaves it out too"


def test_the_relays_messages_are_the_contracts_on_the_fast_path_and_the_contracts_own(ws: WriteSide) -> None:
    """What the relay publishes of a stored event: bytes, key, header contents, instant."""
    entries = [(code, 10 + n) for n, code in enumerate(codes(ws, "integer")[:2])]
    with request_context.bound(RequestContext("relayed-rid", channel="api")):
        enter_values(ws, AGENCY, EnterValues.of("P01", OPEN, entries))
    enter_values(ws, AGENCY, EnterValues.of("P01", OPEN, [(entries[0][0], 99)]))  # no request id
    app = memory(ws).application
    mapper = CanonicalMapper(app)  # type: ignore[arg-type]  # only its mapper is used
    stored = list(app.recorder.select_events(submission_id("P01", OPEN)))
    for position, stored_event in enumerate(stored, 40):
        domain_event = app.mapper.to_domain_event(stored_event)
        event = from_domain_event(domain_event, position)
        raw = (position, str(stored_event.originator_id).encode(), stored_event.originator_version)
        row = (*raw, stored_event.topic, stored_event.state)
        id_bytes, event_id, value, key, event_type, request_id, occurred_at = mapper.parts(row)
        # What the relay sends is what the contract's model would send.
        assert (value, key) == (event.to_bytes(), event.key)
        assert message_headers(position, event_type, request_id) == event.headers(request_id_of(domain_event))
        assert UUID(bytes=id_bytes) == UUID(event_id) == event.event_id
        assert datetime.fromisoformat(occurred_at) == event.occurred_at
        assert occurred_at.endswith("Z")
        assert mapper._contract_parts(row) == mapper.parts(row), (
            "the contract's own path, for what the fast one refuses"
        )
    assert [
        mapper.parts((1, str(e.originator_id).encode(), e.originator_version, e.topic, e.state))[5] for e in stored
    ] == ["relayed-rid"] * 3 + [None]


def test_no_domain_event_has_a_field_named_like_the_metadata() -> None:
    for event_class in MODELS:
        assert not set(getattr(event_class, "__annotations__", {})) & set(METADATA_FIELDS), event_class


# ---- the write side's metrics ------------------------------------------------------------------


def test_values_are_counted_by_channel_and_outcome_and_events_by_type(ws: WriteSide) -> None:
    integers = codes(ws, "integer")[:3]
    labels = {"channel": "unit-web"}
    submitted = sample("reporting_values_accepted_total", **labels, change="submitted")
    opened = sample("reporting_events_stored_total", event_type="SubmissionOpened")
    with request_context.bound(RequestContext("r", channel="unit-web")):
        enter_values(ws, AGENCY, EnterValues.of("P01", OPEN, [(c, 1) for c in integers]))
        enter_values(ws, AGENCY, EnterValues.of("P01", OPEN, [(integers[0], 2), (integers[1], 1)]))
        with pytest.raises(BatchRejected):
            enter_values(
                ws, AGENCY, EnterValues.of("P01", OPEN, [(integers[0], "x"), ("NO.SUCH", 1), (integers[1], 3)])
            )
        with request_context.channel("unit-import"):
            enter_values(ws, AGENCY, EnterValues.of("P01", OPEN, [(integers[2], 5)]))
    assert sample("reporting_values_accepted_total", **labels, change="submitted") - submitted == 3
    assert sample("reporting_values_accepted_total", **labels, change="corrected") >= 1
    assert sample("reporting_values_accepted_total", **labels, change="unchanged") >= 1
    assert sample("reporting_values_rejected_total", **labels, reason="wrong-type") >= 1
    assert sample("reporting_values_rejected_total", **labels, reason="unknown-indicator") >= 1
    assert sample("reporting_values_rejected_total", **labels, reason="invalid-values") >= 1
    assert sample("reporting_values_accepted_total", channel="unit-import", change="corrected") >= 1
    assert sample("reporting_events_stored_total", event_type="SubmissionOpened") - opened == 1

    locked = sample("reporting_values_rejected_total", channel="unit-locked", reason="submission-locked")
    enter_values(ws, AGENCY, EnterValues.of("P01", PAST, complete(ws, PAST)))
    change_status(ws, AGENCY, ChangeStatus("P01", PAST, Action.SUBMIT))
    with request_context.channel("unit-locked"), pytest.raises(SubmissionLocked):
        enter_values(ws, AGENCY, EnterValues.of("P01", PAST, [(integers[0], 4), (integers[1], 4)]))
    assert sample("reporting_values_rejected_total", channel="unit-locked", reason="submission-locked") - locked == 2


def test_observe_many_is_observe_each() -> None:
    amounts = [0.0, 0.004, 0.05, 0.05000001, 0.3, 1.0, 7.5, 400.0, 1e9]
    one = Histogram("unit_one_seconds", "unit", buckets=metrics.FRESHNESS_BUCKETS, registry=None)
    many = Histogram("unit_one_seconds", "unit", buckets=metrics.FRESHNESS_BUCKETS, registry=None)
    for amount in amounts:
        one.observe(amount)
    metrics.observe_many(many, amounts)
    metrics.observe_many(many, [])
    assert [s for f in one.collect() for s in f.samples] == [s for f in many.collect() for s in f.samples]


def test_an_import_job_shows_while_it_runs() -> None:
    with metrics.import_job("unit-xlsx", 40) as job:
        job.advance(15)
        assert sample("reporting_import_jobs_running", source="unit-xlsx") == 1
        assert sample("reporting_import_rows_processed", source="unit-xlsx") == 15
        assert sample("reporting_import_rows_target", source="unit-xlsx") == 40
    assert sample("reporting_import_jobs_running", source="unit-xlsx") == 0
    assert sample("reporting_import_rows_target", source="unit-xlsx") == 0
    assert sample("reporting_import_rows_processed", source="unit-xlsx") == 0


def test_the_relay_lag_in_seconds_grows_until_it_publishes() -> None:
    from datetime import UTC, datetime, timedelta

    metrics.relay_pending(12, datetime.now(UTC) - timedelta(seconds=40))
    assert sample("reporting_relay_lag_events") == 12
    assert 40 <= sample("reporting_relay_lag_seconds") < 60
    metrics.relay_caught_up()
    assert sample("reporting_relay_lag_events") == 0
    assert sample("reporting_relay_lag_seconds") == 0


# ---- readiness and limiters --------------------------------------------------------------------


def test_a_projection_past_the_limit_is_not_ready_and_says_which() -> None:
    lag = {"rollups": 120, "report_view": 3}
    check = lag_check(lambda: lag, 100)
    with pytest.raises(NotReady, match="rollups 120 events"):
        check()
    lag["rollups"] = 100
    check()

    app = FastAPI()
    lag["rollups"] = 101
    add_health_routes(app, {"postgres": lambda: None, "projections": check})

    with TestClient(app) as client:
        answer = client.get("/ready")
    assert answer.status_code == 503
    assert answer.json()["checks"] == {
        "postgres": "ok",
        "projections": "lagging: rollups 101 events behind (the limit is 100)",
    }


def test_the_in_process_limiter_refuses_with_the_wait() -> None:
    from domain.errors import DomainError

    limiter = RateLimiter(rate=1, burst=2)
    enforce(limiter, "k", "requests")
    enforce(limiter, "k", "requests")
    with pytest.raises(DomainError) as refused:
        enforce(limiter, "k", "requests")
    assert refused.value.code == "rate-limited"
    assert refused.value.retry_after == 1
    enforce(limiter, "other", "requests")
    enforce(limiter, "fresh", "requests", spend=False)
    assert limiter.take("fresh", spend=False) == 0
