"""Live pages over the real stack: a value accepted by the write API wakes the open pages' streams."""

from __future__ import annotations

import queue
import threading
import time

import httpx
import orjson

from domain.identity import Role
from tests.conftest import StackFactory
from tests.e2e.web_client import signed_in_client
from tests.helpers import auth, form_indicators, open_month


def _events(client: httpx.Client, url: str, out: queue.Queue[tuple[str, str]], stop: threading.Event) -> None:
    """Read a Server-Sent Events stream into `out` as (event, data) until `stop` (or the stream ends)."""
    try:
        with client.stream("GET", url, timeout=httpx.Timeout(30, read=60)) as stream:
            out.put(("status", str(stream.status_code)))
            name, data = "message", ""
            for line in stream.iter_lines():
                if stop.is_set():
                    return
                if line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    data = line[5:].strip()
                elif line == "" and data:
                    out.put((name, data))
                    name, data = "message", ""
    except httpx.HTTPError as error:  # the service stopped under the open stream (teardown)
        out.put(("closed", str(error)))


def test_an_open_stream_hears_of_a_value_accepted_through_the_api(stack_factory: StackFactory) -> None:
    stack = stack_factory("ingest", "relay", "project", "web")
    password = stack.person("lanhdao", Role.MINISTRY_REVIEWER)
    client = signed_in_client(stack.web_url, "lanhdao", password)
    events: queue.Queue[tuple[str, str]] = queue.Queue()
    stop = threading.Event()
    reader = threading.Thread(
        target=_events, args=(client, "/live?watch=rollups&watch=reference", events, stop), daemon=True
    )
    reader.start()
    assert events.get(timeout=15) == ("status", "200")
    name, data = events.get(timeout=15)
    assert name == "ready"
    assert set(orjson.loads(data)) == {"rollups", "reference"}

    token = stack.token(Role.AGENCY_REPORTER, "P01")
    period = open_month()
    indicator = form_indicators(stack.ingest_url, token, "UNIFIED-PROVINCIAL", period, "integer")[0]["code"]
    accepted = httpx.post(
        f"{stack.ingest_url}/agencies/P01/periods/{period}/values",
        json={"values": [{"indicator": indicator, "value": 4321}]},
        headers=auth(token),
    )
    assert accepted.status_code == 200, accepted.text
    position = accepted.json()["position"]
    deadline = time.monotonic() + 20
    while True:  # each event names the positions announced; wait for one covering the write
        name, data = events.get(timeout=max(0.1, deadline - time.monotonic()))
        if name == "changed" and orjson.loads(data).get("rollups", 0) >= position:
            break
    stop.set()


def test_the_stream_needs_a_signed_in_person_and_known_read_models(stack_factory: StackFactory) -> None:
    stack = stack_factory("web")
    anonymous = httpx.get(f"{stack.web_url}/live?watch=rollups")
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/sign-in?next=")
    password = stack.person("lanhdao", Role.MINISTRY_REVIEWER)
    client = signed_in_client(stack.web_url, "lanhdao", password)
    refused = client.get("/live", params={"watch": ["rollups", "rm_sessions"]})
    assert refused.status_code == 422
    assert "rm_sessions" in refused.text
