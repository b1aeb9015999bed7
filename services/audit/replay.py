"""`reporting audit replay`: rebuild every read model from the log into scratch tables and compare.

1. Scratch copies of every projection's tables are created (`<table><suffix>`, LIKE the live
   ones, indexes included), filled by the same projection classes the projector runs
   (`all_projections(suffix)`).
2. The live tables and the projector's positions are copied in one REPEATABLE READ snapshot
   (`<table><suffix>_live`): the projector commits its positions with its changes, so the copy
   is exactly the state after applying, per projection and partition, the events up to the
   recorded position.
3. The log (the Kafka topic, or the event store with --from-store) is replayed into the scratch
   tables, each projection receiving exactly the events its live copy had applied (per
   partition, up to its recorded position; from the store, an event's partition is the one
   Kafka's default partitioner gives its key).
4. Each table pair is compared row for row (EXCEPT ALL both ways); differences are reported.

`reporting rebuild` (services/projector/rebuild.py) replays to the end of the log and swaps;
this one stops exactly at the snapshot's positions, so that the comparison holds while writes
go on, and never swaps. Both put a stored event on the partition `partition_for` gives it.

The scratch tables are dropped afterwards unless --keep. The live read models keep serving.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TextIO

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

from infra.canonical import CanonicalMapper, read_store_events
from infra.db import connect
from infra.integration_events import IntegrationEvent
from infra.kafka import describe_topic
from infra.progress import Progress
from infra.settings import Settings
from services.audit.verify import _consume, _event_store
from services.projector.projections import all_projections
from services.projector.rebuild import partition_for

BATCH = 5000
SAMPLE = 5


@dataclass
class TableDiff:
    table: str
    live_rows: int
    replay_rows: int
    live_only: int
    replay_only: int
    samples: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return self.live_only == 0 and self.replay_only == 0


@dataclass
class ReplayReport:
    tables: list[TableDiff] = field(default_factory=list)
    events: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and all(t.identical for t in self.tables)


class Replay:
    def __init__(self, settings: Settings, *, suffix: str | None = None) -> None:
        self.settings = settings
        self.suffix = suffix or f"_replay{os.getpid()}"
        self.live = all_projections()
        self.scratch = all_projections(self.suffix)
        # Per projection (live name) and partition: the last position its live tables applied.
        self.targets: dict[str, dict[int, int]] = {}

    def _pairs(self) -> Iterator[tuple[str, str]]:
        for live, scratch in zip(self.live, self.scratch, strict=True):
            yield from zip(live.tables, scratch.tables, strict=True)

    def create_tables(self, conn: psycopg.Connection[TupleRow]) -> None:
        with conn.transaction():
            for live, scratch in self._pairs():
                conn.execute(
                    sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING ALL)").format(
                        sql.Identifier(scratch), sql.Identifier(live)
                    )
                )

    def snapshot(self, conn: psycopg.Connection[TupleRow]) -> None:
        """Copy the live tables and read the positions they reflect, in one snapshot."""
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            rows = conn.execute(
                "SELECT projection, partition, position FROM projector_positions WHERE topic = %s",
                (self.settings.kafka_topic,),
            ).fetchall()
            for live, scratch in self._pairs():
                conn.execute(
                    sql.SQL("CREATE TABLE {} AS SELECT * FROM {}").format(
                        sql.Identifier(scratch + "_live"), sql.Identifier(live)
                    )
                )
        self.targets = {p.name: {} for p in self.live}
        for name, partition, position in rows:
            if name in self.targets:
                self.targets[str(name)][int(partition)] = int(position)

    def drop_tables(self, conn: psycopg.Connection[TupleRow]) -> None:
        with conn.transaction():
            for _, scratch in self._pairs():
                for table in (scratch, scratch + "_live"):
                    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))

    def apply(self, conn: psycopg.Connection[TupleRow], batch: Sequence[tuple[int, IntegrationEvent]]) -> None:
        """Apply (partition, event) to each scratch projection that its live copy had applied."""
        with conn.transaction(), conn.cursor() as cur:
            for live, scratch in zip(self.live, self.scratch, strict=True):
                target = self.targets[live.name]
                events = [e for part, e in batch if e.position <= target.get(part, 0)]
                if events:
                    scratch.apply(cur, events)

    def events_from_store(self, conn: psycopg.Connection[TupleRow]) -> Iterator[tuple[int, IntegrationEvent]]:
        info = describe_topic(self.settings, self.settings.kafka_topic)
        partitions = info.partitions if info is not None else tuple(range(self.settings.kafka_partitions))
        until = max((p for t in self.targets.values() for p in t.values()), default=0)
        mapper = CanonicalMapper(_event_store(self.settings))
        after = 0
        while events := read_store_events(conn, mapper, after, 10_000, until):
            for event in events:
                yield partition_for(event.key, partitions), event
            after = events[-1].position

    def events_from_kafka(self, idle: float) -> Iterator[tuple[int, IntegrationEvent]]:
        """The topic, each partition deduplicated by position (as the projector does), up to the targets."""
        goal: dict[int, int] = {}
        for target in self.targets.values():
            for part, position in target.items():
                goal[part] = max(goal.get(part, 0), position)
        last: dict[int, int] = {}

        def reached() -> bool:
            return all(last.get(p, 0) >= position for p, position in goal.items())

        if reached():
            return
        for partition, _, value in _consume(self.settings, self.settings.kafka_topic, idle=idle, enough=reached):
            event = IntegrationEvent.from_bytes(value)
            if event.position <= last.get(partition, 0):
                continue  # a duplicate (at-least-once delivery, republished log)
            last[partition] = event.position
            yield partition, event
        if not reached():
            missing = {p: (last.get(p, 0), goal[p]) for p in goal if last.get(p, 0) < goal[p]}
            raise ValueError(
                f"the topic does not hold what the read models applied (partition: (topic, applied)) "
                f"{missing}; replay --from-store"
            )

    def compare(self, conn: psycopg.Connection[TupleRow]) -> list[TableDiff]:
        diffs = []
        for live, scratch in self._pairs():
            copy = sql.Identifier(scratch + "_live")
            fresh = sql.Identifier(scratch)
            counts = []
            samples: list[str] = []
            for left, right, label in ((copy, fresh, "live only"), (fresh, copy, "replay only")):
                query = sql.SQL("SELECT * FROM {} EXCEPT ALL SELECT * FROM {}").format(left, right)
                row = conn.execute(sql.SQL("SELECT count(*) FROM ({}) d").format(query)).fetchone()
                counts.append(int(row[0]) if row else 0)
                for sample in conn.execute(sql.SQL("{} LIMIT %s").format(query), (SAMPLE,)).fetchall():
                    samples.append(f"{label}: {tuple(sample)!r}"[:300])
            sizes = []
            for table in (copy, fresh):
                row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table)).fetchone()
                sizes.append(int(row[0]) if row else 0)
            diffs.append(TableDiff(live, sizes[0], sizes[1], counts[0], counts[1], samples))
        return diffs


def replay(
    settings: Settings, *, from_store: bool = False, keep: bool = False, idle: float = 3.0, out: TextIO | None = None
) -> ReplayReport:
    out = out or sys.stdout
    report = ReplayReport()
    job = Replay(settings)
    started = time.perf_counter()
    with connect(settings) as conn:
        job.drop_tables(conn)
        job.create_tables(conn)
        try:
            job.snapshot(conn)
            total = max((p for t in job.targets.values() for p in t.values()), default=0)
            progress = Progress(sys.stderr, "replaying the log")
            events = job.events_from_store(conn) if from_store else job.events_from_kafka(idle)
            batch: list[tuple[int, IntegrationEvent]] = []
            try:
                for item in events:
                    batch.append(item)
                    if len(batch) >= BATCH:
                        job.apply(conn, batch)
                        report.events += len(batch)
                        progress.update(report.events)
                        batch = []
                job.apply(conn, batch)
                report.events += len(batch)
            except ValueError as error:
                report.problems.append(str(error))
            progress.finish()
            report.seconds = time.perf_counter() - started
            if not report.problems:
                report.tables = job.compare(conn)
            out.write(
                f"replayed {report.events:,} events (log up to position {total}) into suffix {job.suffix}"
                f" in {report.seconds:.2f} s\n"
            )
        finally:
            if not keep:
                job.drop_tables(conn)
    for problem in report.problems:
        out.write(f"PROBLEM {problem}\n")
    for diff in report.tables:
        if diff.identical:
            out.write(f"same     {diff.table}: {diff.live_rows:,} rows\n")
        else:
            out.write(
                f"DIFFERS  {diff.table}: live {diff.live_rows:,} rows, replay {diff.replay_rows:,};"
                f" {diff.live_only} only live, {diff.replay_only} only in the replay\n"
            )
            for sample in diff.samples:
                out.write(f"         {sample}\n")
    out.write("OK: every read model equals its replay from the log\n" if report.ok else "FAILED\n")
    return report
