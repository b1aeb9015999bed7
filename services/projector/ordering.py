"""Polled records put back in the log's order across partitions, for a catch-up.

Kafka keeps order within a partition only, and a consumer catching up receives whole stretches
of one partition before the next: the roll-ups would then see an agency's values before the
catalogue's definitions that precede them in the log, and recompute every cell once the
definitions arrive. A catch-up knows where each partition ends, so it can hold records back
until every partition that still has records to deliver has delivered past them.

Nothing here decides what is applied: positions and the projector's skip-by-position do. Holding
back only reorders; past `limit` held records everything held is released as it is (the order is
an optimisation, memory stays bounded).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Set

from infra.integration_events import IntegrationEvent

Record = tuple[int, int, IntegrationEvent]  # partition, offset, event


class PositionOrder:
    def __init__(self, partitions: Iterable[int], limit: int) -> None:
        self.held: dict[int, deque[Record]] = {p: deque() for p in partitions}
        self.released: dict[int, int] = dict.fromkeys(self.held, 0)  # per partition, the last position let go
        self.limit = limit
        self.count = 0

    def add(self, partition: int, records: Iterable[Record]) -> None:
        """Records of one partition, in offset order."""
        before = len(self.held[partition])
        self.held[partition].extend(records)
        self.count += len(self.held[partition]) - before

    def release(self, settled: Set[int]) -> list[Record]:
        """The held records no record yet to come can precede (`Projector.apply_batch` orders them).

        `settled`: partitions with nothing more to deliver (read to their end). Every other
        partition bounds what can go: its next record comes after what it has delivered.
        """
        if self.count > self.limit:
            frontier = None
        else:
            # A partition still delivering sends next a record after the last it delivered.
            bounds = [
                held[-1][2].position if held else self.released[p] for p, held in self.held.items() if p not in settled
            ]
            frontier = min(bounds, default=None)
        ready: list[Record] = []
        for p, held in self.held.items():
            before = len(ready)
            while held and (frontier is None or held[0][2].position <= frontier):
                ready.append(held.popleft())
            if len(ready) > before:
                self.released[p] = ready[-1][2].position
        self.count -= len(ready)
        return ready
