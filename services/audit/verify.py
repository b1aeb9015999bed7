"""`reporting audit verify`: recompute the transparency log from the whole log and check every checkpoint.

For an auditor who holds the public key and can read the log (Kafka by default, or the event
store with --from-store). Steps:

1. read the log in position order and hash each event's canonical bytes into a leaf;
2. read the signed checkpoints (the checkpoints topic or the database, plus any files the
   auditor kept) and check each signature with the public key;
3. recompute the root at each checkpoint's size (RootAccumulator) and compare it with the signed
   root, and the position of its last leaf with the signed one;
4. check that consecutive checkpoints are consistent (same size, same root; later, not smaller;
   and an RFC 9162 consistency proof from the stored tree where the database can be read);
5. when the database can be read, compare the log leaf by leaf with the transparency log's own
   leaves (`tlog_leaves`, themselves checked against the signed roots), and name each event
   that was altered, removed, inserted or reordered. Without it, a mismatch is narrowed to the
   positions between two checkpoints.

Exit code 0 only when everything is consistent.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import sys
import time
from array import array
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from hashlib import sha256
from pathlib import Path
from typing import Any, TextIO
from uuid import UUID

import orjson
import psycopg
from kafka import TopicPartition
from psycopg.rows import TupleRow

from domain.merkle import EMPTY_ROOT, HASH_SIZE, RootAccumulator, verify_consistency
from infra.canonical import CanonicalMapper, StoredRow, canonical_parts, read_store_rows
from infra.db import connect
from infra.kafka import assigned_consumer, describe_topic
from infra.progress import Progress
from infra.settings import Settings
from services.audit.checkpointer import checkpoints_topic
from services.audit.signing import CheckpointError, SignedCheckpoint, VerifierKey
from services.audit.tree import MissingNode, consistency_proof

MAX_NAMED = 50  # findings named one by one; the rest are counted


@dataclass(frozen=True)
class Finding:
    kind: str  # altered, removed, inserted, reordered, unreadable, signature, root, fork, rollback, ...
    message: str
    position: int | None = None
    event_id: str | None = None

    def line(self) -> str:
        return f"{self.kind.upper():<12} {self.message}"


@dataclass
class Leaves:
    """Events in position order: positions, leaf hashes (32 bytes each) and event ids (16 bytes each)."""

    positions: array[int] = field(default_factory=lambda: array("q"))
    hashes: bytearray = field(default_factory=bytearray)
    event_ids: bytearray = field(default_factory=bytearray)

    def __len__(self) -> int:
        return len(self.positions)

    def add(self, position: int, leaf_hash: bytes, event_id: str) -> None:
        self.positions.append(position)
        self.hashes += leaf_hash
        self.event_ids += bytes.fromhex(event_id.replace("-", ""))

    def hash(self, i: int) -> bytes:
        return bytes(self.hashes[i * HASH_SIZE : (i + 1) * HASH_SIZE])

    def event_id(self, i: int) -> str:
        return str(UUID(bytes=bytes(self.event_ids[i * 16 : (i + 1) * 16])))


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    events: int = 0
    checkpoints: int = 0
    covered: int = 0
    read_seconds: float = 0.0
    verify_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.findings

    def add(self, finding: Finding) -> None:
        self.findings.append(finding)


# ---- reading the log -------------------------------------------------------------------------


CHUNK = 25_000  # positions per worker task when reading the store in parallel (small tasks share out evenly)
_worker_mapper: CanonicalMapper | None = None


def _mapper(settings: Settings) -> CanonicalMapper:
    """A mapper per process; the event store application (for the contract's slow path) on first need."""
    global _worker_mapper
    if _worker_mapper is None:
        _worker_mapper = CanonicalMapper(_event_store(settings))
    return _worker_mapper


def _forget_parent_mapper() -> None:
    """In a forked worker: the parent's mapper (and its connections) stay the parent's."""
    global _worker_mapper
    _worker_mapper = None


def _read_store_range(task: tuple[Settings, int, int]) -> tuple[bytes, bytes, bytes, list[tuple[int, str, str]]]:
    """Leaves of positions (after, until]: (positions, hashes, event ids, unreadable rows) as flat bytes."""
    settings, after, until = task
    positions: array[int] = array("q")
    hashes = bytearray()
    event_ids = bytearray()
    unreadable: list[tuple[int, str, str]] = []
    with connect(settings) as conn:
        while rows := read_store_rows(conn, after, 20_000, until):
            after = rows[-1][0]
            for row in rows:
                try:
                    parts = canonical_parts(*row)
                except Exception:  # the contract's own code decides (and names what is wrong)
                    position, originator_id, version, topic, state = row
                    stored = StoredRow(position, originator_id.decode(), version, topic, state)  # type: ignore[arg-type]
                    leaf = _mapper(settings).leaf(stored)
                    if leaf.canonical is None:
                        unreadable.append((leaf.position, leaf.event_id, leaf.error or ""))
                    positions.append(leaf.position)
                    hashes += leaf.leaf_hash
                    event_ids += UUID(leaf.event_id).bytes
                    continue
                positions.append(row[0])
                hashes += sha256(b"\x00" + parts[2]).digest()
                event_ids += parts[0]
    return positions.tobytes(), bytes(hashes), bytes(event_ids), unreadable


def store_leaves(settings: Settings, conn: psycopg.Connection[TupleRow], report: Report, workers: int = 0) -> Leaves:
    """The event store's events in notification order, as leaves (unreadable rows are findings).

    Ranges of positions are read and hashed by `workers` processes (0: one per core for big logs).
    """
    row = conn.execute(
        "SELECT count(*), coalesce(min(notification_id), 1), coalesce(max(notification_id), 0) FROM reporting_events"
    ).fetchone()
    assert row is not None
    total, low, high = int(row[0]), int(row[1]), int(row[2])
    if workers <= 0:  # PostgreSQL's share of the work is small: a worker per core (bench.audit, 1 and 2 workers)
        workers = min(os.cpu_count() or 1, 4) if total >= 2 * CHUNK else 1
    tasks = [(settings, start, min(start + CHUNK, high)) for start in range(low - 1, high, CHUNK)]
    progress = Progress(sys.stderr, "reading the event store")
    leaves = Leaves()
    # Forked, not spawned: a spawned worker imports everything again (about half a second each), longer than
    # it takes to read 100,000 events. The workers open their own connections and never touch `conn`.
    pool = multiprocessing.get_context("fork").Pool(workers, initializer=_forget_parent_mapper) if workers > 1 else None
    try:
        results = pool.imap(_read_store_range, tasks) if pool is not None else map(_read_store_range, tasks)
        for positions, hashes, event_ids, unreadable in results:
            leaves.positions.frombytes(positions)
            leaves.hashes += hashes
            leaves.event_ids += event_ids
            for position, event_id, error in unreadable:
                report.add(
                    Finding(
                        "unreadable",
                        f"position {position} event {event_id}: cannot be read ({error})",
                        position,
                        event_id,
                    )
                )
            progress.update(len(leaves), total or None)
    finally:
        if pool is not None:
            pool.terminate()
    progress.finish()
    return leaves


def _consume(
    settings: Settings, topic: str, *, idle: float, enough: Callable[[], bool] = lambda: False
) -> Iterator[tuple[int, int, bytes]]:
    """(partition, offset, value) of every record of `topic`, from offset 0 of each partition.

    The broker's end offsets are not trusted: reading stops when no partition returned anything
    for `idle` seconds (0.3 s once `enough()` says every expected event was seen).
    """
    info = describe_topic(settings, topic)
    if info is None:
        return
    consumer = assigned_consumer(settings, max_poll_records=50_000, fetch_max_wait_ms=100)
    try:
        tps = [TopicPartition(topic, p) for p in info.partitions]
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, 0)
        quiet_since = time.monotonic()
        while True:
            polled = consumer.poll(timeout_ms=100)
            if polled:
                quiet_since = time.monotonic()
                for tp, records in polled.items():
                    for record in records:
                        yield tp.partition, record.offset, record.value
            elif time.monotonic() - quiet_since >= (0.3 if enough() else idle):
                return
    finally:
        consumer.close()


