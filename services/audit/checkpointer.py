"""`reporting checkpoint`: grows the transparency log from the event store and signs checkpoints.

One active checkpointer (PostgreSQL advisory lock), its own process: the private key is read by
this process only, and the relay's hot path stays as it is. Each turn of the loop:

1. appends the next events of the event store, in notification order, as leaves
   (SHA-256(0x00 || canonical integration-event bytes)); leaves and the new tree nodes are
   written in one transaction, so a crash loses nothing and appends nothing twice;
2. signs a checkpoint on demand (a row in `tlog_checkpoint_requests`, inserted by the admin
   API), after catching up with the whole store, or every CHECKPOINT_INTERVAL_SECONDS when the
   tree grew;
3. publishes checkpoints not yet on the checkpoints topic (`<topic>.checkpoints`); a topic
   that was recreated (the broker lost its log) gets every checkpoint again.

The same reasoning as the relay makes notification order safe to follow: inserts take a table
lock, so a position that is committed is never followed by a lower one committing later.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson
import psycopg
from kafka import KafkaProducer
from kafka.errors import KafkaError
from psycopg.rows import TupleRow

from infra import metrics
from infra.canonical import CanonicalMapper, read_store_batch
from infra.db import CHECKPOINT_LOCK
from infra.event_store import ReportingApplication
from infra.exclusive import RETRYABLE, run_exclusively
from infra.kafka import broker_errors, ensure_topic, idempotent_producer
from infra.settings import Settings
from services.audit.signing import Checkpoint, SignedCheckpoint, SigningKey, generate_key_file, load_signing_key
from services.audit.tree import TreeAppender

log = logging.getLogger("reporting.checkpoint")

BATCH = 5000
IDLE_WAIT_SECONDS = 0.05
TOPIC_CHECK_SECONDS = 5.0
REQUEST_PATIENCE_SECONDS = 10.0


def log_origin(settings: Settings) -> str:
    """The log's name in its checkpoints (and the key name)."""
    return settings.audit_log_origin or f"reporting/{settings.kafka_topic}"


def checkpoints_topic(settings: Settings) -> str:
    return f"{settings.kafka_topic}.checkpoints"


def signing_key(settings: Settings) -> SigningKey:
    """The checkpoint key from AUDIT_KEY_PATH, generated on first use."""
    path = Path(settings.audit_key_path)
    if generate_key_file(path):
        log.warning("generated a new checkpoint signing key at %s (public key %s.pub)", path, path)
    return load_signing_key(path, log_origin(settings))


class CheckpointError(RuntimeError):
    """The event store holds an event that cannot be mapped: the log cannot grow past it."""


