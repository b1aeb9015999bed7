"""The in-memory event store keeps the PostgreSQL store's promises: a save's events and its
Idempotency-Key answer are stored together or not at all, and a clash stores nothing; the reads of
one attempt of a command are answered from one query's versions (the same code on PostgreSQL)."""

from __future__ import annotations

from collections.abc import Sequence
from copy import deepcopy

import pytest
from eventsourcing.persistence import IntegrityError

from domain.catalogue import CATALOGUE_ID, Catalogue, Indicator, IndicatorGroup
from domain.templates import Template
from domain.values import Aggregation, ValueType
from infra.memory_event_store import InMemoryEventStore
from services.ingest.application.ports import PendingAnswer


def answer(key: str, body: bytes = b"{}") -> PendingAnswer:
    return PendingAnswer("admin:test", key, b"fingerprint", lambda positions: body + str(list(positions)).encode())


def test_the_answer_is_stored_with_the_events_and_names_their_positions() -> None:
    store = InMemoryEventStore()
    catalogue = Catalogue(actor="admin:test")
    assert store.save(catalogue, answer("k1")) == [1]
    stored = store.answer("admin:test", "k1")
    assert stored is not None
    assert (stored.fingerprint, stored.body) == (b"fingerprint", b"{}[1]")
    assert store.versions([catalogue.id]) == {catalogue.id: 1}


def test_a_clash_on_the_key_or_the_version_stores_nothing() -> None:
    store = InMemoryEventStore()
    first = Catalogue(actor="admin:test")
    twin = deepcopy(first)
    store.save(first, answer("k1"))
    with pytest.raises(IntegrityError):
        store.save(twin)  # the same version 1 of the same aggregate
    with pytest.raises(IntegrityError):
        store.save(Template.open("T1", "Biểu mẫu", "", "x", None, "admin:test", "admin"), answer("k1"))  # key taken
    assert store.event_count() == 1


def test_an_answer_that_cannot_be_rendered_stores_no_event() -> None:
    def fail(_: Sequence[int]) -> bytes:
        raise RuntimeError("render failed")

    store = InMemoryEventStore()
    with pytest.raises(RuntimeError):
        store.save(Catalogue(actor="admin:test"), PendingAnswer("admin:test", "k2", b"f", fail))
    assert (store.event_count(), store.answer("admin:test", "k2")) == (0, None)


def test_an_answer_stored_alone_keeps_the_first() -> None:
    store = InMemoryEventStore()
    store.store_answer("s", "k", b"f1", b"first")
    store.store_answer("s", "k", b"f2", b"second")
    stored = store.answer("s", "k")
    assert stored is not None
    assert stored.body == b"first"


def _indicator(code: str) -> Indicator:
    return Indicator(
        code,
        "Chỉ tiêu",
        "Indicator",
        IndicatorGroup.POSTAL,
        "điểm",
        ValueType.INTEGER,
        Aggregation.SUM,
        Aggregation.SUM,
    )


def _rival_defines(store: InMemoryEventStore, code: str) -> None:
    """Another process's writer: through the library, past this store's cache and scope."""
    catalogue = store.application.repository.get(CATALOGUE_ID)
    catalogue.define(_indicator(code), "admin:rival", "admin")
    store.application.save(catalogue)


def test_versions_read_together_answer_an_attempts_reads_until_its_save() -> None:
    store = InMemoryEventStore()
    catalogue = Catalogue(actor="admin:test")
    store.save(catalogue)
    absent = Template.create_id("T9")
    with store.versions_read_together() as read_versions:
        read_versions([CATALOGUE_ID, absent])
        _rival_defines(store, "T.R1")  # after the read: this attempt reads the catalogue as it was
        assert store.versions([CATALOGUE_ID, absent]) == {CATALOGUE_ID: 1}
        seen = store.get(CATALOGUE_ID)
        assert isinstance(seen, Catalogue)
        assert (seen.version, seen is not store.get(CATALOGUE_ID, read_only=True)) == (1, True), "a copy to change"
        assert store.get(absent) is None
        # What it changes on that state clashes with the rival's event, as any read-then-write does.
        seen.define(_indicator("T.X1"), "admin:test", "admin")
        with pytest.raises(IntegrityError):
            store.save(seen)
        # Once it saved (or tried), the attempt reads the store again.
        assert store.versions([CATALOGUE_ID]) == {CATALOGUE_ID: 2}
        again = store.get(CATALOGUE_ID)
        assert again is not None
        assert again.version == 2
    assert store.versions([CATALOGUE_ID]) == {CATALOGUE_ID: 2}


def test_versions_read_later_in_an_attempt_answer_again_and_only_inside_it() -> None:
    store = InMemoryEventStore()
    store.save(Catalogue(actor="admin:test"))
    with store.versions_read_together() as read_versions:
        read_versions([])
        assert store.versions([CATALOGUE_ID]) == {CATALOGUE_ID: 1}  # not named: read from the store, then kept
        _rival_defines(store, "T.R1")
        assert store.versions([CATALOGUE_ID]) == {CATALOGUE_ID: 1}
        read_versions([CATALOGUE_ID])  # the next attempt reads afresh
        assert store.versions([CATALOGUE_ID]) == {CATALOGUE_ID: 2}
        _rival_defines(store, "T.R2")
    assert store.versions([CATALOGUE_ID]) == {CATALOGUE_ID: 3}
    latest = store.get(CATALOGUE_ID)
    assert latest is not None
    assert latest.version == 3