def kafka_leaves(settings: Settings, report: Report, expected: tuple[int, int], idle: float) -> Leaves:
    """The topic's events, deduplicated and in position order; conflicting copies and disorder are findings.

    `expected` is (size, last position) of the largest checkpoint: reading may stop early once
    that many events up to that position were seen.
    """
    expected_size, expected_last = expected
    progress = Progress(sys.stderr, "reading the topic")
    seen: dict[int, tuple[bytes, str]] = {}
    highest: dict[int, int] = {}
    covered = 0

    def enough() -> bool:
        return covered >= expected_size

    for partition, offset, value in _consume(settings, settings.kafka_topic, idle=idle, enough=enough):
        try:
            message = orjson.loads(value)
            position = int(message["position"])
            event_id = str(UUID(str(message["event_id"])))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            report.add(Finding("unreadable", f"partition {partition} offset {offset}: not an integration event"))
            continue
        digest = sha256(b"\x00" + value).digest()
        previous = seen.get(position)
        if previous is not None:
            if previous[0] != digest:
                report.add(
                    Finding(
                        "altered",
                        f"position {position} event {event_id}: two different copies on the topic"
                        f" (partition {partition} offset {offset})",
                        position,
                        event_id,
                    )
                )
            continue  # an identical copy: at-least-once delivery
        if position < highest.get(partition, 0):
            report.add(
                Finding(
                    "reordered",
                    f"position {position} event {event_id}: after position {highest[partition]}"
                    f" on partition {partition} (offset {offset})",
                    position,
                    event_id,
                )
            )
        highest[partition] = max(highest.get(partition, 0), position)
        seen[position] = (digest, event_id)
        if position <= expected_last:
            covered += 1
        progress.update(len(seen), expected_size or None)
    progress.finish()
    leaves = Leaves()
    for position in sorted(seen):
        digest, event_id = seen[position]
        leaves.add(position, digest, event_id)
    return leaves


