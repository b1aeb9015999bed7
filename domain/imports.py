"""Imports of files of values: the request, the job, its batches, its rejections and its summary.

Plain values: the write application runs imports (`services/ingest/application/imports/`), the
adapters keep jobs (`infra/import_store.py`), the pages and APIs show them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
READ = "read"
WRITE = "write"


class ImportFormat(StrEnum):
    WORKBOOK = "workbook"  # this system's template workbook for one agency and period
    CSV = "csv"  # this system's CSV
    DHIS2_JSON = "dhis2-json"
    DHIS2_CSV = "dhis2-csv"
    ADX = "adx"
    NATIONAL = "national-report-figures"  # the national feed's report-figures package

    @property
    def media_types(self) -> tuple[str, ...]:
        """The content types an upload of this format may declare (the first is the format's own)."""
        return _MEDIA_TYPES[self]

    @property
    def mapped(self) -> bool:
        """Codes go through a DHIS2 code mapping (and the summary exists in DHIS2's shape)."""
        return self in (ImportFormat.DHIS2_JSON, ImportFormat.DHIS2_CSV, ImportFormat.ADX)

    @classmethod
    def implied_by(cls, media_type: str) -> ImportFormat | None:
        """The format a content type stands for without `format=`: CSV is this system's; JSON is two formats."""
        return _IMPLIED.get(media_type)


_MEDIA_TYPES: Mapping[ImportFormat, tuple[str, ...]] = {
    ImportFormat.WORKBOOK: (XLSX_MEDIA_TYPE,),
    ImportFormat.CSV: ("text/csv", "application/csv"),
    ImportFormat.DHIS2_JSON: ("application/json",),
    ImportFormat.DHIS2_CSV: ("text/csv", "application/csv"),
    ImportFormat.ADX: ("application/adx+xml", "application/xml", "text/xml"),
    ImportFormat.NATIONAL: ("application/json",),
}


_IMPLIED: Mapping[str, ImportFormat] = {
    XLSX_MEDIA_TYPE: ImportFormat.WORKBOOK,
    "text/csv": ImportFormat.CSV,
    "application/csv": ImportFormat.CSV,
    "application/adx+xml": ImportFormat.ADX,
    "application/xml": ImportFormat.ADX,
    "text/xml": ImportFormat.ADX,
}


class Mode(StrEnum):
    ALL_OR_NOTHING = "all_or_nothing"  # one transaction: every value, or none when anything is rejected
    BEST_EFFORT = "best_effort"  # what is valid is stored, in batches; the rest is listed


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # an internal error, not the file's fault: the job can be run again

    @property
    def finished(self) -> bool:
        return self in (JobStatus.DONE, JobStatus.FAILED)


class Outcome(StrEnum):
    IMPORTED = "imported"  # every value stored or unchanged
    PARTLY_IMPORTED = "partly_imported"  # best effort: some values stored or unchanged, some rejected
    REFUSED = "refused"  # nothing stored: all or nothing with a rejection, or every value rejected
    EMPTY = "empty"  # the file holds no value and no error


@dataclass(frozen=True)
class StoredFile:
    """A file as the file store keeps it: named by the SHA-256 of its bytes."""

    sha256: str
    size: int

    @property
    def source(self) -> str:
        """What the events of its values name as their `source`."""
        return f"sha256:{self.sha256}"


@dataclass(frozen=True)
class ImportRequest:
    """What the uploader asked for; the agency is always the uploader's own (from the credential)."""

    format: ImportFormat
    mode: Mode = Mode.ALL_OR_NOTHING
    dry_run: bool = False
    period: str | None = None  # the upload's month: required for a workbook's checks, optional otherwise
    reason: str | None = None  # for corrections after the report was first submitted
    mapping: str | None = None  # the DHIS2 data set whose code mapping applies (default: the only one)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "format": str(self.format), "mode": str(self.mode)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ImportRequest:
        return cls(
            ImportFormat(data["format"]),
            Mode(data["mode"]),
            bool(data["dry_run"]),
            data.get("period"),
            data.get("reason"),
            data.get("mapping"),
        )

    def as_real(self) -> ImportRequest:
        """The same request, for real (after its dry run)."""
        return ImportRequest(self.format, self.mode, False, self.period, self.reason, self.mapping)


def request_key(subject: str, agency: str | None, file: StoredFile, request: ImportRequest) -> str:
    """The identity of an import: the same file with the same request by the same credential is the same import.

    Its batches' Idempotency-Keys derive from it, so a repeat (or a resumed job) stores nothing twice.
    """
    identity = {"subject": subject, "agency": agency, "file": file.sha256, **request.to_json()}
    canonical = json.dumps(identity, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Rejection:
    """A record of the file that was not stored, where it is, and why (`ordinal`: its place among the records)."""

    ordinal: int
    location: str
    code: str
    message: str
    agency: str | None = None
    period: str | None = None
    indicator: str | None = None
    stage: str = READ  # READ: the file could not be read there; WRITE: the write side refused the value

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Rejection:
        return cls(**{key: data.get(key) for key in cls.__dataclass_fields__})  # type: ignore[arg-type]


@dataclass(frozen=True)
class BatchResult:
    """What one batch (values of one agency and month) did, or would do in a dry run."""

    number: int
    agency: str
    period: str
    submitted: int
    corrected: int
    unchanged: int
    rejections: tuple[Rejection, ...] = ()
    position: int | None = None  # of its last stored event

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "rejections": [r.to_json() for r in self.rejections]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BatchResult:
        return cls(
            int(data["number"]),
            str(data["agency"]),
            str(data["period"]),
            int(data["submitted"]),
            int(data["corrected"]),
            int(data["unchanged"]),
            tuple(Rejection.from_json(r) for r in data["rejections"]),
            data.get("position"),
        )


@dataclass(frozen=True)
class Tally:
    """The sums over a job's recorded batches and rejections (what the summary is made of)."""

    submitted: int = 0
    corrected: int = 0
    unchanged: int = 0
    rejected_read: int = 0  # records the readers could not read (and a refusal of the file as a whole)
    rejected_write: int = 0  # values the write side refused
    position: int | None = None


@dataclass(frozen=True)
class Summary:
    """What an import did (or, for a dry run, would do), in exact counts.

    `values` + reader rejections = `rows`; `stored` + `unchanged` + write-side rejections + `not_imported`
    = `values`; `corrected` is counted within `stored`.
    """

    outcome: Outcome
    dry_run: bool
    rows: int
    values: int
    stored: int
    corrected: int
    unchanged: int
    rejected: int
    not_imported: int  # valid values left out because an all-or-nothing import was refused
    position: int | None = None  # of the last event stored: `min_position` for the reports API

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "outcome": str(self.outcome)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Summary:
        return cls(**{**data, "outcome": Outcome(data["outcome"])})


@dataclass(frozen=True)
class NewJob:
    id: UUID
    subject: str
    role: str
    agency: str | None
    request: ImportRequest
    file: StoredFile
    filename: str | None
    media_type: str
    key: str  # `request_key`; a dry run's is its own id (a dry run is never a repeat)


@dataclass(frozen=True)
class Job:
    """An import job as the job store holds it."""

    id: UUID
    subject: str
    role: str
    agency: str | None
    request: ImportRequest
    file: StoredFile
    filename: str | None
    media_type: str
    key: str
    status: JobStatus
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    attempts: int = 0
    rows_total: int | None = None
    rows_done: int = 0
    batches_done: int = 0
    summary: Summary | None = None
    error: str | None = None

    @property
    def progress(self) -> float | None:
        """Done, from 0 to 1; None while the file is being counted."""
        if self.status is JobStatus.DONE:
            return 1.0
        if not self.rows_total:
            return None if self.rows_total is None else 1.0
        return min(1.0, self.rows_done / self.rows_total)

    def to_json(self) -> dict[str, Any]:
        progress = self.progress
        return {
            "id": str(self.id),
            "status": str(self.status),
            "agency": self.agency,
            "subject": self.subject,
            **self.request.to_json(),
            "file": {"sha256": self.file.sha256, "size": self.file.size, "filename": self.filename},
            "media_type": self.media_type,
            "created_at": self.created_at.isoformat(),
            "started_at": None if self.started_at is None else self.started_at.isoformat(),
            "finished_at": None if self.finished_at is None else self.finished_at.isoformat(),
            "attempts": self.attempts,
            "progress": {
                "rows_done": self.rows_done,
                "rows_total": self.rows_total,
                "batches_done": self.batches_done,
                "fraction": None if progress is None else round(progress, 4),
            },
            "summary": None if self.summary is None else self.summary.to_json(),
            "error": self.error,
        }
