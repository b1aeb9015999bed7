"""What a projection is: named tables, filled from integration events in batches.

Each read model's `projection.py` implements it; the projector (`services/projector/runner.py`)
runs them. A projection writes only through the cursor it is given, inside the projector's
transaction, so its changes and its position commit together. `suffix` lets the same projection
fill a fresh copy of its tables (rebuilds, replays).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import psycopg
from psycopg.rows import TupleRow

from infra.integration_events import IntegrationEvent


class Projection(Protocol):
    name: str
    tables: tuple[str, ...]
    # Those of `tables` that `apply` reads through a secondary (non-unique) index: a rebuild keeps
    # their indexes from the start, and builds the others' once the fresh tables are full.
    indexed_reads: tuple[str, ...]
    # Whether a catch-up should apply the log in its order across partitions (held records cost the
    # others' overlap of reading with applying, but spare the roll-ups their recomputations).
    log_order: bool
    # Whether every row it writes follows from the events of one message key (one agency, or one
    # aggregate without an agency): then separate processes may apply separate partitions at once.
    key_local: bool

    def apply(self, cur: psycopg.Cursor[TupleRow], events: Sequence[IntegrationEvent]) -> None:
        """Apply events (in position order; none already applied) to the tables."""
