"""In-memory file and job stores for unit tests: the promises of `infra/import_store.py`, without PostgreSQL."""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import IO, BinaryIO
from uuid import UUID

from domain.imports import (
    READ,
    BatchResult,
    Job,
    JobStatus,
    NewJob,
    Rejection,
    StoredFile,
    Summary,
    Tally,
)


class MemoryFileStore:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def put(self, stream: IO[bytes], stored_by: str) -> StoredFile:
        data = stream.read()
        sha = hashlib.sha256(data).hexdigest()
        self.files.setdefault(sha, data)
        return StoredFile(sha, len(data))

    def open(self, sha256: str) -> BinaryIO:
        return io.BytesIO(self.files[sha256])

    def find(self, sha256: str) -> StoredFile | None:
        data = self.files.get(sha256)
        return None if data is None else StoredFile(sha256, len(data))


class MemoryJobStore:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.jobs: dict[UUID, Job] = {}
        self.batches: dict[UUID, dict[int, BatchResult]] = {}
        self.rejected: dict[UUID, dict[int, Rejection]] = {}
        self._held: set[UUID] = set()
        self._queued = threading.Condition(self._lock)

    def create(self, job: NewJob) -> tuple[Job, bool]:
        with self._lock:
            if not job.request.dry_run:
                for existing in self.jobs.values():
                    if existing.subject == job.subject and existing.key == job.key and not existing.request.dry_run:
                        return existing, False
            created = Job(
                job.id,
                job.subject,
                job.role,
                job.agency,
                job.request,
                job.file,
                job.filename,
                job.media_type,
                job.key,
                JobStatus.QUEUED,
                datetime.now(UTC),
            )
            self.jobs[job.id] = created
            self.batches[job.id] = {}
            self.rejected[job.id] = {}
            self._queued.notify_all()
            return created, True

    def get(self, job_id: UUID) -> Job | None:
        with self._lock:
            return self.jobs.get(job_id)

    def recent(self, agency: str | None, limit: int) -> list[Job]:
        with self._lock:
            jobs = [job for job in self.jobs.values() if agency is None or job.agency == agency]
        return sorted(jobs, key=lambda job: job.created_at, reverse=True)[:limit]

    def of_file(self, sha256: str) -> list[Job]:
        with self._lock:
            return sorted((j for j in self.jobs.values() if j.file.sha256 == sha256), key=lambda j: j.created_at)

    @contextmanager
    def claim(self) -> Iterator[Job | None]:
        with self._lock:
            waiting = [
                job
                for job in self.jobs.values()
                if job.status in (JobStatus.QUEUED, JobStatus.RUNNING) and job.id not in self._held
            ]
            job = min(waiting, key=lambda j: j.created_at) if waiting else None
            if job is not None:
                job = self._update(
                    job.id,
                    status=JobStatus.RUNNING,
                    started_at=job.started_at or datetime.now(UTC),
                    attempts=job.attempts + 1,
                )
                self._held.add(job.id)
        try:
            yield job
        finally:
            if job is not None:
                with self._lock:
                    self._held.discard(job.id)

    def release(self, job_id: UUID) -> None:
        """What a crashed worker leaves behind (tests): the job running, no longer held."""
        with self._lock:
            self._held.discard(job_id)

    def wait(self, seconds: float) -> None:
        with self._queued:
            self._queued.wait(seconds)

    def _update(self, job_id: UUID, **changes: object) -> Job:
        job = replace(self.jobs[job_id], **changes)  # type: ignore[arg-type]
        self.jobs[job_id] = job
        return job

    def started(self, job_id: UUID, rows: int) -> None:
        with self._lock:
            self._update(job_id, rows_total=rows)

    def record(self, job_id: UUID, batch: BatchResult | None, rejections: Sequence[Rejection], rows_done: int) -> None:
        with self._lock:
            job = self.jobs[job_id]
            found = self.rejected[job_id]
            for rejection in [*rejections, *(batch.rejections if batch else ())]:
                found.setdefault(rejection.ordinal, rejection)
            batches_done = job.batches_done
            if batch is not None:
                self.batches[job_id].setdefault(batch.number, batch)
                batches_done = max(batches_done, batch.number)
            self._update(job_id, rows_done=max(job.rows_done, rows_done), batches_done=batches_done)

    def tally(self, job_id: UUID) -> Tally:
        with self._lock:
            batches = list(self.batches[job_id].values())
            rejections = list(self.rejected[job_id].values())
        positions = [b.position for b in batches if b.position is not None]
        return Tally(
            sum(b.submitted for b in batches),
            sum(b.corrected for b in batches),
            sum(b.unchanged for b in batches),
            sum(1 for r in rejections if r.stage == READ),
            sum(1 for r in rejections if r.stage != READ),
            max(positions) if positions else None,
        )

    def rejections(self, job_id: UUID, after: int, limit: int) -> list[Rejection]:
        with self._lock:
            found = sorted(self.rejected[job_id].values(), key=lambda r: r.ordinal)
        return [r for r in found if r.ordinal > after][:limit]

    def batches_of(self, job_id: UUID) -> Iterator[BatchResult]:
        with self._lock:
            found = sorted(self.batches[job_id].values(), key=lambda b: b.number)
        yield from (replace(b, rejections=()) for b in found)

    def finish(self, job_id: UUID, summary: Summary) -> None:
        with self._lock:
            job = self.jobs[job_id]
            self._update(
                job_id,
                status=JobStatus.DONE,
                summary=summary,
                finished_at=datetime.now(UTC),
                rows_done=job.rows_total or job.rows_done,
                error=None,
            )

    def fail(self, job_id: UUID, error: str) -> None:
        with self._lock:
            self._update(job_id, status=JobStatus.FAILED, error=error, finished_at=datetime.now(UTC))

    def requeue(self, job_id: UUID) -> None:
        with self._lock:
            if self.jobs[job_id].status is JobStatus.FAILED:
                self._update(job_id, status=JobStatus.QUEUED, finished_at=None)
                self._queued.notify_all()