class Checkpointer:
    def __init__(self, settings: Settings, key: SigningKey, event_store: ReportingApplication | None = None) -> None:
        self.settings = settings
        self.key = key
        self.origin = log_origin(settings)
        self.topic = checkpoints_topic(settings)
        self.mapper = CanonicalMapper(event_store)
        self.interval = float(settings.checkpoint_interval_seconds)
        self._appender: TreeAppender | None = None
        self._next_topic_check = 0.0
        self._topic_id: str | None = None
        self._published_upto = 0
        self._request_target: tuple[int, float] | None = None  # (store position to cover, give up at)
        self._next_report = 0.0
        metrics.CHECKPOINT_INTERVAL.set(self.interval)

    # ---- the tree ----------------------------------------------------------

    def appender(self, conn: psycopg.Connection[TupleRow]) -> TreeAppender:
        if self._appender is None:
            self._appender = TreeAppender(conn)
        return self._appender

    def published_upto(self, conn: psycopg.Connection[TupleRow]) -> int:
        """The relay's cursor: every event up to it is on the topic (the log a Kafka auditor re-reads)."""
        row = conn.execute(
            "SELECT position FROM relay_positions WHERE topic = %s AND partition = -1", (self.settings.kafka_topic,)
        ).fetchone()
        return 0 if row is None else int(row[0])

    def extend(self, conn: psycopg.Connection[TupleRow], limit: int = BATCH) -> int:
        """Append the next stored events (at most `limit`) that the relay has published; returns how many.

        Only published events: every checkpoint then covers a log that anyone can re-read from the
        topic. (After a broker lost its log the relay's cursor goes back; the tree never does, it
        just waits until the cursor passes its end again.)
        """
        appender = self.appender(conn)
        rows = read_store_batch(conn, appender.last_position, limit, until=self.published_upto(conn))
        if not rows:
            return 0
        leaves = []
        for row in rows:
            leaf = self.mapper.leaf(row)
            if leaf.canonical is None:
                raise CheckpointError(f"stored event at position {leaf.position} cannot be mapped: {leaf.error}")
            leaves.append((leaf.position, leaf.event_id, leaf.leaf_hash))
        try:
            with conn.transaction(), conn.cursor() as cur:
                appender.append(cur, leaves)
        except BaseException:
            self._appender = None  # its memory may be ahead of the database: reload
            raise
        return len(leaves)

    def catch_up(self, conn: psycopg.Connection[TupleRow]) -> None:
        while self.extend(conn) == BATCH:
            pass

    # ---- checkpoints -------------------------------------------------------

    def register_key(self, conn: psycopg.Connection[TupleRow]) -> None:
        conn.execute(
            "INSERT INTO tlog_keys (key_id, origin, public_key) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
            (self.key.verifier.key_id, self.origin, self.key.verifier.public_key),
        )

    def sign(
        self, conn: psycopg.Connection[TupleRow], requested_by: str | None = None, requests_upto: int = 0
    ) -> SignedCheckpoint:
        """Sign the tree as it is now and store the checkpoint, fulfilling open requests up to `requests_upto`.

        Only requests seen before the catch-up that preceded this call: a later one may be waiting
        for events committed after it, which this checkpoint may not cover.
        """
        appender = self.appender(conn)
        checkpoint = Checkpoint(self.origin, appender.size, appender.root(), datetime.now(UTC), appender.last_position)
        signed = self.key.sign(checkpoint)
        with conn.transaction():
            row = conn.execute(
                "INSERT INTO tlog_checkpoints (tree_size, root_hash, last_position, issued_at, origin, key_id,"
                " signature, note, requested_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                (
                    checkpoint.tree_size,
                    checkpoint.root_hash,
                    checkpoint.last_position,
                    checkpoint.issued_at,
                    self.origin,
                    signed.key_id,
                    signed.signature,
                    signed.note(),
                    requested_by,
                ),
            ).fetchone()
            assert row is not None
            conn.execute(
                "UPDATE tlog_checkpoint_requests SET checkpoint_id = %s WHERE checkpoint_id IS NULL AND id <= %s",
                (row[0], requests_upto),
            )
        log.info("checkpoint: size %d, last position %d", checkpoint.tree_size, checkpoint.last_position)
        metrics.checkpoint_signed(checkpoint.issued_at.timestamp())
        metrics.CHECKPOINTS_SIGNED.labels("periodic" if requested_by is None else "requested").inc()
        return signed

    def open_requests(self, conn: psycopg.Connection[TupleRow]) -> tuple[int, str] | None:
        """(highest open request id, who asked first), or None."""
        row = conn.execute(
            "SELECT max(id), (array_agg(requested_by ORDER BY id))[1] FROM tlog_checkpoint_requests"
            " WHERE checkpoint_id IS NULL"
        ).fetchone()
        return None if row is None or row[0] is None else (int(row[0]), str(row[1]))

    def last_checkpoint_size(self, conn: psycopg.Connection[TupleRow]) -> int | None:
        row = conn.execute("SELECT tree_size FROM tlog_checkpoints ORDER BY id DESC LIMIT 1").fetchone()
        return None if row is None else int(row[0])

    def report(self, conn: psycopg.Connection[TupleRow]) -> None:
        """The pending-events gauge, at most once a second: published events no signed checkpoint covers."""
        if time.monotonic() < self._next_report:
            return
        self._next_report = time.monotonic() + 1.0
        appender = self.appender(conn)
        row = conn.execute(
            "SELECT (SELECT count(*) FROM reporting_events WHERE notification_id > %s AND notification_id <= %s),"
            " (SELECT tree_size FROM tlog_checkpoints ORDER BY id DESC LIMIT 1)",
            (appender.last_position, self.published_upto(conn)),
        ).fetchone()
        assert row is not None
        signed = 0 if row[1] is None else int(row[1])
        metrics.CHECKPOINT_PENDING_EVENTS.set(int(row[0]) + max(0, appender.size - signed))

    # ---- publishing --------------------------------------------------------

    def publish(self, conn: psycopg.Connection[TupleRow], producer: KafkaProducer) -> int:
        """Put on the checkpoints topic every checkpoint it does not hold yet; returns how many."""
        now = time.monotonic()
        if self._topic_id is None or now >= self._next_topic_check:
            topic_id = ensure_topic(self.settings, self.topic, 1).topic_id
            self._next_topic_check = now + TOPIC_CHECK_SECONDS
            if topic_id != self._topic_id:  # first look, or a recreated topic: find what it lacks (one scan)
                row = conn.execute(
                    "SELECT min(id) - 1 FROM tlog_checkpoints WHERE published_topic_id IS DISTINCT FROM %s",
                    (topic_id,),
                ).fetchone()
                last = conn.execute("SELECT coalesce(max(id), 0) FROM tlog_checkpoints").fetchone()
                assert last is not None
                self._published_upto = int(row[0]) if row and row[0] is not None else int(last[0])
                self._topic_id = topic_id
        rows = conn.execute(
            "SELECT id, note, requested_by FROM tlog_checkpoints WHERE id > %s ORDER BY id", (self._published_upto,)
        ).fetchall()
        for checkpoint_id, note, requested_by in rows:
            signed = SignedCheckpoint.parse_note(note)
            record = signed.to_json() | {"requested": requested_by is not None}
            future = producer.send(
                self.topic,
                key=self.origin.encode(),
                value=orjson.dumps(record, option=orjson.OPT_SORT_KEYS),
                headers=[("tree_size", str(signed.checkpoint.tree_size).encode())],
            )
            with broker_errors("produce"):
                future.get(timeout=30)  # acknowledged before we record it
            conn.execute(
                "UPDATE tlog_checkpoints SET published_topic_id = %s WHERE id = %s", (self._topic_id, checkpoint_id)
            )
            self._published_upto = int(checkpoint_id)
        return len(rows)

    # ---- the loop ----------------------------------------------------------

    def step(self, conn: psycopg.Connection[TupleRow], next_periodic: float) -> tuple[int, float]:
        """One turn: extend, maybe sign. Returns (events appended, when the next periodic checkpoint is due).

        A request is answered once the log holds every event stored when it was first seen (the
        relay publishes within moments), or after REQUEST_PATIENCE_SECONDS with what is there.
        """
        appended = self.extend(conn)
        requests = self.open_requests(conn)
        if requests is not None:
            if self._request_target is None:
                row = conn.execute("SELECT coalesce(max(notification_id), 0) FROM reporting_events").fetchone()
                self._request_target = (int(row[0]) if row else 0, time.monotonic() + REQUEST_PATIENCE_SECONDS)
            target, deadline = self._request_target
            self.catch_up(conn)
            if self.appender(conn).last_position >= target or time.monotonic() >= deadline:
                self.sign(conn, requests[1], requests_upto=requests[0])
                self._request_target = None
        elif time.monotonic() >= next_periodic:
            next_periodic = time.monotonic() + self.interval
            last = self.last_checkpoint_size(conn)
            if last is None or last < self.appender(conn).size:
                self.sign(conn)
        return appended, next_periodic

    def run(self, stop: threading.Event) -> None:
        """One active checkpointer; after a failure it starts over from the transparency log as stored."""

        def forget_appender() -> None:
            self._appender = None

        run_exclusively(
            self.settings,
            CHECKPOINT_LOCK,
            "checkpointer",
            self._run_connected,
            stop,
            retry_on=(*RETRYABLE, CheckpointError),
            on_retry=forget_appender,
        )

    def _run_connected(self, conn: psycopg.Connection[TupleRow], stop: threading.Event) -> None:
        self.register_key(conn)
        self._appender = None
        self._topic_id = None
        latest = conn.execute("SELECT max(issued_at) FROM tlog_checkpoints").fetchone()
        if latest is not None and latest[0] is not None:
            metrics.checkpoint_signed(latest[0].timestamp())  # the age counts from the last one signed
        producer: KafkaProducer | None = None
        next_periodic = time.monotonic() + self.interval
        try:
            while not stop.is_set():
                metrics.heartbeat()
                appended, next_periodic = self.step(conn, next_periodic)
                self.report(conn)
                try:
                    producer = producer or idempotent_producer(self.settings)
                    self.publish(conn, producer)
                except KafkaError as error:  # the log and its checkpoints go on; publishing catches up later
                    log.warning("cannot publish checkpoints yet: %s", error)
                    if producer is not None:
                        producer.close(timeout=5)
                    producer = None
                    self._topic_id = None
                    stop.wait(1.0)
                if not appended:
                    stop.wait(IDLE_WAIT_SECONDS)
        finally:
            if producer is not None:
                producer.close(timeout=5)
