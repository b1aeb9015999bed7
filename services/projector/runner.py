"""The projector: Kafka topic -> read models, with exactly-once effects.

See docs/DECISIONS.md, *Exactly-once effects in projections*.

Each batch is applied in one PostgreSQL transaction together with the positions
it reaches, per projection and per partition. A message whose position (the
event store's notification id) is not above the partition's applied position
is skipped: that covers redelivery after a crash, duplicates from a relay
retry, and a log the relay republished after the broker lost it.

While one batch is applied (on a thread that mostly waits for PostgreSQL), the
next one is fetched and decoded; batches are applied one at a time, in order.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import psycopg
from kafka import TopicPartition
from kafka.errors import KafkaError
from psycopg.rows import TupleRow

from infra import metrics
from infra.db import PROJECTION_SWAP_LOCK, connect
from infra.integration_events import IntegrationEvent
from infra.kafka import TopicInfo, assigned_consumer, broker_errors, describe_topic, request_ids_of
from infra.notifications import announce
from infra.settings import Settings
from services.projector.ordering import PositionOrder
from services.projector.telemetry import Applied, RequestIds, Telemetry
from services.readmodels.projection import Projection

log = logging.getLogger("reporting.projector")

TOPIC_CHECK_SECONDS = 1.0


@dataclass
class Position:
    next_offset: int = 0
    position: int = 0
    topic_id: str = ""


class Projector:
    def __init__(
        self,
        settings: Settings,
        projections: Sequence[Projection],
        *,
        position_key: Callable[[Projection], str] = lambda p: p.name,
        announces: bool = True,
        telemetry: bool = True,
        partitions: Collection[int] | None = None,
    ) -> None:
        self.settings = settings
        # Only these partitions of the topic (a rebuild's worker); None: all of them.
        self.only = None if partitions is None else frozenset(partitions)
        self.topic = settings.kafka_topic
        self.projections = list(projections)
        self.position_key = position_key
        self.announces = announces  # a rebuild fills fresh tables no page reads: it announces its swap instead
        self.positions: dict[str, dict[int, Position]] = {}
        self.applied = 0
        # Metrics and a log line per batch for a live projector (a rebuild reports its progress instead).
        names = [p.name for p in self.projections]
        self.telemetry = Telemetry(self.topic, names, settings.projector_batch_size) if telemetry else None

    def _load_positions(self, conn: psycopg.Connection[TupleRow], info: TopicInfo) -> None:
        self.positions = {
            self.position_key(p): {part: Position() for part in info.partitions} for p in self.projections
        }
        rows = conn.execute(
            "SELECT projection, partition, next_offset, position, topic_id FROM projector_positions"
            " WHERE topic = %s AND projection = ANY(%s)",
            (self.topic, list(self.positions)),
        ).fetchall()
        for name, partition, next_offset, position, topic_id in rows:
            self.positions[name][partition] = Position(next_offset, position, topic_id)

    def _reload_positions(self, cur: psycopg.Cursor[TupleRow], info: TopicInfo) -> None:
        """The positions as committed, read inside the batch's transaction.

        The database is the truth, not our memory: a rebuild may have swapped in
        its tables and positions since our last batch (`services/projector/rebuild.py`).
        """
        fresh = {self.position_key(p): {part: Position() for part in info.partitions} for p in self.projections}
        rows = cur.execute(
            "SELECT projection, partition, next_offset, position, topic_id FROM projector_positions"
            " WHERE topic = %s AND projection = ANY(%s)",
            (self.topic, list(fresh)),
        ).fetchall()
        for name, partition, next_offset, position, topic_id in rows:
            fresh[name][partition] = Position(next_offset, position, topic_id)
        self.positions = fresh

    def _start_offsets(self, info: TopicInfo) -> dict[int, int]:
        """Where to read from: the lowest offset any projection still needs."""
        offsets = {}
        for partition in info.partitions:
            # Offsets of another log than ours (a recreated topic) mean nothing:
            # read that partition from the start and skip by position.
            offsets[partition] = min(
                (pos[partition].next_offset if pos[partition].topic_id == info.topic_id else 0)
                for pos in self.positions.values()
            )
        return offsets

    def apply_batch(
        self,
        conn: psycopg.Connection[TupleRow],
        info: TopicInfo,
        batch: Sequence[tuple[int, int, IntegrationEvent]],
        request_ids: RequestIds | None = None,
    ) -> int:
        """Apply (partition, offset, event) records; returns how many events were new.

        `request_ids` are the messages' `request_id` headers, by (partition, offset), for the log line.
        """
        ordered = sorted(batch, key=lambda item: item[2].position)
        # Once per batch, not per projection: each event once (a duplicate, same position, follows its
        # original), and per partition the lowest and highest position and the offset after the last.
        unique: list[tuple[int, IntegrationEvent]] = []
        lowest: dict[int, int] = {}
        highest: dict[int, int] = {}
        for part, _, event in ordered:
            if event.position > highest.get(part, -1):
                unique.append((part, event))
                highest[part] = event.position
                lowest.setdefault(part, event.position)
        everything = [event for _, event in unique]  # one list for the projections that take all (telemetry shares it)
        after: dict[int, int] = {}
        for part, offset, _ in batch:
            after[part] = max(after.get(part, 0), offset + 1)
        new_events = 0
        applied: dict[str, Applied] = {}
        with conn.transaction(), conn.cursor() as cur:
            # Shared with other batches, exclusive to a rebuild's swap: a swap falls between
            # batches, never inside one, and the positions read next are the swapped ones.
            cur.execute("SELECT pg_advisory_xact_lock_shared(%s)", (PROJECTION_SWAP_LOCK,))
            self._reload_positions(cur, info)
            rows = []
            advanced: dict[str, int] = {}
            for projection in self.projections:
                key = self.position_key(projection)
                positions = self.positions[key]
                if all(low > positions[part].position for part, low in lowest.items()):
                    fresh = everything
                else:
                    fresh = [event for part, event in unique if event.position > positions[part].position]
                if fresh:
                    started = time.perf_counter()
                    projection.apply(cur, fresh)
                    applied[projection.name] = Applied(fresh, time.perf_counter() - started)
                    new_events = max(new_events, len(fresh))
                    advanced[projection.name] = fresh[-1].position
                for part, next_offset in after.items():
                    stored = positions[part]
                    # An offset in another log (the topic was recreated) means nothing in this one.
                    start = stored.next_offset if stored.topic_id == info.topic_id else 0
                    reached = Position(max(start, next_offset), max(stored.position, highest[part]), info.topic_id)
                    rows.append((key, self.topic, part, reached.topic_id, reached.next_offset, reached.position))
            cur.executemany(
                "INSERT INTO projector_positions (projection, topic, partition, topic_id, next_offset, position)"
                " VALUES (%s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (projection, topic, partition) DO UPDATE SET"
                " topic_id = EXCLUDED.topic_id, next_offset = EXCLUDED.next_offset,"
                " position = EXCLUDED.position, updated_at = now()",
                rows,
            )
            committing = time.perf_counter()
        if self.telemetry is not None:
            self.telemetry.batch_applied(batch, applied, time.perf_counter() - committing, request_ids or {})
        # Only after the commit: the in-memory view follows what is durable.
        for name, _topic, part, topic_id, next_offset, position in rows:
            self.positions[name][part] = Position(next_offset, position, topic_id)
        self.applied += new_events
        if self.announces:
            announce(conn, advanced)  # live pages read again (infra/notifications.py)
        return new_events

    def run(self, stop: threading.Event, *, until_caught_up: bool = False) -> None:
        """Consume until `stop` is set (or, with `until_caught_up`, until the end of the log)."""
        while not stop.is_set():
            try:
                if self._run_once(stop, until_caught_up=until_caught_up):
                    return
            except (KafkaError, TimeoutError, OSError, psycopg.OperationalError) as error:
                log.warning("projector error, restarting from stored positions: %s", error)
                metrics.heartbeat()  # waiting out an outage is not being stuck
                stop.wait(1.0)

    def _wait_for_topic(self, stop: threading.Event) -> TopicInfo | None:
        while not stop.is_set():
            info = describe_topic(self.settings, self.topic)
            if info is not None:
                if self.only is None:
                    return info
                return TopicInfo(info.topic_id, tuple(p for p in info.partitions if p in self.only))
            stop.wait(0.5)
        return None

    def _run_once(self, stop: threading.Event, *, until_caught_up: bool) -> bool:
        info = self._wait_for_topic(stop)
        if info is None:
            return True
        consumer = assigned_consumer(self.settings, max_poll_records=self.settings.projector_batch_size)
        try:
            with connect(self.settings) as conn:
                self._load_positions(conn, info)
                tps = {p: TopicPartition(self.topic, p) for p in info.partitions}
                consumer.assign(list(tps.values()))
                target = self._relay_positions(conn) if until_caught_up else {}
                for partition, offset in self._start_offsets(info).items():
                    consumer.seek(tps[partition], offset)
                next_check = time.monotonic() + TOPIC_CHECK_SECONDS
                # A catch-up applies the log in its order across partitions, as far as it can tell,
                # for the projections that gain by it.
                # Held: up to a poll per partition and two more (the fetcher delivers a partition's
                # records in long stretches; pausing partitions to interleave them stalls
                # kafka-python 3.0.12's fetcher, which then never hands back their parked records).
                limit = (len(tps) + 2) * self.settings.projector_batch_size
                ordered = until_caught_up and any(p.log_order for p in self.projections)
                order = PositionOrder(tps, limit) if ordered else None
                ends = consumer.end_offsets(list(tps.values())) if order is not None else {}
                held_ids: dict[tuple[int, int], str] = {}
                # Two stages: while one batch is applied (mostly waiting on PostgreSQL, which frees the
                # GIL), the next is fetched and decoded. One batch in flight at a time, in log order.
                with ThreadPoolExecutor(1, thread_name_prefix="projector-apply") as applier:
                    in_flight: Future[int] | None = None
                    while not stop.is_set():
                        metrics.heartbeat()
                        with broker_errors("consume"):
                            # Not waiting for more while a batch is applied: at the end of the log, that
                            # wait would delay noticing that the batch in flight caught up.
                            polled = consumer.poll(timeout_ms=0 if in_flight is not None else 200)
                        decoded = {
                            tp.partition: [
                                (tp.partition, record.offset, IntegrationEvent.from_bytes(record.value))
                                for record in records
                            ]
                            for tp, records in polled.items()
                        }
                        batch = [item for items in decoded.values() for item in items]
                        # The request ids only serve the telemetry's log line (a rebuild has none).
                        request_ids = request_ids_of(polled) if batch and self.telemetry is not None else None
                        if order is not None:
                            for partition, items in decoded.items():
                                order.add(partition, items)
                            held_ids.update(request_ids or {})
                            settled = {p for p, tp in tps.items() if consumer.position(tp) >= ends[tp]}
                            batch = order.release(settled)
                            request_ids = {(p, o): held_ids.pop((p, o)) for p, o, _ in batch if (p, o) in held_ids}
                        if in_flight is not None:
                            in_flight.result()  # committed (or its error raised here); `conn` is free again
                            in_flight = None
                        # Checked after full polls too: while writes go on, a poll is rarely empty.
                        if until_caught_up and self._caught_up(target):
                            if batch:
                                self.apply_batch(conn, info, batch, request_ids)
                            return True
                        if time.monotonic() >= next_check:
                            if self.telemetry is not None:
                                self.telemetry.refresh(conn)
                            current = describe_topic(self.settings, self.topic)
                            if current is None or current.topic_id != info.topic_id:
                                log.warning(
                                    "topic %s was recreated; re-reading it, skipping what was applied", self.topic
                                )
                                return False
                            next_check = time.monotonic() + TOPIC_CHECK_SECONDS
                        if batch:
                            in_flight = applier.submit(self.apply_batch, conn, info, batch, request_ids)
        finally:
            consumer.close()
        return True

    def _relay_positions(self, conn: psycopg.Connection[TupleRow]) -> dict[int, int]:
        """What the relay had published per partition: the end of the log for a catch-up run."""
        rows = conn.execute(
            "SELECT partition, position FROM relay_positions WHERE topic = %s AND partition >= 0", (self.topic,)
        ).fetchall()
        return {int(p): int(pos) for p, pos in rows if self.only is None or int(p) in self.only}

    def _caught_up(self, target: dict[int, int]) -> bool:
        # Every projection has applied, on every partition, what the relay had published.
        return all(
            per_partition[p].position >= position
            for per_partition in self.positions.values()
            for p, position in target.items()
        )
