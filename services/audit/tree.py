"""The transparency log's Merkle tree, kept in PostgreSQL and worked through `domain.merkle.MerkleTree`.

`MerkleTree` keeps `_levels[k][i]`, the hash of the perfect subtree of leaves
[i * 2^k, (i + 1) * 2^k). Here those entries live in tables (level 0 in `tlog_leaves`, the
others in `tlog_nodes`) and a `_SparseTree` holds only the ones an operation touches: the
peaks (compact range) to append, or the O(log^2 n) nodes of one root or proof. The hashing and
the proof algorithms are MerkleTree's own; nothing here hashes a node.

Which entries a root or a proof reads depends only on the sizes and the index, never on the
hashes, so a proof is computed twice: once recording the entries it reads (with placeholders),
then, after one query fetched them, for real.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar, cast

import psycopg
from psycopg.rows import TupleRow

from domain.merkle import HASH_SIZE, MerkleTree

T = TypeVar("T")
MAX_LEVELS = 64
_PLACEHOLDER = bytes(HASH_SIZE)


class MissingNode(LookupError):
    """A tree entry that should be stored is not (a damaged tlog table)."""


class _Level:
    """One level of a MerkleTree: its logical length, and the entries held in memory."""

    __slots__ = ("items", "length", "level", "new", "recorded")

    def __init__(self, level: int, length: int) -> None:
        self.level = level
        self.length = length
        self.items: dict[int, bytes] = {}
        self.new: list[tuple[int, bytes]] = []
        self.recorded: set[int] | None = None

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> bytes:
        if not 0 <= index < self.length:
            raise IndexError(index)
        found = self.items.get(index)
        if found is not None:
            return found
        if self.recorded is not None:
            self.recorded.add(index)
            return _PLACEHOLDER
        raise MissingNode(f"tree entry (level {self.level}, index {index}) is not loaded")

    def append(self, h: bytes) -> None:
        self.items[self.length] = h
        self.new.append((self.length, h))
        self.length += 1


class _SparseTree(MerkleTree):
    """A MerkleTree of `size` leaves whose entries are loaded on purpose (see the module doc)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.sparse = [_Level(k, size >> k) for k in range(MAX_LEVELS)]
        # MerkleTree reads its levels only through len(), [i] and append(): _Level provides them.
        self._levels = cast(list[list[bytes]], self.sparse)

    def peaks(self) -> list[tuple[int, int]]:
        """(level, index) of the perfect subtrees that make up the tree (what an append needs)."""
        n = self.size
        return [(k, (n >> k) - 1) for k in range(MAX_LEVELS) if n >> k & 1]

    def load(self, nodes: dict[tuple[int, int], bytes]) -> None:
        for (level, index), h in nodes.items():
            self.sparse[level].items[index] = h

    @contextmanager
    def recording(self) -> Iterator[set[tuple[int, int]]]:
        wanted: set[tuple[int, int]] = set()
        for level in self.sparse:
            level.recorded = set()
        try:
            yield wanted
        finally:
            for level in self.sparse:
                assert level.recorded is not None
                wanted.update((level.level, i) for i in level.recorded)
                level.recorded = None

    def take_new(self) -> tuple[list[tuple[int, bytes]], list[tuple[int, int, bytes]]]:
        """The leaves and the interior nodes appended since the last call."""
        leaves = self.sparse[0].new
        nodes = [(level.level, i, h) for level in self.sparse[1:] for i, h in level.new]
        for level in self.sparse:
            level.new = []
        return leaves, nodes

    def keep_only_peaks(self) -> None:
        keep = set(self.peaks())
        for level in self.sparse:
            level.items = {i: h for i, h in level.items.items() if (level.level, i) in keep}


