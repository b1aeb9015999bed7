"""The checkpointer's transparency log in PostgreSQL, against domain.merkle over the contract's bytes.

No services: the checkpointer's steps run in this process on a seeded database.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from domain.merkle import MerkleTree, verify_consistency, verify_inclusion
from infra.db import connect
from infra.settings import Settings
from services.audit.checkpointer import Checkpointer, log_origin, signing_key
from services.audit.signing import SignedCheckpoint, VerifierKey, public_key_path
from services.audit.tree import TreeAppender, consistency_proof, inclusion_proof, root_at, stored_size
from tests.helpers import store_events


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The seeded store, as if the relay had published all of it (the checkpointer follows the relay)."""
    with connect(settings) as conn:
        conn.execute(
            "INSERT INTO relay_positions (topic, partition, position)"
            " SELECT %s, -1, max(notification_id) FROM reporting_events",
            (settings.kafka_topic,),
        )
    return settings


def test_the_stored_tree_is_the_rfc_6962_tree_of_the_published_bytes(settings: Settings) -> None:
    checkpointer = Checkpointer(settings, signing_key(settings))
    expected = MerkleTree()
    for event in store_events(settings):
        expected.append(event.to_bytes())  # the contract's bytes, as the relay publishes them
    with connect(settings) as conn:
        checkpointer.register_key(conn)
        while checkpointer.extend(conn, limit=97):  # odd batches: peaks carried across transactions
            pass
        assert stored_size(conn)[0] == expected.size > 300
        signed = checkpointer.sign(conn)
        for size in (1, 2, 97, 128, 200, expected.size):
            assert root_at(conn, size) == expected.root(size)
            for index in (0, size // 2, size - 1):
                proof = inclusion_proof(conn, index, size)
                assert proof == expected.inclusion_proof(index, size)
                assert verify_inclusion(expected.leaf_hash_at(index), index, size, proof, expected.root(size))
            proof = consistency_proof(conn, size, expected.size)
            assert verify_consistency(size, expected.size, expected.root(size), expected.root(), proof)
        stored = conn.execute("SELECT note FROM tlog_checkpoints").fetchone()
    assert stored is not None
    assert signed.checkpoint.root_hash == expected.root()
    public = VerifierKey.parse(public_key_path(Path(settings.audit_key_path)).read_text(), name=log_origin(settings))
    assert SignedCheckpoint.parse_note(stored[0]).verify(public)


def test_a_failed_append_leaves_nothing_and_the_next_one_continues(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpointer = Checkpointer(settings, signing_key(settings))
    with connect(settings) as conn:
        checkpointer.extend(conn, limit=50)
        original = TreeAppender.append

        def crash(self: TreeAppender, cur: object, leaves: object) -> None:
            original(self, cur, leaves)  # type: ignore[arg-type]
            raise OSError("connection lost after the inserts")

        monkeypatch.setattr(TreeAppender, "append", crash)
        with pytest.raises(OSError, match="connection lost"):
            checkpointer.extend(conn, limit=50)
        assert stored_size(conn)[0] == 50  # the transaction rolled back
        monkeypatch.setattr(TreeAppender, "append", original)
        checkpointer.catch_up(conn)
        size = stored_size(conn)[0]
    expected = MerkleTree()
    for event in store_events(settings):
        expected.append(event.to_bytes())
    assert size == expected.size
    with connect(settings) as conn:
        assert root_at(conn, size) == expected.root()


def test_only_published_events_are_appended(settings: Settings) -> None:
    checkpointer = Checkpointer(settings, signing_key(settings))
    with connect(settings) as conn:
        conn.execute("UPDATE relay_positions SET position = 100 WHERE partition = -1")
        checkpointer.catch_up(conn)
        assert stored_size(conn) == (100, 100)  # the seed's positions have no gaps
        conn.execute("UPDATE relay_positions SET position = 150 WHERE partition = -1")
        checkpointer.catch_up(conn)
        assert stored_size(conn) == (150, 150)


def test_periodic_checkpoints_only_when_the_tree_grew_and_requests_always(settings: Settings) -> None:
    checkpointer = Checkpointer(settings, signing_key(settings))
    with connect(settings) as conn:
        checkpointer.register_key(conn)
        checkpointer.extend(conn, limit=100)
        _, due = checkpointer.step(conn, next_periodic=0.0)  # due, and the tree grew: a checkpoint
        sizes = [r[0] for r in conn.execute("SELECT tree_size FROM tlog_checkpoints ORDER BY id")]
        assert sizes == [stored_size(conn)[0]]
        assert sizes[0] > 100
        checkpointer.step(conn, next_periodic=0.0)  # due, nothing new: no periodic checkpoint
        assert conn.execute("SELECT count(*) FROM tlog_checkpoints").fetchone() == (1,)
        conn.execute("INSERT INTO tlog_checkpoint_requests (requested_by) VALUES ('admin:test')")
        checkpointer.step(conn, next_periodic=time.monotonic() + 3600)  # on demand: even at the same size
        rows = conn.execute(
            "SELECT c.tree_size, c.requested_by FROM tlog_checkpoint_requests r"
            " JOIN tlog_checkpoints c ON c.id = r.checkpoint_id"
        ).fetchall()
        assert rows == [(sizes[-1], "admin:test")]
        assert due > time.monotonic()
