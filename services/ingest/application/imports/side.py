"""What imports are given: the write application, the file and job stores, the DHIS2 code mappings, the limits."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from services.ingest.application.imports.ports import FileStore, JobStore
from services.ingest.application.write_side import WriteSide
from services.interchange.mapping import CodeMapping, choose_mapping

# Values per write: what the JSON API takes in one request (MAX_VALUES_PER_BATCH).
BATCH_SIZE = 1000
# Values held in memory before every pending batch is written, whatever its size: bounds the memory
# a file interleaving many agencies and months needs.
MAX_BUFFERED = 10_000
# An all-or-nothing import is one transaction: its aggregates and events are held in memory until the
# commit. Past this, the caller imports best-effort (resumable, in batches).
MAX_ATOMIC_VALUES = 20_000


def unwatched() -> None:
    """No one watches this side's liveness (the API's, the tests')."""


@dataclass
class ImportSide:
    write: WriteSide
    files: FileStore
    jobs: JobStore
    mappings: Mapping[str, CodeMapping]  # by DHIS2 data set
    batch_size: int = BATCH_SIZE
    max_buffered: int = MAX_BUFFERED
    max_atomic_values: int = MAX_ATOMIC_VALUES
    max_upload_bytes: int = 64 << 20
    alive: Callable[[], None] = unwatched  # called as a worker makes progress: what its /health reads

    def mapping(self, data_set: str | None) -> CodeMapping:
        """The code mapping of a data set; without one named, the only one configured."""
        return choose_mapping(self.mappings, data_set)
