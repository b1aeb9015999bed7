"""Guards on the private parts of pinned libraries the project overrides or calls.

Each entry is library code our code was written against (see docs/DECISIONS.md, *Borrowed internals
are guarded*). An upgrade that changes it fails here, loudly, instead of changing our behaviour
silently: re-read the new code, adapt ours, then update the digest.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import eventsourcing.persistence
import eventsourcing.postgres
import kafka.producer.kafka
import kafka.producer.sender
import kafka.producer.transaction_manager
import prometheus_client
import psycopg_pool.base
import psycopg_pool.pool
import pytest

PINNED = {"eventsourcing": "9.5.6", "psycopg-pool": "3.3.3", "kafka-python": "3.0.12", "prometheus-client": "0.26.0"}

Recorder = eventsourcing.postgres.PostgresApplicationRecorder
# (what, why we depend on it, the digest of its source)
GUARDED: list[tuple[Callable[..., Any], str, str]] = [
    (
        Recorder.insert_events,
        "infra/event_store.py replaces it by a group commit that does what it does, per save in a savepoint",
        "f1a98da0239e3ea7462c6b725cd66d0c932fc533814c92e04bf9802ac81ebddf",
    ),
    (
        Recorder._lock_table,
        "the group commit takes the table lock once per transaction through it",
        "42bc9c135b4a93c1e1ba4b3788eab049b605e48f2e49657630037d16382d6d9c",
    ),
    (
        Recorder._notify_channel,
        "the group commit notifies once per transaction through it",
        "9e5bab72ecfbcf2ec8060b6d5f87cc5c0cf02a59bd7671e3efdb3a4c540371fe",
    ),
    (
        Recorder._insert_stored_events,
        "replaced by an insert of four binary arrays (the group commit takes the table lock)",
        "139580714a6590854299f5b5c1630b9cf56c65825cb463eb287bbf97996b29f1",
    ),
    (
        Recorder._fetch_ids_after_insert_events,
        "extended to write the Idempotency-Key answer in the same transaction",
        "9c8efbc1baf72b52213eeaa4c689bfb06cdbdacfac07643939a65c2e3102de9b",
    ),
    (
        psycopg_pool.base.AttemptWithBackoff.update_delay,
        "infra/db.py caps its reconnection delay",
        "5ba2be0b3d81f4c7a5a2e2b45edffd570d0d4616f98521c5b41a24bdfeb7e00f",
    ),
    (
        psycopg_pool.pool.ConnectionPool._check_connection,
        "infra/event_store.py sets the check it calls (`_check`) on the event store library's pool",
        "d0215e9299029f4e64c280740beb954d094d93443ecbde267574fdfff2fc730e",
    ),
    (
        kafka.producer.sender.Sender.force_close,
        "infra/kafka.py abandons a producer's queue after a failed send",
        "7963a0d23bc94fc992ce1ff980af202af891b0f606046ba0f8292aa72532ce03",
    ),
    (
        kafka.producer.transaction_manager.TransactionManager.has_producer_id,
        "infra/kafka.py waits for the idempotent producer's id",
        "652a00c63818c8e067e2cadc39bdd4536cbd65613d694198e3abe3d431738e79",
    ),
    (
        eventsourcing.persistence.JSONTranscoder.__init__,
        "infra/event_store_base.py writes with orjson what this encoder writes (separators, no ASCII escapes)",
        "fd17b3c098d3687c5124f5450fda91f25c5d5ae2c5b5ea36b66b1215865815f3",
    ),
    (
        eventsourcing.persistence.JSONTranscoder._encode_obj,
        "infra/event_store_base.py's transcoder gives it orjson's unknown types",
        "e7a92650c9f989f4fceb129157efccec5ea1b3046bfe7b3a2dd614799d206a3b",
    ),
    (
        eventsourcing.persistence.JSONTranscoder._decode_obj,
        "infra/event_store_base.py's transcoder calls it on every object orjson read, innermost first",
        "7c7c0e6064fd5d73f73f0d3b985850eddc07d661038679297bc74b8251fdde45",
    ),
    (
        eventsourcing.persistence.Mapper.to_stored_event,
        "infra/event_store_base.py stores the request id as a key of the state: it encodes vars(event)",
        "ff9e72e538d73a3a2e6805246b5bec6f544c89f75128f5b587025d2c5baaed0e",
    ),
    (
        eventsourcing.persistence.Mapper.to_domain_event,
        "the request id comes back as an attribute: the event's __dict__ is the stored state",
        "6ec02f2a3b6e233a81470ac02288628088c400d59ad5054eb9db0ca8f322c972",
    ),
    (
        prometheus_client.Histogram.observe,
        "infra/metrics.py observe_many does what it does for many amounts at once",
        "38beca3be1d1595b61a274180f55537000e15133ead54fa07e303a86d9ceca39",
    ),
    (
        prometheus_client.Histogram._metric_init,
        "observe_many reads _upper_bounds and updates _sum and _buckets",
        "61aeac1b768d4786bed708a86af53b14af8c549ed208ad348c96083ce97e38bc",
    ),
]


def digest(function: Callable[..., Any]) -> str:
    original = getattr(function, "wrapped", function)  # the library's own, under our patch
    return hashlib.sha256(inspect.getsource(original).encode()).hexdigest()


@pytest.mark.parametrize(("package", "pinned"), sorted(PINNED.items()))
def test_the_pinned_versions_are_installed(package: str, pinned: str) -> None:
    assert version(package) == pinned


@pytest.mark.parametrize(
    ("function", "why", "expected"), GUARDED, ids=[getattr(f, "wrapped", f).__qualname__ for f, _, _ in GUARDED]
)
def test_borrowed_code_is_what_ours_was_written_against(function: Callable[..., Any], why: str, expected: str) -> None:
    assert digest(function) == expected, f"{function.__qualname__} changed upstream ({why}): re-read it"


def test_the_producer_still_holds_the_private_parts_we_reach() -> None:
    source = inspect.getsource(kafka.producer.kafka.KafkaProducer.__init__)
    assert "self._transaction_manager" in source
    assert "self._sender" in source
