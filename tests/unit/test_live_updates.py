"""The live pages' fan-out: projection advances reach the streams that watch them, coalesced."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import orjson
import pytest

from infra.notifications import parse
from services.web.live import CHANGED, LiveUpdates, Shared, live_url, unknown_projections


async def _next(stream: AsyncIterator[dict[str, object]], timeout: float = 2.0) -> dict[str, object]:
    return await asyncio.wait_for(anext(stream), timeout)


def _positions(event: dict[str, object]) -> dict[str, int]:
    data = event["data"]
    assert isinstance(data, str)
    decoded: dict[str, int] = orjson.loads(data)
    return decoded


def test_a_stream_gets_the_advances_of_what_it_watches_only() -> None:
    async def scenario() -> None:
        live = LiveUpdates(min_interval=0.01)
        stream = live.stream(["compliance", "reference"])
        ready = await _next(stream)
        assert ready["event"] == "ready"
        assert _positions(ready) == {"compliance": 0, "reference": 0}
        assert live.open_streams == 1
        live.advance("rollups", 40)  # not watched: no event
        live.advance("compliance", 41)
        event = await _next(stream)
        assert event["event"] == CHANGED
        assert _positions(event) == {"compliance": 41}
        await stream.aclose()
        assert live.open_streams == 0

    asyncio.run(scenario())


def test_a_burst_of_advances_is_one_event_with_the_latest_position() -> None:
    async def scenario() -> None:
        live = LiveUpdates(min_interval=0.2)
        stream = live.stream(["rollups"])
        await _next(stream)
        live.advance("rollups", 1)
        assert _positions(await _next(stream)) == {"rollups": 1}
        # While the stream waits out its interval, three more batches commit.
        for position in (2, 3, 4):
            live.advance("rollups", position)
        started = asyncio.get_running_loop().time()
        assert _positions(await _next(stream)) == {"rollups": 4}
        assert asyncio.get_running_loop().time() - started >= 0.1, "held back until the interval passed"
        with pytest.raises(TimeoutError):  # nothing left over: the burst was one event
            await _next(stream, timeout=0.4)
        await stream.aclose()

    asyncio.run(scenario())


def test_advances_from_the_listener_thread_and_a_resync_wake_every_stream() -> None:
    async def scenario() -> None:
        live = LiveUpdates(min_interval=0.01)
        boards = live.stream(["rollups"])
        compliance = live.stream(["compliance"])
        await _next(boards)
        await _next(compliance)
        thread = threading.Thread(target=live.advance, args=("rollups", 9))
        thread.start()
        thread.join()
        assert _positions(await _next(boards)) == {"rollups": 9}
        live.resync()  # the listener reconnected: it may have missed announcements
        assert _positions(await _next(boards)) == {"rollups": 9}
        assert _positions(await _next(compliance)) == {"compliance": 0}
        live.close()
        with pytest.raises(StopAsyncIteration):
            await _next(boards)

    asyncio.run(scenario())


def test_the_stream_url_and_the_names_it_accepts() -> None:
    assert live_url(["compliance", "reference"]) == "/live?watch=compliance&watch=reference"
    assert unknown_projections(["compliance", "rm_secret", "rollups"]) == ["rm_secret"]


@pytest.mark.parametrize(
    ("payload", "parsed"),
    [
        ('{"projection": "rollups", "position": 12}', ("rollups", 12)),
        ('{"projection": "rollups", "position": true}', None),
        ('{"projection": 3, "position": 12}', None),
        ("not json", None),
        ("[1, 2]", None),
    ],
)
def test_notification_payloads(payload: str, parsed: tuple[str, int] | None) -> None:
    assert parse(payload) == parsed


def test_pages_asking_for_the_same_fragment_at_once_share_one_rendering() -> None:
    shared = Shared(keep=2)
    started, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def slow() -> str:
        calls.append("rendered")
        started.set()
        release.wait(5)
        return "<p>4.321</p>"

    results: list[str] = []
    first = threading.Thread(target=lambda: results.append(shared.get(("q", 7), slow)))
    first.start()
    assert started.wait(5)
    second = threading.Thread(target=lambda: results.append(shared.get(("q", 7), slow)))
    second.start()
    release.set()
    first.join()
    second.join()
    assert results == ["<p>4.321</p>"] * 2
    assert calls == ["rendered"], "one rendering for both"
    assert shared.get(("q", 8), lambda: "later") == "later", "a later advance renders again"
    with pytest.raises(ValueError, match="broken"):
        shared.get(("q", 9), lambda: (_ for _ in ()).throw(ValueError("broken")))
    assert shared.get(("q", 9), lambda: "again") == "again", "a failure is not kept"
