"""Rebuild read models from the log into fresh tables, then swap them in atomically.

See docs/DECISIONS.md, *Read models are disposable*.

    reporting rebuild [PROJECTION ...] [--from-store] [--no-swap] [--workers N]

1. Fresh tables: each table of each chosen projection gets a copy of its
   structure (`CREATE TABLE <t>__rebuild (LIKE <t> INCLUDING ALL)`) without its
   secondary (non-unique) indexes (but those its projection reads through,
   `indexed_reads`); the same projection classes fill them
   (`suffix`), with their own positions (`<projection>__rebuild` in
   `projector_positions`). Once the replay has caught up, the secondary indexes
   are built, side by side: one pass over a full table costs a fraction of an
   index insert per row (the audit trail's five, 40,000 rows: 0.4 s of inserts
   against 0.2 s to build).
2. Replay: from Kafka offset 0 (partitions assigned, offsets sought explicitly;
   no consumer group, no reliance on end offsets), or with `--from-store` from
   the event store's notification log (each event read from the canonical bytes
   the relay would publish, `infra.canonical`), each event put on the partition the
   relay's producer puts it on (murmur2 of its key), so that positions per
   partition mean the same as the live ones. Exactly-once as in the live
   projector: positions in the same transaction, skip by position. A progress
   bar shows events/s and the ETA. The old tables keep serving meanwhile.
   With `--workers N` (from Kafka), N forked processes share the partitions
   out for the projections whose rows each follow from one key (all but the
   roll-ups), each decoding and applying its own: positions are per partition,
   so they never write the same row. The others (the roll-ups, whose statistics
   combine every partition) get one more process, reading every partition.
3. Swap, in one transaction holding the projection swap lock exclusively (live
   projector batches hold it shared, so the swap falls between two batches):
   only if the rebuild has applied, on every partition, at least what the live
   projector has (otherwise replay more and retry); then drop each old table,
   rename the fresh one (and its indexes) to the old names, and move the
   positions. The live projector reads its positions from the database inside
   every batch, so its next batch continues the new tables from the swapped
   positions: what the rebuild already applied is skipped, nothing is missed.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import multiprocessing.connection
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from multiprocessing.queues import SimpleQueue
from typing import TextIO

import psycopg
from kafka.partitioner.default import murmur2
from psycopg import sql
from psycopg.rows import TupleRow

from infra import metrics
from infra.canonical import CanonicalMapper, read_store_events
from infra.db import PROJECTION_SWAP_LOCK, connect
from infra.event_store import ReportingApplication
from infra.kafka import TopicInfo, describe_topic
from infra.notifications import announce
from infra.progress import Progress
from infra.settings import Settings
from services.projector.projections import all_projections
from services.projector.runner import Projector
from services.readmodels.projection import Projection

log = logging.getLogger("reporting.rebuild")

REBUILD_SUFFIX = "__rebuild"
SWAP_ATTEMPTS = 20
_INDEX_HEAD = re.compile(r"^CREATE (UNIQUE )?INDEX \S+ ON (ONLY )?\S+ ")


@lru_cache(maxsize=65536)  # keys are agencies, a few thousand; murmur2 is Python (about 2 µs a key)
def partition_for(key: bytes, partitions: tuple[int, ...]) -> int:
    """The partition Kafka's default partitioner (the relay's producer) gives a keyed message."""
    ordered = sorted(partitions)
    index: int = (murmur2(key) & 0x7FFFFFFF) % len(ordered)
    return ordered[index]


@dataclass(frozen=True)
class Summary:
    projections: tuple[str, ...]
    source: str
    events: int
    seconds: float
    swapped: bool

    def describe(self) -> str:
        rate = self.events / self.seconds if self.seconds else 0.0
        outcome = "swapped in" if self.swapped else "left in the fresh tables (not swapped)"
        return (
            f"rebuilt {', '.join(self.projections)} from {self.source}: {self.events:,} events in"
            f" {self.seconds:.1f} s ({rate:,.0f} events/s); {outcome}"
        )


class Rebuild:
    def __init__(
        self,
        settings: Settings,
        names: Sequence[str] = (),
        *,
        from_store: bool = False,
        suffix: str = REBUILD_SUFFIX,
        progress: TextIO | None = sys.stderr,
        workers: int = 1,
    ) -> None:
        if not suffix or not re.fullmatch(r"__[a-z0-9_]+", suffix):
            raise ValueError("a rebuild suffix looks like __rebuild")
        live = {p.name: p for p in all_projections()}
        unknown = [name for name in names if name not in live]
        if unknown:
            raise ValueError(f"unknown projection(s) {', '.join(unknown)}; known: {', '.join(live)}")
        chosen = list(dict.fromkeys(names)) or list(live)
        fresh = {p.name: p for p in all_projections(suffix)}
        if workers < 1:
            raise ValueError("a rebuild needs at least one worker")
        if workers > 1 and from_store:
            raise ValueError("a rebuild from the event store runs in one worker (it reads one log in order)")
        self.workers = workers
        self.settings = settings
        self.topic = settings.kafka_topic
        self.suffix = suffix
        self.from_store = from_store
        self.pairs: list[tuple[Projection, Projection]] = [(live[n], fresh[n]) for n in chosen]
        self.projector = Projector(
            settings,
            [f for _, f in self.pairs],
            position_key=lambda p: p.name + suffix,
            announces=False,
            telemetry=False,
        )
        self.progress_stream = progress
        self._store_cursor = 0

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(live.name for live, _ in self.pairs)

    def key(self, projection: Projection) -> str:
        return projection.name + self.suffix

    @property
    def indexed_reads(self) -> set[str]:
        """The fresh tables whose secondary indexes the projections read while applying."""
        return {table for _, fresh in self.pairs for table in fresh.indexed_reads}

    def table_pairs(self) -> list[tuple[str, str]]:
        """(live table, fresh table) for every table of the chosen projections."""
        return [pair for live, fresh in self.pairs for pair in zip(live.tables, fresh.tables, strict=True)]

    # ---- the whole command ---------------------------------------------------------

    def run(self, stop: threading.Event, *, swap: bool = True) -> Summary:
        started = time.monotonic()
        self.prepare()
        self.replay(stop)
        if not stop.is_set():
            self.index()
        swapped = False
        if swap and not stop.is_set():
            self.analyze()
            self.replay(stop)  # what came in meanwhile; the rest is applied under the swap lock
            for _attempt in range(SWAP_ATTEMPTS):
                if stop.is_set() or self.swap():
                    break
            else:
                raise RuntimeError(f"could not swap the rebuilt tables in after {SWAP_ATTEMPTS} attempts")
            swapped = not stop.is_set()
        source = "the event store" if self.from_store else f"Kafka topic {self.topic}"
        return Summary(self.names, source, self.projector.applied, time.monotonic() - started, swapped)

    # ---- 1. fresh tables ---------------------------------------------------------------

    def prepare(self) -> None:
        """Fresh, empty copies of the live tables (leftovers of an interrupted rebuild are dropped)."""
        kept = self.indexed_reads
        with connect(self.settings) as conn, conn.transaction():
            for live_table, fresh_table in self.table_pairs():
                deferred = fresh_table not in kept
                conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(fresh_table)))
                conn.execute(
                    sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING ALL)").format(
                        sql.Identifier(fresh_table), sql.Identifier(live_table)
                    )
                )
                # Secondary indexes are built once the fresh table is full (one sort each, not an
                # insert per row), unless the projection reads through them; the unique ones stay,
                # for the projections' ON CONFLICT.
                for name, _ in _index_definitions(conn, fresh_table, secondary=True) if deferred else ():
                    conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
                # LIKE copies no storage parameters (fillfactor...): copy them from the catalogue.
                row = conn.execute("SELECT reloptions FROM pg_class WHERE oid = %s::regclass", (live_table,)).fetchone()
                if row and row[0]:
                    options = sql.SQL(", ").join(sql.SQL(option) for option in row[0])
                    conn.execute(sql.SQL("ALTER TABLE {} SET ({})").format(sql.Identifier(fresh_table), options))
            conn.execute(
                "DELETE FROM projector_positions WHERE topic = %s AND projection = ANY(%s)",
                (self.topic, [self.key(f) for _, f in self.pairs]),
            )
        self._store_cursor = 0

    def index(self) -> None:
        """The secondary indexes of the live tables, on the fresh ones: built side by side, a core each."""
        statements: list[sql.Composed] = []
        with connect(self.settings) as conn:
            for live_table, fresh_table in self.table_pairs():
                have = {definition for _, definition in _index_definitions(conn, fresh_table)}
                for _, definition in _index_definitions(conn, live_table, secondary=True):
                    if definition not in have:
                        head = sql.SQL("CREATE INDEX ON {} ").format(sql.Identifier(fresh_table))
                        statements.append(head + sql.SQL(definition.removeprefix("CREATE INDEX ON ")))
        if statements:
            with ThreadPoolExecutor(min(len(statements), os.cpu_count() or 1)) as pool:
                list(pool.map(self._execute, statements))

    def _execute(self, statement: sql.Composed) -> None:
        with connect(self.settings) as conn:
            conn.execute(statement)

    def analyze(self) -> None:
        with connect(self.settings) as conn:
            for _, fresh_table in self.table_pairs():
                conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(fresh_table)))

    # ---- 2. replay ---------------------------------------------------------------------

    def replay(self, stop: threading.Event) -> None:
        """Apply the log to the fresh tables up to its current end."""
        if self.from_store:
            self._replay_store(stop)
        else:
            self._replay_kafka(stop)

    def _replay_kafka(self, stop: threading.Event) -> None:
        progress = Progress(self.progress_stream, "rebuild (Kafka)", observer=self._observe)
        with connect(self.settings) as conn:
            row = conn.execute(
                'SELECT coalesce(sum("offset" + 1) FILTER (WHERE partition >= 0), 0),'
                " coalesce(max(position) FILTER (WHERE partition = -1), 0) FROM relay_positions WHERE topic = %s",
                (self.topic,),
            ).fetchone()
        total, published = (int(row[0]), int(row[1])) if row else (0, 0)
        if self.workers > 1:
            self._replay_kafka_forked(stop, progress, total)
        else:
            inner = threading.Event()
            worker = threading.Thread(
                target=self.projector.run, args=(inner,), kwargs={"until_caught_up": True}, name="rebuild"
            )
            worker.start()
            try:
                with connect(self.settings) as conn:
                    while worker.is_alive():
                        worker.join(0.1)
                        if stop.is_set():
                            inner.set()
                        progress.update(self._offsets_committed(conn), total)
                    progress.update(self._offsets_committed(conn), total, final=True)
            finally:
                inner.set()
                worker.join()
        if not stop.is_set():
            # Caught up with what the relay had published per partition when we looked, so with
            # every event up to the relay's cursor then: the store need not be read before it.
            self._store_cursor = max(self._store_cursor, published)

    def _replay_kafka_forked(self, stop: threading.Event, progress: Progress, total: int) -> None:
        """The Kafka replay by forked processes: `workers` share the partitions of the key-local projections
        out; the other projections, if any, have one more process for every partition."""
        partitions = self._topic().partitions
        local = [fresh for live, fresh in self.pairs if live.key_local]
        whole = [fresh for live, fresh in self.pairs if not live.key_local]
        shares = [(local, partitions[n :: self.workers]) for n in range(self.workers) if local]
        shares += [(whole, partitions)] if whole else []
        context = multiprocessing.get_context("fork")  # spawned, each would import everything again
        results: SimpleQueue[tuple[int, int]] = context.SimpleQueue()
        processes = [
            context.Process(target=self._replay_share, args=(*share, n, results, os.getpid()), name=f"rebuild-{n}")
            for n, share in enumerate(shares)
            if share[1]
        ]
        for process in processes:
            process.start()
        try:
            with connect(self.settings) as conn:
                while running := [process.sentinel for process in processes if process.is_alive()]:
                    multiprocessing.connection.wait(running, timeout=0.1)  # or a worker's end
                    if stop.is_set():
                        break
                    progress.update(self._offsets_committed(conn), total)
                progress.update(self._offsets_committed(conn), total, final=True)
        finally:
            for process in processes:
                if process.is_alive():
                    process.terminate()  # SIGTERM: the worker stops after the batch it is applying
                process.join()
        failed = [process.name for process in processes if process.exitcode != 0]
        if failed and not stop.is_set():
            raise RuntimeError(f"rebuild worker(s) {', '.join(failed)} failed (their log shows why)")
        # Events new to at least one projection: the local workers' together, or the whole log's worker.
        counts: dict[int, int] = {}
        while not results.empty():
            n, count = results.get()
            counts[n] = count
        self.projector.applied += max(
            sum(count for n, count in counts.items() if shares[n][0] is group) for group in (local, whole)
        )

    def _replay_share(
        self,
        projections: list[Projection],
        partitions: tuple[int, ...],
        n: int,
        results: SimpleQueue[tuple[int, int]],
        parent: int,
    ) -> None:
        """In forked worker `n`: replay `partitions` to the log's end, then report how many events were new."""
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):  # not the parent's handlers, which set the parent's stop
            signal.signal(signum, lambda *_: stop.set())
        _terminate_with(parent)
        projector = Projector(
            self.settings,
            projections,
            position_key=self.key,
            announces=False,
            telemetry=False,
            partitions=partitions,
        )
        projector.run(stop, until_caught_up=True)  # an error ends the worker with a non-zero exit
        results.put((n, projector.applied))

    def _offsets_committed(self, conn: psycopg.Connection[TupleRow]) -> int:
        """The offsets committed, summed over partitions, of the projection furthest behind (the workers' progress)."""
        row = conn.execute(
            "SELECT coalesce(min(done), 0) FROM (SELECT sum(next_offset) AS done FROM projector_positions"
            " WHERE topic = %s AND projection = ANY(%s) GROUP BY projection) p",
            (self.topic, [self.key(fresh) for _, fresh in self.pairs]),
        ).fetchone()
        return int(row[0]) if row else 0

    def _observe(self, done: int, total: int | None) -> None:
        metrics.rebuild_progress(self.names, done, total)

    def _topic(self) -> TopicInfo:
        return describe_topic(self.settings, self.topic) or TopicInfo("", tuple(range(self.settings.kafka_partitions)))

    def _replay_store(self, stop: threading.Event) -> None:
        info = self._topic()
        with connect(self.settings) as conn:
            self.projector._load_positions(conn, info)
            progress = Progress(self.progress_stream, "rebuild (event store)", observer=self._observe)
            self._apply_store(conn, info, stop, progress)

    def _apply_store(
        self,
        conn: psycopg.Connection[TupleRow],
        info: TopicInfo,
        stop: threading.Event,
        progress: Progress | None = None,
    ) -> None:
        """Apply the event store's log after `_store_cursor` up to its end now (not a moving end)."""
        app = ReportingApplication(self.settings, cache_size=0)
        try:
            end = app.recorder.max_notification_id() or 0
            cursor = self._store_cursor
            mapper = CanonicalMapper(app)
            # Two stages, as the projector's: the next batch is read and decoded (its own connection)
            # while this one is applied. One batch in flight at a time, in log order.
            with connect(self.settings) as reader, ThreadPoolExecutor(1, thread_name_prefix="rebuild-apply") as applier:
                in_flight: Future[int] | None = None
                while cursor < end and not stop.is_set():
                    events = read_store_events(reader, mapper, cursor, self.settings.projector_batch_size, end)
                    if in_flight is not None:
                        in_flight.result()  # the batch up to `cursor` is applied
                        if progress is not None:
                            progress.update(cursor, end)
                    if not events:
                        break
                    # No Kafka offsets here (-1): the positions carry the truth, per partition.
                    batch = [(partition_for(e.key, info.partitions), -1, e) for e in events]
                    in_flight = applier.submit(self.projector.apply_batch, conn, info, batch)
                    cursor = events[-1].position
                if in_flight is not None:
                    in_flight.result()
            self._store_cursor = cursor
            if progress is not None:
                progress.update(cursor, end, final=True)
        finally:
            app.close()

    # ---- 3. swap ---------------------------------------------------------------------------

    def swap(self) -> bool:
        """Swap the fresh tables and positions in, atomically; False when the tables stayed locked too long.

        Under the exclusive swap lock the live projector stands still between two batches; the
        rebuild first applies, from the event store, what it may lack since its last replay (a
        short stretch), so that it holds at least what the live tables hold on every partition.
        """
        info = self._topic()
        with connect(self.settings) as conn:
            try:
                with conn.transaction():
                    conn.execute("SET LOCAL lock_timeout = '10s'")
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (PROJECTION_SWAP_LOCK,))
                    self._apply_store(conn, info, threading.Event())
                    positions = self._positions(conn)
                    for live, fresh in self.pairs:
                        old, new = positions.get(live.name, {}), positions.get(self.key(fresh), {})
                        behind = [p for p, pos in old.items() if new.get(p, (0, 0, ""))[1] < pos[1]]
                        if behind:
                            raise RuntimeError(f"{live.name}: the rebuild is behind the live tables on {behind}")
                    for live_table, fresh_table in self.table_pairs():
                        _swap_table(conn, live_table, fresh_table)
                    for live, fresh in self.pairs:
                        self._swap_positions(conn, live.name, self.key(fresh), positions.get(live.name, {}))
            except psycopg.errors.LockNotAvailable:
                log.warning("could not lock the live tables within 10 s; retrying")
                return False
            # Open pages read the swapped-in tables (infra/notifications.py).
            announce(conn, {live.name: _highest(positions.get(self.key(fresh), {})) for live, fresh in self.pairs})
        log.info("swapped in %s", ", ".join(self.names))
        return True

    def _positions(self, conn: psycopg.Connection[TupleRow]) -> dict[str, dict[int, tuple[int, int, str]]]:
        keys = [name for live, fresh in self.pairs for name in (live.name, self.key(fresh))]
        result: dict[str, dict[int, tuple[int, int, str]]] = {}
        for name, partition, next_offset, position, topic_id in conn.execute(
            "SELECT projection, partition, next_offset, position, topic_id FROM projector_positions"
            " WHERE topic = %s AND projection = ANY(%s)",
            (self.topic, keys),
        ):
            result.setdefault(name, {})[int(partition)] = (int(next_offset), int(position), str(topic_id))
        return result

    def _swap_positions(
        self, conn: psycopg.Connection[TupleRow], name: str, key: str, live: dict[int, tuple[int, int, str]]
    ) -> None:
        conn.execute("DELETE FROM projector_positions WHERE topic = %s AND projection = %s", (self.topic, name))
        if self.from_store:
            # A replay from the store knows no Kafka offsets: keep the live ones. They point at or
            # before the rebuild's positions, so a restart re-reads a little and skips it by position.
            for partition, (next_offset, _, topic_id) in live.items():
                conn.execute(
                    "UPDATE projector_positions SET next_offset = %s, topic_id = %s"
                    " WHERE topic = %s AND projection = %s AND partition = %s",
                    (next_offset, topic_id, self.topic, key, partition),
                )
        conn.execute(
            "UPDATE projector_positions SET projection = %s, updated_at = now() WHERE topic = %s AND projection = %s",
            (name, self.topic, key),
        )


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _terminate_with(parent: int) -> None:
    """SIGTERM this process when its parent dies (Linux): a killed rebuild leaves no worker behind."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the worker stops at the log's end instead
        return
    if os.getppid() != parent:  # the parent died before the call
        os.kill(os.getpid(), signal.SIGTERM)


def _highest(positions: dict[int, tuple[int, int, str]]) -> int:
    return max((position for _, position, _ in positions.values()), default=0)


def _index_definitions(
    conn: psycopg.Connection[TupleRow], table: str, *, secondary: bool = False
) -> list[tuple[str, str]]:
    """(name, definition without the name and the table) of the table's indexes.

    `secondary`: only those that neither enforce uniqueness nor back a constraint.
    """
    rows = conn.execute(
        "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
        " WHERE i.indrelid = %s::regclass AND NOT (%s AND (i.indisunique"
        " OR EXISTS (SELECT FROM pg_constraint k WHERE k.conindid = i.indexrelid))) ORDER BY c.relname",
        (table, secondary),
    ).fetchall()
    return [(str(name), _INDEX_HEAD.sub(r"CREATE \1INDEX ON ", str(definition))) for name, definition in rows]


def _swap_table(conn: psycopg.Connection[TupleRow], live: str, fresh: str) -> None:
    """Drop the live table, give the fresh one its name, and its indexes their names."""
    names = {definition: name for name, definition in _index_definitions(conn, live)}
    conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(live)))
    conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(sql.Identifier(fresh), sql.Identifier(live)))
    for name, definition in _index_definitions(conn, live):
        target = names.get(definition) or name.replace(fresh, live, 1)
        if target != name:
            conn.execute(sql.SQL("ALTER INDEX {} RENAME TO {}").format(sql.Identifier(name), sql.Identifier(target)))