REFERENCE_CHUNK = 1_000_000  # leaves of tlog_leaves per query (each column aggregated into one value)


def reference_leaves(conn: psycopg.Connection[TupleRow]) -> Leaves:
    """The transparency log's own leaves (`tlog_leaves`), in leaf order.

    PostgreSQL concatenates each column of a range of leaves into one value (a few queries for the
    whole table instead of a row per leaf). Used when the leaves are indexes 0..n-1 with 32-byte
    hashes; otherwise the row-by-row read below names the first leaf that is missing or malformed.
    """
    row = conn.execute(
        "SELECT count(*), coalesce(min(leaf_index), 0), coalesce(max(leaf_index), -1) FROM tlog_leaves"
    ).fetchone()
    assert row is not None
    total, low, high = int(row[0]), int(row[1]), int(row[2])
    if low != 0 or high != total - 1:  # leaf_index is the primary key: unique, so this means 0..total-1
        return _reference_leaves_by_row(conn)
    leaves = Leaves()
    for start in range(0, total, REFERENCE_CHUNK):
        end = min(start + REFERENCE_CHUNK, total)  # leaves appended meanwhile are not read
        # Aggregates without ORDER BY (each would sort): the rows come in index order, and the
        # aggregated leaf indexes, checked below, prove every column was gathered in that order.
        found = conn.execute(
            "SELECT count(*), bool_and(octet_length(leaf_hash) = %s), string_agg(int8send(leaf_index), ''),"
            " string_agg(int8send(position), ''), string_agg(uuid_send(event_id), ''), string_agg(leaf_hash, '')"
            " FROM (SELECT * FROM tlog_leaves WHERE leaf_index >= %s AND leaf_index < %s ORDER BY leaf_index) l",
            (HASH_SIZE, start, end),
        ).fetchone()
        assert found is not None
        count, hashes_ok, indexes, positions, event_ids, hashes = found
        sizes = (len(positions), len(event_ids), len(hashes))  # string_agg skips NULLs
        if (
            count != end - start
            or not hashes_ok
            or sizes != (8 * count, 16 * count, HASH_SIZE * count)
            or _int8s(indexes) != array("q", range(start, end))
        ):
            return _reference_leaves_by_row(conn)
        leaves.positions.extend(_int8s(positions))
        leaves.event_ids += event_ids
        leaves.hashes += hashes
    return leaves


