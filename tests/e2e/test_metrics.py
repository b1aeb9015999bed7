"""Every process serves its metrics; they parse with prometheus-client's parser, and move when values come in."""

from __future__ import annotations

import io
import threading
from collections.abc import Mapping
from dataclasses import replace

import httpx
from prometheus_client.parser import text_string_to_metric_families

from domain.identity import Role
from infra import metrics
from infra.db import connect
from infra.runtime.broker import LocalBroker
from infra.runtime.ports import wait_until
from infra.settings import Settings
from services.projector.projections import all_projections
from services.projector.rebuild import Rebuild
from tests.conftest import Stack, StackFactory
from tests.helpers import auth, form_indicators, open_month

Series = dict[tuple[str, frozenset[tuple[str, str]]], float]
PROCESSES = ("ingest", "relay", "project", "reports", "web", "checkpoint")
PROJECTIONS = tuple(p.name for p in all_projections())
VALUES_ROUTE = "/agencies/{agency}/periods/{period}/values"


def parse(text: str) -> Series:
    """Every sample of an exposition, by name and labels (the official parser: anything malformed raises)."""
    series: Series = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            series[sample.name, frozenset(sample.labels.items())] = sample.value
    return series


def scrape(url: str) -> Series:
    response = httpx.get(url + "/metrics", timeout=10)
    assert response.status_code == 200, url
    assert response.headers["content-type"].startswith("text/plain"), url
    return parse(response.text)


