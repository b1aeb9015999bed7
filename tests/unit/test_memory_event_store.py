"""The in-memory event store keeps the PostgreSQL store's promises: a save's events and its
Idempotency-Key answer are stored together or not at all, and a clash stores nothing."""

from __future__ import annotations

from collections.abc import Sequence
from copy import deepcopy

import pytest
from eventsourcing.persistence import IntegrityError

from domain.catalogue import Catalogue
from domain.templates import Template
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
