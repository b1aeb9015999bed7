"""The projector's read-ahead: items in order, the producer's error raised to the reader, a clean stop."""

from __future__ import annotations

import threading

import pytest

from services.projector.prefetch import Prefetch


def test_items_come_in_order_and_end_when_the_producer_does() -> None:
    source = iter(range(50))
    with Prefetch(lambda: next(source, None)) as reads:
        assert list(reads) == list(range(50))


def test_an_error_of_the_producer_is_raised_to_the_reader_after_what_came_before() -> None:
    items = iter([1, 2])

    def produce() -> int | None:
        item = next(items, None)
        if item is None:
            raise OSError("broker gone")
        return item

    with Prefetch(produce) as reads:
        items_read = iter(reads)
        assert [next(items_read), next(items_read)] == [1, 2]
        with pytest.raises(OSError, match="broker gone"):
            next(items_read)


def test_close_stops_a_producer_that_is_ahead_of_the_reader() -> None:
    produced = threading.Event()
    count = 0

    def produce() -> int:
        nonlocal count
        count += 1
        produced.set()
        return count

    reads = Prefetch(produce, depth=1)
    assert next(iter(reads)) == 1
    produced.wait(5)
    reads.close()
    assert not reads._thread.is_alive()
    # At most the item being handed over and one queued: the producer waits for the reader.
    assert count <= 3