def fetch_nodes(conn: psycopg.Connection[TupleRow], wanted: set[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    leaves = sorted(i for level, i in wanted if level == 0)
    inner = sorted((level, i) for level, i in wanted if level > 0)
    found: dict[tuple[int, int], bytes] = {}
    if leaves:
        for index, h in conn.execute(
            "SELECT leaf_index, leaf_hash FROM tlog_leaves WHERE leaf_index = ANY(%s)", (leaves,)
        ).fetchall():
            found[(0, int(index))] = bytes(h)
    if inner:
        for level, index, h in conn.execute(
            "SELECT n.level, n.idx, n.hash FROM tlog_nodes n"
            " JOIN unnest(%s::smallint[], %s::bigint[]) AS w(level, idx) ON n.level = w.level AND n.idx = w.idx",
            ([lv for lv, _ in inner], [i for _, i in inner]),
        ).fetchall():
            found[(int(level), int(index))] = bytes(h)
    missing = wanted - set(found)
    if missing:
        raise MissingNode(f"{len(missing)} tree entries missing from tlog tables, e.g. {min(missing)}")
    return found


def stored_size(conn: psycopg.Connection[TupleRow]) -> tuple[int, int]:
    """(tree size, position of its last leaf) of the stored tree."""
    row = conn.execute("SELECT leaf_index, position FROM tlog_leaves ORDER BY leaf_index DESC LIMIT 1").fetchone()
    return (0, 0) if row is None else (int(row[0]) + 1, int(row[1]))


def _with_nodes(conn: psycopg.Connection[TupleRow], size: int, operation: Callable[[MerkleTree], T]) -> T:
    tree = _SparseTree(size)
    with tree.recording() as wanted:
        operation(tree)
    tree.load(fetch_nodes(conn, wanted))
    return operation(tree)


def root_at(conn: psycopg.Connection[TupleRow], size: int) -> bytes:
    return _with_nodes(conn, size, lambda tree: tree.root(size))


def inclusion_proof(conn: psycopg.Connection[TupleRow], index: int, size: int) -> list[bytes]:
    return _with_nodes(conn, size, lambda tree: tree.inclusion_proof(index, size))


def consistency_proof(conn: psycopg.Connection[TupleRow], old_size: int, new_size: int) -> list[bytes]:
    return _with_nodes(conn, new_size, lambda tree: tree.consistency_proof(old_size, new_size))


class TreeAppender:
    """Appends leaves to the stored tree: leaves and new nodes in one transaction with the caller's work."""

    def __init__(self, conn: psycopg.Connection[TupleRow]) -> None:
        size, self.last_position = stored_size(conn)
        self._tree = _SparseTree(size)
        self._tree.load(fetch_nodes(conn, set(self._tree.peaks())))

    @property
    def size(self) -> int:
        return self._tree.size

    def root(self) -> bytes:
        return self._tree.root()

    def append(self, cur: psycopg.Cursor[TupleRow], leaves: Sequence[tuple[int, str, bytes]]) -> None:
        """Append (position, event id, leaf hash) in position order; the caller commits.

        If the transaction fails the appender is stale: make a new one.
        """
        positions = []
        for position, _, h in leaves:
            if position <= self.last_position:
                raise ValueError(f"position {position} is not after the log's last position {self.last_position}")
            self._tree.append_leaf_hash(h)
            self.last_position = position
            positions.append(position)
        new_leaves, nodes = self._tree.take_new()
        if new_leaves:
            cur.execute(
                "INSERT INTO tlog_leaves (leaf_index, position, event_id, leaf_hash)"
                " SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::uuid[], %s::bytea[])",
                ([i for i, _ in new_leaves], positions, [e for _, e, _ in leaves], [h for _, h in new_leaves]),
                binary=True,
            )
        if nodes:
            cur.execute(
                "INSERT INTO tlog_nodes (level, idx, hash)"
                " SELECT * FROM unnest(%s::smallint[], %s::bigint[], %s::bytea[])",
                ([lv for lv, _, _ in nodes], [i for _, i, _ in nodes], [h for _, _, h in nodes]),
                binary=True,
            )
        self._tree.keep_only_peaks()
