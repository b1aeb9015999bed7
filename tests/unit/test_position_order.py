"""A catch-up's records, held back until no partition can still deliver one before them."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from uuid import uuid4

from hypothesis import given
from hypothesis import strategies as st

from infra.integration_events import EventType, IntegrationEvent
from services.projector.ordering import PositionOrder, Record


def record(partition: int, offset: int, position: int) -> Record:
    event = IntegrationEvent(
        event_id=uuid4(),
        position=position,
        event_type=EventType.VALUE_SUBMITTED,
        aggregate="submission",
        aggregate_id=uuid4(),
        aggregate_version=1,
        occurred_at=datetime.now(UTC),
    )
    return (partition, offset, event)


def positions(records: list[Record]) -> list[int]:
    return sorted(r[2].position for r in records)


def test_a_record_waits_for_every_partition_that_may_still_deliver_one_before_it() -> None:
    order = PositionOrder([0, 1, 2], limit=100)
    order.add(0, [record(0, 0, 1), record(0, 1, 3), record(0, 2, 5)])
    assert order.release(settled={2}) == [], "partition 1 has delivered nothing yet"
    order.add(1, [record(1, 0, 2), record(1, 1, 4)])
    assert positions(order.release(settled={2})) == [1, 2, 3, 4], "5 may follow partition 1's next record"
    assert order.release(settled={2}) == []
    assert positions(order.release(settled={1, 2})) == [5], "partition 1 is read to its end"


def test_past_the_limit_everything_held_goes() -> None:
    order = PositionOrder([0, 1], limit=2)
    order.add(0, [record(0, i, 10 + i) for i in range(3)])
    assert positions(order.release(settled=set())) == [10, 11, 12]
    assert order.count == 0


@given(
    st.lists(st.lists(st.integers(1, 5), min_size=0, max_size=6), min_size=1, max_size=4),
    st.randoms(use_true_random=False),
)
def test_every_record_goes_once_in_each_partitions_order_and_in_the_logs_order_across(
    chunks_per_partition: list[list[int]], rng: random.Random
) -> None:
    # The log: positions 1..n dealt out to partitions; each delivers its records in chunks, the
    # partitions' turns shuffled. What goes never precedes what went before.
    sizes = [sum(chunks) for chunks in chunks_per_partition]
    dealt = list(range(1, sum(sizes) + 1))
    rng.shuffle(dealt)
    logs, start = [], 0
    for size in sizes:
        logs.append(sorted(dealt[start : start + size]))
        start += size
    deliveries = [p for p, chunks in enumerate(chunks_per_partition) for _ in chunks]  # which partition delivers next
    rng.shuffle(deliveries)
    order = PositionOrder(range(len(logs)), limit=10_000)
    delivered = [0] * len(logs)
    released: list[Record] = []
    pending = {p: list(chunks) for p, chunks in enumerate(chunks_per_partition)}
    for p in deliveries:
        n = pending[p].pop(0)
        order.add(p, [record(p, o, logs[p][o]) for o in range(delivered[p], delivered[p] + n)])
        delivered[p] += n
        out = order.release(settled={q for q in range(len(logs)) if delivered[q] == len(logs[q])})
        if out:
            assert not released or min(r[2].position for r in out) > max(r[2].position for r in released)
        released += out
    assert order.count == 0
    assert sorted(r[2].position for r in released) == list(range(1, sum(sizes) + 1))
    for p in range(len(logs)):
        assert [r[1] for r in released if r[0] == p] == list(range(len(logs[p])))
