"""The agencies' electronic identifier codes, folded from the event store's own events.

Strongly consistent (no read model in between): an administrator's assignment counts for the
next uniqueness check and the next national-feed import at once. The codes change rarely, so the
fold is kept in memory and only the events after the last one seen are read again.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Protocol, runtime_checkable

import orjson
from eventsourcing.utils import get_topic

from domain.agencies import Agency

TOPIC = get_topic(Agency.ElectronicCodeAssigned)


@runtime_checkable
class TopicSource(Protocol):
    def topic_states(self, topic: str, after: int) -> list[tuple[int, bytes]]: ...


class ElectronicCodeIndex:
    """`services.ingest.application.ports.ElectronicCodes` over an event store."""

    def __init__(self, store: TopicSource) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._position = 0
        self._codes: dict[str, str] = {}

    def codes(self) -> Mapping[str, str]:
        with self._lock:
            for position, state in self._store.topic_states(TOPIC, self._position):
                event = orjson.loads(state)  # plain strings: no transcoding to undo
                self._codes[str(event["agency"])] = str(event["electronic_code"])
                self._position = position
            return dict(self._codes)
