"""The garbage collector of a long-running service process, tuned for batches of short-lived objects.

CPython's default (a young collection every 700 allocations, then older ones) walks the objects a
batch holds alive, thousands of events or a request's values, again and again, and a full
collection walks every module, class and schema loaded at start-up. Measured (bench.projector):
the projections spent a quarter of their time there. So, once the process is built:

- everything alive then is frozen: start-up objects stay for the life of the process, and no
  collection walks them again;
- a young collection every 50,000 allocations, and the older generations more rarely.

Reference counting still frees almost everything at once; only cycles wait for a collection, and
the heap they may hold is bounded by those thresholds.
"""

from __future__ import annotations

import gc

YOUNG = 50_000  # allocations (less deallocations) between young collections
MIDDLE = 20  # young collections between collections of the middle generation
OLD = 10  # middle collections between full collections (CPython also waits for 25 % growth)


def tune_for_service() -> None:
    """Freeze what start-up built and space collections out; call once the process is built."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG, MIDDLE, OLD)
