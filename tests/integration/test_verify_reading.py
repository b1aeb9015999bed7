"""How `audit verify --from-store` reads: the COPY parser and the aggregated read of tlog_leaves give
what the row-by-row reads give, and a damaged tlog_leaves or an unreadable event is still named.

No services: the checkpointer's steps run in this process on a seeded database.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import services.audit.verify as verify_module
from infra.canonical import read_store_rows
from infra.db import connect
from infra.settings import Settings
from services.audit.checkpointer import Checkpointer, log_origin, signing_key
from services.audit.signing import VerifierKey, public_key_path
from services.audit.tree import MissingNode
from services.audit.verify import Options, _reference_leaves_by_row, reference_leaves, verify


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The seeded store, published and appended to the transparency log, with one signed checkpoint."""
    checkpointer = Checkpointer(settings, signing_key(settings))
    with connect(settings) as conn:
        conn.execute(
            "INSERT INTO relay_positions (topic, partition, position)"
            " SELECT %s, -1, max(notification_id) FROM reporting_events",
            (settings.kafka_topic,),
        )
        checkpointer.register_key(conn)
        while checkpointer.extend(conn, limit=97):
            pass
        checkpointer.sign(conn)
    return settings


def key(settings: Settings) -> VerifierKey:
    return VerifierKey.parse(public_key_path(Path(settings.audit_key_path)).read_text(), name=log_origin(settings))


def test_store_rows_are_the_rows_psycopg_reads(settings: Settings) -> None:
    with connect(settings) as conn:
        expected = [
            (p, i.encode(), v, t, s)
            for p, i, v, t, s in conn.execute(
                "SELECT notification_id, originator_id::text, originator_version, topic, state"
                " FROM reporting_events ORDER BY notification_id"
            )
        ]
        assert len(expected) > 300
        assert read_store_rows(conn, 0, 10**6) == expected
        middle = expected[100][0]
        assert read_store_rows(conn, middle, 50, until=expected[120][0]) == expected[101:121]


def test_the_aggregated_tlog_read_equals_the_row_by_row_read(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(verify_module, "REFERENCE_CHUNK", 64)  # several chunks
    with connect(settings) as conn:
        fast, slow = reference_leaves(conn), _reference_leaves_by_row(conn)
    assert len(fast) == len(slow) > 300
    assert (fast.positions, fast.hashes, fast.event_ids) == (slow.positions, slow.hashes, slow.event_ids)


def test_a_gap_or_a_malformed_hash_in_tlog_leaves_is_named(settings: Settings) -> None:
    with connect(settings) as conn:
        conn.execute("UPDATE tlog_leaves SET leaf_hash = substring(leaf_hash from 2) WHERE leaf_index = 7")
        with pytest.raises(MissingNode, match="leaf 7 is not a 32-byte hash"):
            reference_leaves(conn)
        conn.execute("DELETE FROM tlog_leaves WHERE leaf_index = 7")
        with pytest.raises(MissingNode, match="no leaf 7"):
            reference_leaves(conn)


@pytest.mark.parametrize("workers", [1, 2])
def test_verify_from_store_passes_then_names_an_unreadable_and_an_altered_event(
    settings: Settings, workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(verify_module, "CHUNK", 100)  # several ranges, shared out among the (forked) workers
    report = verify(settings, key(settings), Options(from_store=True, workers=workers))
    assert report.ok, report.findings
    assert report.events == report.covered > 300
    with connect(settings) as conn:
        positions = [p for (p,) in conn.execute("SELECT notification_id FROM reporting_events ORDER BY 1")]
        unreadable, altered = positions[5], positions[-3]
        conn.execute("UPDATE reporting_events SET state = NULL WHERE notification_id = %s", (unreadable,))
        conn.execute(
            "UPDATE reporting_events SET originator_version = originator_version + 1000 WHERE notification_id = %s",
            (altered,),
        )
    report = verify(settings, key(settings), Options(from_store=True, workers=workers))
    kinds = {(f.kind, f.position) for f in report.findings}
    assert ("unreadable", unreadable) in kinds
    assert ("altered", unreadable) in kinds
    assert ("altered", altered) in kinds
    assert ("inserted", altered) in kinds  # another event id at that position