def _int8s(data: bytes) -> array[int]:
    """PostgreSQL's int8send values, concatenated (big-endian), as an array."""
    values: array[int] = array("q")
    values.frombytes(data)
    if sys.byteorder == "little":
        values.byteswap()
    return values


def _reference_leaves_by_row(conn: psycopg.Connection[TupleRow]) -> Leaves:
    leaves = Leaves()
    query = (
        "COPY (SELECT leaf_index, position, event_id, leaf_hash FROM tlog_leaves ORDER BY leaf_index)"
        " TO STDOUT (FORMAT BINARY)"
    )
    with conn.cursor() as cur, cur.copy(query) as copy:
        copy.set_types(["int8", "int8", "uuid", "bytea"])
        for index, position, event_id, h in copy.rows():
            if index != len(leaves):
                raise MissingNode(f"tlog_leaves has no leaf {len(leaves)}")
            if len(h) != HASH_SIZE:
                raise MissingNode(f"tlog_leaves leaf {index} is not a {HASH_SIZE}-byte hash")
            leaves.positions.append(position)
            leaves.hashes += h
            leaves.event_ids += event_id.bytes
    return leaves


# ---- checkpoints -------------------------------------------------------------------------------


def checkpoints_from_store(conn: psycopg.Connection[TupleRow]) -> list[tuple[str, str]]:
    return [(f"database checkpoint {i}", str(n)) for i, n in conn.execute("SELECT id, note FROM tlog_checkpoints")]


