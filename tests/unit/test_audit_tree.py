"""The stored transparency-log tree (services/audit/tree.py) against domain.merkle.MerkleTree, without a server.

The stored tree reads only the entries an operation needs; here the "tables" are the levels of
an in-memory MerkleTree, so every root and proof must come out exactly as MerkleTree's own.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.merkle import MerkleTree, leaf_hash, verify_consistency, verify_inclusion
from services.audit.tree import MissingNode, _SparseTree


def full_tree(size: int) -> MerkleTree:
    tree = MerkleTree()
    for i in range(size):
        tree.append(f"event {i}".encode())
    return tree


def table(tree: MerkleTree) -> dict[tuple[int, int], bytes]:
    """What tlog_leaves and tlog_nodes hold for this tree."""
    return {(k, i): h for k, level in enumerate(tree._levels) for i, h in enumerate(level)}


def stored(tree: MerkleTree, size: int, operation):  # type: ignore[no-untyped-def]
    """Run `operation` the way services.audit.tree does: record what it reads, fetch, run again."""
    sparse = _SparseTree(size)
    with sparse.recording() as wanted:
        operation(sparse)
    rows = table(tree)
    sparse.load({key: rows[key] for key in wanted})
    return operation(sparse), wanted


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_roots_and_proofs_from_stored_entries_equal_merkle_tree(data: st.DataObject) -> None:
    total = data.draw(st.integers(1, 300))
    tree = full_tree(total)
    size = data.draw(st.integers(1, total))
    index = data.draw(st.integers(0, size - 1))
    old = data.draw(st.integers(1, size))

    root, wanted = stored(tree, size, lambda t: t.root(size))
    assert root == tree.root(size)
    assert len(wanted) <= size.bit_length()  # only the peaks

    proof, wanted = stored(tree, size, lambda t: t.inclusion_proof(index, size))
    assert proof == tree.inclusion_proof(index, size)
    assert verify_inclusion(leaf_hash(f"event {index}".encode()), index, size, proof, tree.root(size))
    assert len(wanted) <= size.bit_length() ** 2 + 1  # O(log^2 n) rows, never the whole tree

    proof, _ = stored(tree, size, lambda t: t.consistency_proof(old, size))
    assert proof == tree.consistency_proof(old, size)
    assert verify_consistency(old, size, tree.root(old), tree.root(size), proof)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=12))
def test_appending_in_batches_writes_exactly_the_tree_entries(batches: list[int]) -> None:
    """What TreeAppender inserts, batch after batch from the peaks only, is the whole tree."""
    total = sum(batches)
    tree = full_tree(total)
    written: dict[tuple[int, int], bytes] = {}
    size = 0
    for count in batches:
        sparse = _SparseTree(size)
        sparse.load({key: written[key] for key in sparse.peaks()})  # a fresh appender loads the peaks only
        for i in range(size, size + count):
            sparse.append(f"event {i}".encode())
        leaves, nodes = sparse.take_new()
        written.update({(0, i): h for i, h in leaves})
        written.update({(level, i): h for level, i, h in nodes})
        sparse.keep_only_peaks()
        size += count
        assert sparse.root() == tree.root(size)
        assert {key for level in sparse.sparse for key in ((level.level, i) for i in level.items)} == set(
            sparse.peaks()
        )
    assert written == table(tree)


def test_an_entry_that_is_not_loaded_is_an_error_not_a_wrong_hash() -> None:
    sparse = _SparseTree(5)
    try:
        sparse.root()
    except MissingNode:
        return
    raise AssertionError("a missing tree entry must raise")
