"""The relay: the event store's notification log -> the Kafka topic, in order.

No dual writes (docs/DECISIONS.md): the API only writes PostgreSQL; this process reads
the notification log from its tracked position, publishes with an idempotent
producer, and records the position only after the broker acknowledged each
message (`future.get()`; `flush()` does not raise). One active relay: a
PostgreSQL advisory lock. Notification ids have gaps: we never assume contiguity.

If the broker lost its log (docs/DECISIONS.md), the relay notices that the last message
it published on a partition is no longer at the offset the broker gave it, finds
the highest position that survived, and republishes from there; consumers skip
what they already applied.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime

import psycopg
from kafka import KafkaProducer
from kafka.errors import KafkaError
from psycopg.rows import TupleRow

from infra import metrics
from infra.canonical import CanonicalMapper, read_store_rows
from infra.db import RELAY_LOCK
from infra.event_store import ReportingApplication
from infra.exclusive import run_exclusively
from infra.integration_events import message_headers
from infra.kafka import (
    abandon,
    broker_errors,
    ensure_topic,
    idempotent_producer,
    read_at,
    scan_max_position,
    wait_for_producer_id,
)
from infra.settings import Settings

log = logging.getLogger("reporting.relay")

CURSOR = -1  # the partition number under which the overall cursor is stored
TOPIC_CHECK_SECONDS = 5.0
IDLE_WAIT_SECONDS = 0.02


class LogRewound(KafkaError):  # type: ignore[misc]  # kafka-python is untyped
    """The broker acknowledged a message at an offset not above the last one we published there."""


@dataclass(frozen=True)
class Published:
    """The last message the broker acknowledged on a partition."""

    position: int
    offset: int


class Relay:
    def __init__(self, settings: Settings, event_store: ReportingApplication) -> None:
        self.settings = settings
        self.topic = settings.kafka_topic
        self.event_store = event_store
        self.mapper = CanonicalMapper(event_store)
        self.cursor = 0
        self.partitions: dict[int, Published] = {}
        self.published = 0

    # ---- positions ---------------------------------------------------------

    def _load_positions(self, conn: psycopg.Connection[TupleRow]) -> None:
        rows = conn.execute(
            'SELECT partition, position, "offset" FROM relay_positions WHERE topic = %s', (self.topic,)
        ).fetchall()
        self.cursor = 0
        self.partitions = {}
        for partition, position, offset in rows:
            if partition == CURSOR:
                self.cursor = int(position)
            else:
                self.partitions[int(partition)] = Published(int(position), int(offset))

    def _save_positions(self, conn: psycopg.Connection[TupleRow], changed: dict[int, Published]) -> None:
        rows: list[tuple[str, int, int, int | None]] = [(self.topic, CURSOR, self.cursor, None)]
        rows += [(self.topic, p, pub.position, pub.offset) for p, pub in changed.items()]
        with conn.transaction():
            conn.cursor().executemany(
                'INSERT INTO relay_positions (topic, partition, position, "offset") VALUES (%s, %s, %s, %s)'
                " ON CONFLICT (topic, partition) DO UPDATE SET position = EXCLUDED.position,"
                ' "offset" = EXCLUDED."offset"',
                rows,
            )

    # ---- the topic may have lost its log (docs/DECISIONS.md) ------------------

    def _check_topic(self, conn: psycopg.Connection[TupleRow]) -> None:
        """Is the last message we published on each partition still there? If not, republish."""
        on_topic = read_at(self.settings, self.topic, {p: pub.offset for p, pub in self.partitions.items()})
        lost = [p for p, published in self.partitions.items() if on_topic[p] != published.position]
        if not lost:
            return
        surviving = {p: scan_max_position(self.settings, self.topic, p) for p in lost}
        restart_from = min(surviving.values())
        log.warning(
            "topic %s lost messages on partitions %s; republishing after position %d",
            self.topic,
            sorted(lost),
            restart_from,
        )
        self.cursor = min(self.cursor, restart_from)
        with conn.transaction():
            conn.execute("DELETE FROM relay_positions WHERE topic = %s AND partition = ANY(%s)", (self.topic, lost))
            self._save_positions(conn, {})
        for partition in lost:
            del self.partitions[partition]

    # ---- publishing --------------------------------------------------------

    def publish_batch(self, conn: psycopg.Connection[TupleRow], producer: KafkaProducer) -> int:
        """Publish the next batch; returns how many events were published."""
        rows = read_store_rows(conn, self.cursor, self.settings.relay_batch_size)
        if not rows:
            metrics.relay_caught_up()
            return 0
        # Every message built before the first send: the sends follow one another closely, so the
        # producer's sender thread wakes for whole batches, not for each message.
        messages = [self.mapper.parts(row) for row in rows]
        highest = self.event_store.recorder.max_notification_id() or rows[-1][0]
        occurred_at = messages[0][6]
        metrics.relay_pending(highest - self.cursor, datetime.fromisoformat(occurred_at))
        futures = [
            producer.send(self.topic, key=key, value=value, headers=message_headers(row[0], event_type, request_id))
            for row, (_, _, value, key, event_type, request_id, _) in zip(rows, messages, strict=True)
        ]
        changed: dict[int, Published] = {}
        with broker_errors("produce"):
            acknowledged = [future.get(timeout=30) for future in futures]  # raises unless acknowledged
        for row, metadata in zip(rows, acknowledged, strict=True):
            before = changed.get(metadata.partition) or self.partitions.get(metadata.partition)
            if before is not None and metadata.offset <= before.offset:
                # The partition's log went back: the broker lost it under our feet. Stop here;
                # the restart checks the topic and republishes (see _run_connected).
                raise LogRewound(
                    f"partition {metadata.partition}: offset {metadata.offset} after {before.offset};"
                    " the broker lost its log"
                )
            changed[metadata.partition] = Published(row[0], metadata.offset)
        self.cursor = rows[-1][0]
        self.partitions.update(changed)
        self._save_positions(conn, changed)
        self.published += len(rows)
        metrics.RELAY_EVENTS_PUBLISHED.inc(len(rows))
        return len(rows)

    def run(self, stop: threading.Event) -> None:
        """One active relay (docs/DECISIONS.md, *No dual writes*); after a broker or database failure it
        starts over from the tracked position."""
        run_exclusively(self.settings, RELAY_LOCK, "relay", self._run_connected, stop)

    def _run_connected(self, conn: psycopg.Connection[TupleRow], stop: threading.Event) -> None:
        ensure_topic(self.settings, self.topic, self.settings.kafka_partitions)
        self._load_positions(conn)
        # The producer's id before the topic check: a broker that restarts after the check refuses
        # this producer, so nothing is ever published into a log that was not checked.
        producer = idempotent_producer(self.settings)
        try:
            wait_for_producer_id(producer, stop)
            self._check_topic(conn)
            next_check = time.monotonic() + TOPIC_CHECK_SECONDS
            while not stop.is_set():
                metrics.heartbeat()
                published = self.publish_batch(conn, producer)
                if time.monotonic() >= next_check:
                    ensure_topic(self.settings, self.topic, self.settings.kafka_partitions)
                    self._check_topic(conn)
                    next_check = time.monotonic() + TOPIC_CHECK_SECONDS
                if not published:
                    stop.wait(IDLE_WAIT_SECONDS)
        except BaseException:
            # Nothing queued may follow a failed send onto the topic before it is republished.
            abandon(producer)
            raise
        producer.close(timeout=5)
