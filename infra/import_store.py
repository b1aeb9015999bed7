"""Imports on PostgreSQL: uploaded files (content-addressed, in the database) and the jobs that import them.

Files are kept in `import_files` and `import_file_chunks` (1 MiB each), named by their SHA-256:
the same bytes are kept once, and a backup of the database holds every file with the events it
produced. Jobs are rows of `import_jobs`; a worker holds a job with a session advisory lock while
it runs it, so a worker that dies (even by SIGKILL) lets go at once and another resumes the job.
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import IO, Any, BinaryIO
from uuid import UUID

import orjson
import psycopg
from psycopg.rows import TupleRow

from domain.imports import (
    READ,
    BatchResult,
    ImportRequest,
    Job,
    JobStatus,
    NewJob,
    Rejection,
    StoredFile,
    Summary,
    Tally,
)
from infra.db import IMPORT_JOB_LOCK, Pool, connect
from infra.settings import Settings

log = logging.getLogger("reporting.imports")

CHUNK_BYTES = 1 << 20
CHANNEL = "import_jobs"
_JOB_COLUMNS = (
    "j.id, j.subject, j.role, j.agency, j.request, j.file_sha256, f.size, j.filename, j.media_type, j.request_key,"
    " j.status, j.created_at, j.started_at, j.finished_at, j.attempts, j.rows_total, j.rows_done,"
    " j.batches_done, j.summary, j.error"
)
_FROM_JOBS = "import_jobs j JOIN import_files f ON f.sha256 = j.file_sha256"


# ---- files -----------------------------------------------------------------------------------


class _Chunks(io.RawIOBase):
    """A kept file, fetched one chunk at a time as it is read."""

    def __init__(self, pool: Pool, sha256: str, chunks: int) -> None:
        self._pool = pool
        self._sha256 = sha256
        self._chunks = chunks
        self._next = 0
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        if not self._buffer and self._next < self._chunks:
            with self._pool.connection() as conn:
                row = conn.execute(
                    "SELECT data FROM import_file_chunks WHERE sha256 = %s AND seq = %s", (self._sha256, self._next)
                ).fetchone()
            if row is None:
                raise OSError(f"chunk {self._next} of file {self._sha256} is missing")
            self._buffer = bytes(row[0])
            self._next += 1
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size


class PostgresFileStore:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    def put(self, stream: IO[bytes], stored_by: str) -> StoredFile:
        stream.seek(0)
        digest = hashlib.sha256()
        size = 0
        while chunk := stream.read(CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
        file = StoredFile(digest.hexdigest(), size)
        if self.find(file.sha256) is not None:
            return file
        stream.seek(0)
        with self.pool.connection() as conn, conn.transaction():
            # A concurrent upload of the same bytes waits here for the first one and then finds it kept.
            inserted = conn.execute(
                "INSERT INTO import_files (sha256, size, chunks, stored_by) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (sha256) DO NOTHING RETURNING 1",
                (file.sha256, size, -(-size // CHUNK_BYTES), stored_by),
            ).fetchone()
            if inserted is not None:
                with (
                    conn.cursor() as cur,
                    cur.copy("COPY import_file_chunks (sha256, seq, data) FROM STDIN (FORMAT BINARY)") as copy,
                ):
                    copy.set_types(["text", "int4", "bytea"])
                    seq = 0
                    while chunk := stream.read(CHUNK_BYTES):
                        copy.write_row((file.sha256, seq, chunk))
                        seq += 1
        return file

    def open(self, sha256: str) -> BinaryIO:
        with self.pool.connection() as conn:
            row = conn.execute("SELECT chunks FROM import_files WHERE sha256 = %s", (sha256,)).fetchone()
        if row is None:
            raise KeyError(sha256)
        return io.BufferedReader(_Chunks(self.pool, sha256, int(row[0])), CHUNK_BYTES)

    def find(self, sha256: str) -> StoredFile | None:
        with self.pool.connection() as conn:
            row = conn.execute("SELECT size FROM import_files WHERE sha256 = %s", (sha256,)).fetchone()
        return None if row is None else StoredFile(sha256, int(row[0]))


# ---- jobs ------------------------------------------------------------------------------------


def _job(row: tuple[Any, ...]) -> Job:
    return Job(
        id=row[0],
        subject=row[1],
        role=row[2],
        agency=row[3],
        request=ImportRequest.from_json(row[4]),
        file=StoredFile(row[5], int(row[6])),
        filename=row[7],
        media_type=row[8],
        key=row[9],
        status=JobStatus(row[10]),
        created_at=row[11],
        started_at=row[12],
        finished_at=row[13],
        attempts=row[14],
        rows_total=row[15],
        rows_done=row[16],
        batches_done=row[17],
        summary=None if row[18] is None else Summary.from_json(row[18]),
        error=row[19],
    )


class PostgresJobStore:
    """Jobs on `pool`; a worker's claims hold advisory locks on a connection of its own (`settings`)."""

    def __init__(self, pool: Pool, settings: Settings) -> None:
        self.pool = pool
        self.settings = settings
        self._worker: psycopg.Connection[TupleRow] | None = None
        self._lock = threading.Lock()

    def _one(self, query: str, params: Sequence[Any]) -> Job | None:
        with self.pool.connection() as conn:
            row = conn.execute(f"SELECT {_JOB_COLUMNS} FROM {_FROM_JOBS} WHERE {query}", params).fetchone()
        return None if row is None else _job(row)

    def create(self, job: NewJob) -> tuple[Job, bool]:
        with self.pool.connection() as conn:
            inserted = conn.execute(
                "INSERT INTO import_jobs (id, subject, role, agency, request_key, dry_run, request, file_sha256,"
                " filename, media_type, status) VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s, 'queued')"
                " ON CONFLICT (subject, request_key) WHERE NOT dry_run DO NOTHING RETURNING id",
                (
                    job.id,
                    job.subject,
                    job.role,
                    job.agency,
                    job.key,
                    job.request.dry_run,
                    orjson.dumps(job.request.to_json()).decode(),
                    job.file.sha256,
                    job.filename,
                    job.media_type,
                ),
            ).fetchone()
            if inserted is not None:
                conn.execute(f"NOTIFY {CHANNEL}")
        if inserted is not None:
            created = self.get(job.id)
            assert created is not None
            return created, True
        first = self._one("j.subject = %s AND j.request_key = %s AND NOT j.dry_run", (job.subject, job.key))
        assert first is not None, "a conflicting job exists"
        return first, False

    def get(self, job_id: UUID) -> Job | None:
        return self._one("j.id = %s", (job_id,))

    def recent(self, agency: str | None, limit: int) -> list[Job]:
        where = "j.agency = %s" if agency is not None else "%s::text IS NULL"
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {_JOB_COLUMNS} FROM {_FROM_JOBS} WHERE {where} ORDER BY j.created_at DESC LIMIT %s",
                (agency, limit),
            ).fetchall()
        return [_job(row) for row in rows]

    def of_file(self, sha256: str) -> list[Job]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {_JOB_COLUMNS} FROM {_FROM_JOBS} WHERE j.file_sha256 = %s ORDER BY j.created_at", (sha256,)
            ).fetchall()
        return [_job(row) for row in rows]

    # ---- the worker's side --------------------------------------------------------------

    def _worker_connection(self) -> psycopg.Connection[TupleRow]:
        if self._worker is None or self._worker.closed or self._worker.broken:
            self._worker = connect(self.settings)
            self._worker.execute(f"LISTEN {CHANNEL}")
        return self._worker

    @contextmanager
    def claim(self) -> Iterator[Job | None]:
        with self._lock:
            lock_conn = self._worker_connection()
            with self.pool.connection() as conn:
                waiting = conn.execute(
                    "SELECT id, lock_key FROM import_jobs WHERE status IN ('queued', 'running')"
                    " ORDER BY created_at LIMIT 50"
                ).fetchall()
            claimed: Job | None = None
            held: int | None = None
            for job_id, lock_key in waiting:
                row = lock_conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (IMPORT_JOB_LOCK, lock_key)).fetchone()
                if not (row and row[0]):
                    continue  # another worker runs it
                with self.pool.connection() as conn:
                    updated = conn.execute(
                        "UPDATE import_jobs SET status = 'running', started_at = coalesce(started_at, now()),"
                        " attempts = attempts + 1 WHERE id = %s AND status IN ('queued', 'running') RETURNING id",
                        (job_id,),
                    ).fetchone()
                if updated is None:  # finished between the two statements
                    lock_conn.execute("SELECT pg_advisory_unlock(%s, %s)", (IMPORT_JOB_LOCK, lock_key))
                    continue
                claimed, held = self.get(job_id), lock_key
                break
        try:
            yield claimed
        finally:
            if held is not None and not lock_conn.closed:
                try:
                    lock_conn.execute("SELECT pg_advisory_unlock(%s, %s)", (IMPORT_JOB_LOCK, held))
                except psycopg.Error:
                    lock_conn.close()  # a broken connection has let go of its locks anyway

    def wait(self, seconds: float) -> None:
        conn = self._worker_connection()
        for _notice in conn.notifies(timeout=seconds, stop_after=1):
            pass

    def started(self, job_id: UUID, rows: int) -> None:
        with self.pool.connection() as conn:
            conn.execute("UPDATE import_jobs SET rows_total = %s WHERE id = %s", (rows, job_id))

    def record(self, job_id: UUID, batch: BatchResult | None, rejections: Sequence[Rejection], rows_done: int) -> None:
        found = [*rejections, *(batch.rejections if batch is not None else ())]
        with self.pool.connection() as conn, conn.transaction():
            if batch is not None:
                conn.execute(
                    "INSERT INTO import_job_batches (job_id, number, agency, period, submitted, corrected, unchanged,"
                    " rejected, position) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                    (
                        job_id,
                        batch.number,
                        batch.agency,
                        batch.period,
                        batch.submitted,
                        batch.corrected,
                        batch.unchanged,
                        len(batch.rejections),
                        batch.position,
                    ),
                )
            if found:
                conn.execute(
                    "INSERT INTO import_job_rejections (job_id, ordinal, location, code, message, agency, period,"
                    " indicator, stage) SELECT %s, * FROM unnest(%s::int[], %s::text[], %s::text[], %s::text[],"
                    " %s::text[], %s::text[], %s::text[], %s::text[]) ON CONFLICT DO NOTHING",
                    (
                        job_id,
                        [r.ordinal for r in found],
                        [r.location for r in found],
                        [r.code for r in found],
                        [r.message for r in found],
                        [r.agency for r in found],
                        [r.period for r in found],
                        [r.indicator for r in found],
                        [r.stage for r in found],
                    ),
                )
            conn.execute(
                "UPDATE import_jobs SET rows_done = greatest(rows_done, %s),"
                " batches_done = greatest(batches_done, %s) WHERE id = %s",
                (rows_done, 0 if batch is None else batch.number, job_id),
            )

    def tally(self, job_id: UUID) -> Tally:
        with self.pool.connection() as conn:
            sums = conn.execute(
                "SELECT coalesce(sum(submitted), 0), coalesce(sum(corrected), 0), coalesce(sum(unchanged), 0),"
                " max(position) FROM import_job_batches WHERE job_id = %s",
                (job_id,),
            ).fetchone()
            counts: dict[str, int] = dict(
                conn.execute(
                    "SELECT stage, count(*) FROM import_job_rejections WHERE job_id = %s GROUP BY stage", (job_id,)
                ).fetchall()
            )
        assert sums is not None
        return Tally(
            int(sums[0]),
            int(sums[1]),
            int(sums[2]),
            int(counts.get(READ, 0)),
            sum(n for stage, n in counts.items() if stage != READ),
            None if sums[3] is None else int(sums[3]),
        )

    def rejections(self, job_id: UUID, after: int, limit: int) -> list[Rejection]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT ordinal, location, code, message, agency, period, indicator, stage"
                " FROM import_job_rejections WHERE job_id = %s AND ordinal > %s ORDER BY ordinal LIMIT %s",
                (job_id, after, limit),
            ).fetchall()
        return [Rejection(*row) for row in rows]

    def batches_of(self, job_id: UUID) -> Iterator[BatchResult]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT number, agency, period, submitted, corrected, unchanged, position FROM import_job_batches"
                " WHERE job_id = %s ORDER BY number",
                (job_id,),
            ).fetchall()
        for number, agency, period, submitted, corrected, unchanged, position in rows:
            yield BatchResult(number, agency, period, submitted, corrected, unchanged, (), position)

    def finish(self, job_id: UUID, summary: Summary) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                "UPDATE import_jobs SET status = 'done', summary = %s::jsonb, finished_at = now(), error = NULL,"
                " rows_done = coalesce(rows_total, rows_done) WHERE id = %s",
                (orjson.dumps(summary.to_json()).decode(), job_id),
            )

    def fail(self, job_id: UUID, error: str) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                "UPDATE import_jobs SET status = 'failed', error = %s, finished_at = now() WHERE id = %s",
                (error, job_id),
            )

    def requeue(self, job_id: UUID) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                "UPDATE import_jobs SET status = 'queued', finished_at = NULL WHERE id = %s AND status = 'failed'",
                (job_id,),
            )
            conn.execute(f"NOTIFY {CHANNEL}")

    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()
            self._worker = None
