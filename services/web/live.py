"""Live pages: projection advances fanned out to the open pages' Server-Sent Events streams.

The composition root connects ONE listener per process (`infra.notifications.ProjectionListener`,
a PostgreSQL LISTEN) to `LiveUpdates.advance` and `resync`; however many pages are open, the
database sees one connection. Each open page holds one stream (`stream`) naming the projections its
fragments are read from, and gets a `changed` event when one of them advanced; htmx's SSE extension
then re-fetches the fragment (`hx-trigger="sse:changed"`). No page polls.

A stream sends at most one event every `min_interval` seconds: advances that arrive meanwhile are
coalesced into the next event, so a burst of projector batches costs each page one re-read.
See docs/DECISIONS.md, *Live pages*.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar, cast
from urllib.parse import urlencode

import orjson

from services.readmodels import READ_MODELS

T = TypeVar("T")
MIN_INTERVAL_SECONDS = 0.5
RECONNECT_MS = 1000  # how soon a browser reconnects a dropped stream (the SSE `retry` field)
CHANGED = "changed"


def live_url(projections: Iterable[str]) -> str:
    """The stream a page opens for fragments read from `projections` (`sse-connect`)."""
    return "/live?" + urlencode([("watch", name) for name in projections])


def unknown_projections(names: Iterable[str]) -> list[str]:
    return sorted(set(names) - set(READ_MODELS))


@dataclass(eq=False)
class _Subscriber:
    loop: asyncio.AbstractEventLoop
    projections: frozenset[str]
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    pending: set[str] = field(default_factory=set)


_Changed = Callable[[_Subscriber], Iterable[str]]  # which of a stream's projections a wake-up concerns


class LiveUpdates:
    """The fan-out: `advance` and `resync` may be called from any thread; `stream` runs on the event loop."""

    def __init__(self, min_interval: float = MIN_INTERVAL_SECONDS) -> None:
        self.min_interval = min_interval
        self._lock = threading.Lock()
        self._positions: dict[str, int] = {}
        self._subscribers: set[_Subscriber] = set()
        self._closed = False

    @property
    def open_streams(self) -> int:
        return len(self._subscribers)

    def position(self, projection: str) -> int:
        """The highest position announced for `projection` in this process (0: none yet)."""
        return self._positions.get(projection, 0)

    def advance(self, projection: str, position: int) -> None:
        """A projection applied events up to `position`: wake the streams that watch it."""
        with self._lock:
            self._positions[projection] = max(position, self._positions.get(projection, 0))
        self._wake(lambda subscriber: {projection} & subscriber.projections)

    def resync(self) -> None:
        """Announcements may have been missed (the listener reconnected): every stream's page reads again."""
        self._wake(lambda subscriber: subscriber.projections)

    def close(self) -> None:
        """The process stops: every stream ends."""
        self._closed = True
        self.resync()

    def _wake(self, changed_for: _Changed) -> None:
        with self._lock:
            by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Subscriber, frozenset[str]]]] = {}
            for subscriber in self._subscribers:
                changed = frozenset(changed_for(subscriber))
                if changed:
                    by_loop.setdefault(subscriber.loop, []).append((subscriber, changed))
        for loop, woken in by_loop.items():  # one hand-over per event loop, not one per stream
            try:
                loop.call_soon_threadsafe(_wake_all, woken)
            except RuntimeError:  # that loop has closed: its streams are gone
                continue

    async def stream(self, projections: Iterable[str]) -> AsyncIterator[dict[str, object]]:
        """The events of one open page: `changed` (data: the positions announced) whenever a watched
        projection advanced, at most one every `min_interval` seconds."""
        subscriber = _Subscriber(asyncio.get_running_loop(), frozenset(projections))
        with self._lock:
            self._subscribers.add(subscriber)
        try:
            yield {"event": "ready", "data": self._data(subscriber.projections), "retry": RECONNECT_MS}
            while not self._closed:
                await subscriber.wake.wait()
                subscriber.wake.clear()
                if self._closed:
                    break
                changed, subscriber.pending = subscriber.pending, set()
                yield {"event": CHANGED, "data": self._data(changed)}
                await asyncio.sleep(self.min_interval)  # what arrives meanwhile goes in the next event
        finally:
            with self._lock:
                self._subscribers.discard(subscriber)

    def _data(self, projections: Iterable[str]) -> str:
        return orjson.dumps({name: self.position(name) for name in sorted(projections)}).decode()


def _wake_all(woken: list[tuple[_Subscriber, frozenset[str]]]) -> None:
    for subscriber, changed in woken:
        subscriber.pending |= changed
        subscriber.wake.set()


@dataclass(eq=False)
class _Result:
    done: threading.Event = field(default_factory=threading.Event)
    value: object = None
    failed: bool = False


class Shared:
    """One computation per key among the requests that ask for it: the open pages that re-fetch a fragment
    after the same advance get one rendering between them (a key names what was asked and the positions
    announced, so that a later advance makes another). The last `keep` results are kept."""

    def __init__(self, keep: int = 64) -> None:
        self.keep = keep
        self._lock = threading.Lock()
        self._results: dict[Hashable, _Result] = {}

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        with self._lock:
            result = self._results.get(key)
            owner = result is None
            if result is None:
                result = self._results[key] = _Result()
                while len(self._results) > self.keep:
                    self._results.pop(next(iter(self._results)))
        if owner:
            try:
                result.value = compute()
            except BaseException:
                result.failed = True
                with self._lock:
                    self._results.pop(key, None)
                raise
            finally:
                result.done.set()
            return result.value
        result.done.wait()
        if result.failed:
            return compute()
        return cast(T, result.value)
