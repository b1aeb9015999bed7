"""What imports need from the outside world: where files are kept, and where jobs are tracked.

Adapters: `infra/import_store.py` (PostgreSQL: files in the database itself, so a backup of the
database holds them) and `infra/memory_import_store.py` (unit tests).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import IO, BinaryIO, Protocol
from uuid import UUID

from domain.imports import BatchResult, Job, NewJob, Rejection, StoredFile, Summary, Tally


class FileStore(Protocol):
    """Uploaded files, content-addressed: the same bytes are kept once, under their SHA-256."""

    def put(self, stream: IO[bytes], stored_by: str) -> StoredFile:
        """Keep the file `stream` holds (read from its start; it must be seekable) and name it."""
        ...

    def open(self, sha256: str) -> BinaryIO:
        """The kept file, read in chunks (never held whole); KeyError when there is none."""
        ...

    def find(self, sha256: str) -> StoredFile | None: ...


class JobStore(Protocol):
    """Import jobs, their progress, their batches' results and their rejections."""

    def create(self, job: NewJob) -> tuple[Job, bool]:
        """The job, and True; or, for a repeat (same subject and key, not a dry run), the first job and False."""
        ...

    def get(self, job_id: UUID) -> Job | None: ...

    def recent(self, agency: str | None, limit: int) -> list[Job]:
        """The latest jobs of an agency (None: of every agency), newest first."""
        ...

    def of_file(self, sha256: str) -> list[Job]:
        """Every job that read this file, oldest first."""
        ...

    def claim(self) -> AbstractContextManager[Job | None]:
        """A queued job, or one whose worker died, held by this worker until the block ends (None: none)."""
        ...

    def wait(self, seconds: float) -> None:
        """Until a job may be waiting (one was queued), or `seconds` passed."""
        ...

    def started(self, job_id: UUID, rows: int) -> None:
        """The job started: about how many records its file holds (the progress bar's total)."""
        ...

    def record(self, job_id: UUID, batch: BatchResult | None, rejections: Sequence[Rejection], rows_done: int) -> None:
        """A batch settled (its rejections with it) and the readers' rejections so far, in one transaction.

        Idempotent: a batch or a rejection recorded before (a resumed job) is kept as it was.
        """
        ...

    def tally(self, job_id: UUID) -> Tally:
        """The sums over the recorded batches, and the count of recorded rejections."""
        ...

    def rejections(self, job_id: UUID, after: int, limit: int) -> list[Rejection]:
        """A page of the rejections, in file order, after the ordinal `after` (-1: from the start)."""
        ...

    def batches_of(self, job_id: UUID) -> Iterator[BatchResult]:
        """The recorded batches, in order (without their rejections)."""
        ...

    def finish(self, job_id: UUID, summary: Summary) -> None: ...

    def fail(self, job_id: UUID, error: str) -> None: ...

    def requeue(self, job_id: UUID) -> None:
        """A failed job queued again (it resumes where it stopped)."""
        ...