def total(series: Series, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(value for (n, found), value in series.items() if n == name and wanted <= found)


def present(series: Series, name: str, **labels: str) -> bool:
    wanted = set(labels.items())
    return any(n == name and wanted <= found for (n, found) in series)


def scrape_all(stack: Stack) -> Mapping[str, Series]:
    return {name: scrape(stack.metrics_url(name)) for name in PROCESSES}


def moved(before: Series, after: Series, name: str, **labels: str) -> float:
    return total(after, name, **labels) - total(before, name, **labels)


def test_every_process_serves_metrics_that_move_when_values_come_in(
    stack_factory: StackFactory, settings: Settings
) -> None:
    stack = stack_factory(*PROCESSES, settings_override=replace(settings, checkpoint_interval_seconds=1))
    for name in ("relay", "project", "checkpoint"):
        url = stack.metrics_url(name)
        wait_until(lambda url=url: _answers(url + "/health"), 30, what=f"{name} /health")
    token = stack.token(Role.AGENCY_REPORTER, "P01")
    period = open_month()
    codes = [i["code"] for i in form_indicators(stack.ingest_url, token, "UNIFIED-PROVINCIAL", period, "integer")[:4]]
    values_url = f"{stack.ingest_url}/agencies/P01/periods/{period}/values"
    reader = stack.token(Role.AUDITOR)  # issuing a token is an event too: before the counts are taken
    # The seed's events first, so that what follows is only ours.
    _wait_applied(stack, _store_end(stack.settings))
    before = scrape_all(stack)

    first = {"values": [{"indicator": c, "value": 5} for c in codes]}
    accepted = httpx.post(values_url, json=first, headers=auth(token))
    assert accepted.status_code == 200, accepted.text
    refused = httpx.post(
        values_url,
        json={"values": [{"indicator": codes[0], "value": "not a number"}, {"indicator": codes[1], "value": 6}]},
        headers=auth(token),
    )
    assert refused.status_code == 422
    corrected = httpx.post(values_url, json={"values": [{"indicator": codes[0], "value": 9}]}, headers=auth(token))
    assert corrected.status_code == 200
    rates_url = f"{stack.reports_url}/compliance/rates"
    rates_answer = httpx.get(rates_url, params={"period": period.code}, headers=auth(reader))
    assert rates_answer.status_code == 200, rates_answer.text
    assert httpx.get(f"{stack.web_url}/sign-in").status_code == 200
    _wait_applied(stack, corrected.json()["position"])
    wait_until(lambda: _checkpointed(stack.settings, corrected.json()["position"]), 30, what="a checkpoint covering it")

    def settled() -> bool:
        now = scrape_all(stack)
        lag = [total(now["project"], "reporting_projector_lag_events", projection=p) for p in PROJECTIONS]
        return (
            total(now["relay"], "reporting_relay_lag_events") == 0
            and lag == [0.0] * len(PROJECTIONS)
            and total(now["checkpoint"], "reporting_checkpoint_pending_events") == 0
        )

    wait_until(settled, 30, interval=0.2, what="the relay, the projections and the checkpointer caught up")
    after = scrape_all(stack)
    ingest, relay, project, checkpoint = after["ingest"], after["relay"], after["project"], after["checkpoint"]

    # The write API: requests by route template, values by outcome, events by type, its pools.
    post = {"service": "ingest", "route": VALUES_ROUTE, "method": "POST"}
    assert moved(before["ingest"], ingest, "reporting_http_requests_total", **post, status="200") == 2
    assert moved(before["ingest"], ingest, "reporting_http_requests_total", **post, status="422") == 1
    assert moved(before["ingest"], ingest, "reporting_http_request_duration_seconds_count", **post) == 3
    assert moved(before["ingest"], ingest, "reporting_http_request_duration_seconds_bucket", **post, le="+Inf") == 3
    values = ("reporting_values_accepted_total", "reporting_values_rejected_total")
    assert moved(before["ingest"], ingest, values[0], channel="api", change="submitted") == 4
    assert moved(before["ingest"], ingest, values[0], channel="api", change="corrected") == 1
    assert moved(before["ingest"], ingest, values[1], channel="api", reason="wrong-type") == 1
    assert moved(before["ingest"], ingest, values[1], channel="api", reason="invalid-values") == 1, "with its batch"
    stored = {"IndicatorValueSubmitted": 4, "IndicatorValueCorrected": 1, "SubmissionOpened": 1}
    for event_type, count in stored.items():
        assert moved(before["ingest"], ingest, "reporting_events_stored_total", event_type=event_type) == count
    for pool in ("ingest", "ingest-event-store"):
        assert total(ingest, "reporting_db_pool_max_connections", pool=pool) > 0, pool
        assert present(ingest, "reporting_db_pool_connections_in_use", pool=pool), pool
        assert present(ingest, "reporting_db_pool_requests_waiting", pool=pool), pool
    assert present(ingest, "process_resident_memory_bytes"), "one worker: its own process metrics"

    # The relay: six events published, caught up.
    assert moved(before["relay"], relay, "reporting_relay_events_published_total") == 6
    assert total(relay, "reporting_relay_lag_seconds") == 0
    assert total(relay, "reporting_db_pool_max_connections", pool="relay-event-store") > 0

    # The projector: every projection applied them, timed, fresh, and has no lag.
    for name in PROJECTIONS:
        kind = "reporting_projector_"
        assert moved(before["project"], project, kind + "events_applied_total", projection=name) == 6
        assert moved(before["project"], project, kind + "batch_duration_seconds_count", projection=name) >= 1
        assert moved(before["project"], project, kind + "freshness_seconds_count", projection=name) == 6
        assert total(project, "reporting_projector_lag_seconds", projection=name) == 0

    # The checkpointer: signed a checkpoint covering them, just now.
    assert moved(before["checkpoint"], checkpoint, "reporting_checkpoints_signed_total", trigger="periodic") >= 1
    assert total(checkpoint, "reporting_checkpoint_interval_seconds") == 1
    assert 0 <= total(checkpoint, "reporting_checkpoint_age_seconds") < 30

    # The processes without HTTP report that their loop turns; the HTTP services have no loop to report.
    for name in ("relay", "project", "checkpoint"):
        assert 0 <= total(after[name], "reporting_heartbeat_age_seconds") < 10, name
    assert total(ingest, "reporting_heartbeat_age_seconds") == 0

    # The read side and the pages count their requests by route template too.
    rates = {"service": "reports", "route": "/compliance/rates", "method": "GET", "status": "200"}
    assert moved(before["reports"], after["reports"], "reporting_http_requests_total", **rates) == 1
    sign_in = {"service": "web", "route": "/sign-in", "method": "GET", "status": "200"}
    assert moved(before["web"], after["web"], "reporting_http_requests_total", **sign_in) == 1
    assert total(after["reports"], "reporting_db_pool_max_connections", pool="reports") > 0
    assert total(after["web"], "reporting_db_pool_max_connections", pool="web-event-store") > 0
    raw_path = ("route", f"/agencies/P01/periods/{period}/values")
    for name, series in after.items():
        assert not any(raw_path in labels for _, labels in series), f"{name}: a raw path as a label"


def test_broker_errors_are_counted(
    private_broker: LocalBroker, stack_factory: StackFactory, settings: Settings
) -> None:
    on_private = replace(settings, kafka_bootstrap_servers=private_broker.bootstrap_servers)
    stack = stack_factory("relay", settings_override=on_private)
    url = stack.metrics_url("relay")
    wait_until(lambda: _answers(url + "/health"), 30, what="relay /health")
    private_broker.stop()
    # kafka-python gives up a bootstrap after about 30 s; the relay may be five seconds from its next check.
    wait_until(
        lambda: total(scrape(url), "reporting_broker_errors_total") > 0, 90, interval=0.5, what="a broker error counted"
    )
    assert _answers(url + "/health"), "retrying an outage is not being stuck"
    private_broker.start()


def test_a_rebuild_reports_its_progress(settings: Settings) -> None:
    """`reporting rebuild` sets the rebuild gauges (served on METRICS_PORT while it runs)."""
    rebuild = Rebuild(settings, ["reference"], from_store=True, suffix="__gauges", progress=io.StringIO())
    rebuild.run(threading.Event(), swap=False)
    series = parse(metrics.exposition().decode())
    applied = total(series, "reporting_rebuild_events_applied", projection="reference")
    assert applied == total(series, "reporting_rebuild_events_target", projection="reference")
    assert applied >= _store_end(settings) > 0


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _store_end(settings: Settings) -> int:
    with connect(settings) as conn:
        row = conn.execute("SELECT coalesce(max(notification_id), 0) FROM reporting_events").fetchone()
    return int(row[0]) if row else 0


def _wait_applied(stack: Stack, position: int) -> None:
    from services.readmodels.freshness import projections_position

    reader = projections_position(stack.settings.kafka_topic, PROJECTIONS)

    def done() -> bool:
        with connect(stack.settings) as conn:
            return reader(conn) >= position

    wait_until(done, 60, what=f"every projection at position {position}")


def _checkpointed(settings: Settings, position: int) -> bool:
    with connect(settings) as conn:
        row = conn.execute("SELECT coalesce(max(last_position), 0) FROM tlog_checkpoints").fetchone()
    return row is not None and int(row[0]) >= position