def checkpoints_from_kafka(settings: Settings) -> list[tuple[str, str]]:
    found = []
    for partition, offset, value in _consume(settings, checkpoints_topic(settings), idle=0.5):
        try:
            note = str(orjson.loads(value)["note"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            note = value.decode(errors="replace")
        found.append((f"checkpoints topic partition {partition} offset {offset}", note))
    return found


def checkpoints_from_file(path: Path) -> list[tuple[str, str]]:
    """A signed note, or JSON: one checkpoint, a list, or {"checkpoints": [...]} as the API returns them."""
    text = path.read_text("utf-8")
    if not text.lstrip().startswith(("{", "[")):
        return [(str(path), text)]
    data: Any = orjson.loads(text)
    items = data.get("checkpoints", [data]) if isinstance(data, dict) else data
    return [(f"{path} #{n}", str(item["note"])) for n, item in enumerate(items)]


def check_signatures(sources: Iterable[tuple[str, str]], key: VerifierKey, report: Report) -> list[SignedCheckpoint]:
    good: dict[tuple[int, bytes, str], SignedCheckpoint] = {}
    for where, note in sources:
        try:
            signed = SignedCheckpoint.parse_note(note)
        except CheckpointError as error:
            report.add(Finding("signature", f"{where}: not a signed checkpoint ({error})"))
            continue
        if not signed.verify(key):
            report.add(
                Finding("signature", f"{where}: checkpoint of size {signed.checkpoint.tree_size} has a bad signature")
            )
            continue
        cp = signed.checkpoint
        good[(cp.tree_size, cp.root_hash, cp.issued_at.isoformat())] = signed
    return sorted(good.values(), key=lambda s: (s.checkpoint.tree_size, s.checkpoint.issued_at))


def check_chain(checkpoints: list[SignedCheckpoint], report: Report) -> dict[int, SignedCheckpoint]:
    """Same size, same root; a later checkpoint is never smaller. Returns one checkpoint per size."""
    by_size: dict[int, SignedCheckpoint] = {}
    for signed in checkpoints:
        cp = signed.checkpoint
        other = by_size.get(cp.tree_size)
        if other is not None and (other.checkpoint.root_hash, other.checkpoint.last_position) != (
            cp.root_hash,
            cp.last_position,
        ):
            report.add(Finding("fork", f"two signed checkpoints of size {cp.tree_size} with different roots"))
        by_size.setdefault(cp.tree_size, signed)
    by_time = sorted(checkpoints, key=lambda s: s.checkpoint.issued_at)
    for before, after in itertools.pairwise(by_time):
        if after.checkpoint.tree_size < before.checkpoint.tree_size:
            report.add(
                Finding(
                    "rollback",
                    f"checkpoint of {after.checkpoint.issued_at:%Y-%m-%dT%H:%M:%S}Z has size"
                    f" {after.checkpoint.tree_size}, smaller than {before.checkpoint.tree_size} signed before it",
                )
            )
    return by_size


# ---- the comparison ----------------------------------------------------------------------------


def roots_at(leaves: Leaves, sizes: list[int], progress: Progress | None = None) -> dict[int, bytes]:
    """The root of the first `size` leaves, for each size the leaves reach (the hot loop)."""
    roots: dict[int, bytes] = {}
    total = max(sizes, default=0) or None
    wanted = sorted(s for s in sizes if s <= len(leaves))
    if 0 in wanted:
        roots[0] = EMPTY_ROOT
    accumulator = RootAccumulator()
    append = accumulator.append_leaf_hash
    hashes = bytes(leaves.hashes)
    done = 0
    for size in wanted:
        if size == 0:
            continue
        for offset in range(done * HASH_SIZE, size * HASH_SIZE, HASH_SIZE):
            append(hashes[offset : offset + HASH_SIZE])
        done = size
        roots[size] = accumulator.root()
        if progress is not None:
            progress.update(done, total)
    return roots


def compare_with_reference(log: Leaves, reference: Leaves, report: Report) -> int:
    """Merge the two position-ordered lists; name what differs. Returns the log events not in the reference yet."""
    n, m = len(log), len(reference)
    common = min(n, m)
    # The fast path: the same positions and hashes for the whole shared prefix (one C comparison each).
    if log.positions[:common] == reference.positions[:common] and (
        log.hashes[: common * HASH_SIZE] == reference.hashes[: common * HASH_SIZE]
    ):
        i = j = common
        findings: list[Finding] = []
    else:
        i = j = 0
        findings = []
        while i < n and j < m:
            p, q = log.positions[i], reference.positions[j]
            if p == q:
                if log.hash(i) != reference.hash(j):
                    findings.append(
                        Finding(
                            "altered",
                            f"position {p} event {reference.event_id(j)}: its bytes differ from leaf {j}"
                            " of the transparency log",
                            p,
                            reference.event_id(j),
                        )
                    )
                    if log.event_id(i) != reference.event_id(j):
                        findings.append(Finding("inserted", f"position {p}: now holds event {log.event_id(i)}", p))
                i += 1
                j += 1
            elif p < q:
                findings.append(
                    Finding(
                        "inserted",
                        f"position {p} event {log.event_id(i)}: in the log, not in the transparency log",
                        p,
                        log.event_id(i),
                    )
                )
                i += 1
            else:
                findings.append(
                    Finding(
                        "removed",
                        f"position {q} event {reference.event_id(j)}: leaf {j} of the transparency log,"
                        " missing from the log",
                        q,
                        reference.event_id(j),
                    )
                )
                j += 1
    while j < m:
        findings.append(
            Finding(
                "removed",
                f"position {reference.positions[j]} event {reference.event_id(j)}: leaf {j} of the transparency log,"
                " missing from the log",
                reference.positions[j],
                reference.event_id(j),
            )
        )
        j += 1
    for finding in _reordered(findings):
        report.add(finding)
    return n - i


def _reordered(findings: list[Finding]) -> list[Finding]:
    """An event removed at one position and present at another was moved: say so once."""
    removed = {f.event_id: f for f in findings if f.kind == "removed" and f.event_id}
    moved = {
        f.event_id
        for f in findings
        if f.kind in ("inserted", "altered") and f.event_id in removed and f.position != removed[f.event_id].position
    }
    out = []
    for f in findings:
        if f.event_id in moved and f.kind in ("removed", "inserted"):
            if f.kind == "removed":
                out.append(
                    Finding(
                        "reordered",
                        f"event {f.event_id}: was at position {f.position} in the transparency log, the log has it"
                        " elsewhere",
                        f.position,
                        f.event_id,
                    )
                )
            continue
        out.append(f)
    return out


@dataclass
class Options:
    from_store: bool = False
    checkpoint_files: list[Path] = field(default_factory=list)
    use_database: bool = True  # the transparency log's leaves and stored tree, to name what changed
    idle_seconds: float = 3.0
    workers: int = 0  # processes reading the store (0: automatic)


def verify(settings: Settings, key: VerifierKey, options: Options) -> Report:
    report = Report()
    conn: psycopg.Connection[TupleRow] | None = None
    if options.use_database or options.from_store:
        try:
            conn = connect(settings)
        except psycopg.Error as error:
            if options.from_store:
                raise
            report.notes.append(f"database not readable ({error}); mismatches are narrowed to checkpoint ranges")
    try:
        sources: list[tuple[str, str]] = []
        for path in options.checkpoint_files:
            sources += checkpoints_from_file(path)
        if options.from_store:
            assert conn is not None
            sources += checkpoints_from_store(conn)
        else:
            sources += checkpoints_from_kafka(settings)
        checkpoints = check_signatures(sources, key, report)
        report.checkpoints = len(checkpoints)
        if not checkpoints:
            report.add(Finding("checkpoint", "no validly signed checkpoint to verify against"))
        by_size = check_chain(checkpoints, report)
        largest = max(by_size.values(), key=lambda s: s.checkpoint.tree_size, default=None)
        expected = (largest.checkpoint.tree_size, largest.checkpoint.last_position) if largest else (0, 0)

        started = time.perf_counter()
        if options.from_store:
            assert conn is not None
            log = store_leaves(settings, conn, report, options.workers)
        else:
            log = kafka_leaves(settings, report, expected, options.idle_seconds)
        report.events = len(log)
        report.read_seconds = time.perf_counter() - started

        started = time.perf_counter()
        sizes = sorted(by_size)
        # The transparency log's leaves are read (mostly PostgreSQL's work) while the tree is recomputed here.
        with ThreadPoolExecutor(1, thread_name_prefix="reference-leaves") as side:
            reading = side.submit(reference_leaves, conn) if conn is not None else None
            progress = Progress(sys.stderr, "recomputing the tree", unit="leaves")
            roots = roots_at(log, sizes, progress)
            progress.finish()
            reference = reading.result() if reading is not None else None
        good_sizes = []
        for size in sizes:
            cp = by_size[size].checkpoint
            if size not in roots:
                report.add(
                    Finding(
                        "root",
                        f"checkpoint of size {size} (last position {cp.last_position}): the log holds only"
                        f" {len(log)} events",
                        cp.last_position,
                    )
                )
            elif roots[size] != cp.root_hash:
                report.add(Finding("root", f"checkpoint of size {size}: the log's root differs from the signed root"))
            elif size and log.positions[size - 1] != cp.last_position:
                report.add(
                    Finding("root", f"checkpoint of size {size}: its last leaf is not at position {cp.last_position}")
                )
            else:
                good_sizes.append(size)
        report.covered = max(good_sizes, default=0)
        report.verify_seconds = time.perf_counter() - started

        # Consistency of consecutive checkpoints.
        for old, new in itertools.pairwise(sizes):
            if old == 0 or (old in good_sizes and new in good_sizes):
                continue  # both recomputed from one log: consistent by construction
            if conn is None:
                report.notes.append(f"consistency {old} -> {new} not checked (no database to read the proof from)")
                continue
            try:
                proof = consistency_proof(conn, old, new)
            except (MissingNode, ValueError) as error:
                report.add(Finding("consistency", f"no consistency proof {old} -> {new} from the stored tree: {error}"))
                continue
            if not verify_consistency(
                old, new, by_size[old].checkpoint.root_hash, by_size[new].checkpoint.root_hash, proof
            ):
                report.add(Finding("consistency", f"checkpoints of size {old} and {new} are not consistent"))

        # Name what changed.
        if reference is not None:
            reference_roots = _reference_roots(reference, log, roots, sizes)
            for size in sizes:
                if size in reference_roots and reference_roots[size] != by_size[size].checkpoint.root_hash:
                    report.add(
                        Finding(
                            "tlog", f"the stored transparency log disagrees with the signed checkpoint of size {size}"
                        )
                    )
            beyond = compare_with_reference(log, reference, report)
            if beyond:
                report.notes.append(f"{beyond} event(s) after the transparency log's last leaf (not yet appended)")
        elif not report.ok:
            _narrow(log, by_size, sizes, good_sizes, report)
        uncovered = len(log) - report.covered
        if uncovered > 0:
            report.notes.append(f"{uncovered} event(s) after the last verified checkpoint are not covered yet")
    finally:
        if conn is not None:
            conn.close()
    return report


def _reference_roots(reference: Leaves, log: Leaves, log_roots: dict[int, bytes], sizes: list[int]) -> dict[int, bytes]:
    """`roots_at(reference, sizes)`; the log's roots where both hold the same leaf hashes up to that size."""
    reach = [s for s in sizes if s <= len(reference)]
    top = max(reach, default=0)
    if (
        top <= len(log)
        and all(s in log_roots for s in reach)
        and reference.hashes[: top * HASH_SIZE] == log.hashes[: top * HASH_SIZE]
    ):
        return {s: log_roots[s] for s in reach}  # the same hashes give the same roots
    return roots_at(reference, sizes)


def _narrow(
    log: Leaves, by_size: dict[int, SignedCheckpoint], sizes: list[int], good: list[int], report: Report
) -> None:
    """Without the transparency log's leaves: the first failing checkpoint bounds where the change is."""
    for size in sizes:
        if size in good:
            continue
        lower = max((s for s in good if s < size), default=0)
        first = log.positions[lower] if lower < len(log) else None
        last = by_size[size].checkpoint.last_position
        report.add(
            Finding(
                "range",
                f"an event among leaves {lower}..{size - 1} (positions {first if first is not None else '?'}..{last})"
                " was altered, removed, reordered or inserted",
            )
        )
        return


def _event_store(settings: Settings) -> Any:
    """The event store application, for the contract's slow mapping of unusual rows."""
    from infra.event_store import ReportingApplication

    return ReportingApplication(settings, cache_size=0)


def load_verifier_key(text_or_path: str, name: str) -> VerifierKey:
    """A verifier key: a vkey string, or a file holding a vkey or a PEM public key."""
    path = Path(text_or_path)
    text = path.read_text("utf-8") if path.exists() else text_or_path
    return VerifierKey.parse(text, name=name)


def print_report(report: Report, out: TextIO) -> None:
    shown = report.findings[:MAX_NAMED]
    for finding in shown:
        out.write(finding.line() + "\n")
    if len(report.findings) > len(shown):
        out.write(f"... and {len(report.findings) - len(shown)} more finding(s)\n")
    for note in report.notes:
        out.write(f"note: {note}\n")
    rate = report.events / report.read_seconds if report.read_seconds else 0.0
    tree_rate = report.covered / report.verify_seconds if report.verify_seconds else 0.0
    out.write(
        f"{report.events:,} events read in {report.read_seconds:.2f} s ({rate:,.0f} events/s, hashing included);"
        f" tree recomputed and {report.checkpoints} checkpoint(s) checked in {report.verify_seconds:.2f} s"
        f" ({tree_rate:,.0f} leaves/s)\n"
    )
    if report.ok:
        out.write(f"OK: the log is consistent with every signed checkpoint (covered up to size {report.covered})\n")
    else:
        out.write(f"FAILED: {len(report.findings)} finding(s)\n")


def report_json(report: Report) -> dict[str, Any]:
    return {
        "ok": report.ok,
        "events": report.events,
        "checkpoints": report.checkpoints,
        "covered": report.covered,
        "findings": [f.__dict__ for f in report.findings],
        "notes": report.notes,
    }
