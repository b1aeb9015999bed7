"""Handlers of imports: keep an uploaded file, start (or find again) its import, and the files to fill in.

Who imports: an agency's reporter, for its own agency (as the JSON API: values are entered by the
agency itself). The request is checked before a job is queued (month, mapping, reason), so a
refusal is an immediate 4xx; what the file holds is the job's business.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from domain.errors import DomainError, ErrorKind, Forbidden, NotFound
from domain.identity import Principal, Role
from domain.imports import (
    ImportRequest,
    Job,
    JobStatus,
    NewJob,
    StoredFile,
    request_key,
)
from domain.periods import Period
from domain.submission import clean_reason
from services.ingest.application.imports.side import ImportSide
from services.ingest.application.submissions import entry_period, submission_for_entry, submission_form
from services.interchange.csv_values import write_csv
from services.interchange.rows import ListedIndicator
from services.interchange.workbook import write_workbook

MAX_FILENAME = 255


class FileTooLarge(DomainError):
    """An upload past the configured size (MAX_UPLOAD_BYTES)."""

    code = "file-too-large"
    kind = ErrorKind.TOO_LARGE


class EmptyFile(DomainError):
    code = "empty-file"


@dataclass(frozen=True)
class Started:
    """The job of an upload; `repeated`: the same file with the same request was imported before (that job)."""

    job: Job
    repeated: bool

    def to_json(self) -> dict[str, object]:
        return {**self.job.to_json(), "repeated": self.repeated}


def _uploader(principal: Principal) -> str:
    if principal.role is not Role.AGENCY_REPORTER or principal.agency is None:
        raise Forbidden("values are imported by the agency they belong to, with its own account or token")
    return principal.agency


def keep_file(side: ImportSide, principal: Principal, stream: IO[bytes], size: int) -> StoredFile:
    """Keep an uploaded file (a seekable stream of `size` bytes), once per content."""
    _uploader(principal)
    if size > side.max_upload_bytes:
        raise FileTooLarge(f"the file is {size} bytes; an upload is at most {side.max_upload_bytes}")
    if size == 0:
        raise EmptyFile("the file is empty")
    stream.seek(0)
    return side.files.put(stream, principal.subject)


def start_import(
    side: ImportSide,
    principal: Principal,
    file: StoredFile,
    request: ImportRequest,
    *,
    filename: str | None,
    media_type: str,
) -> Started:
    """Queue the import of a kept file, or find the import of the same file and request made before."""
    agency = _uploader(principal)
    ws = side.write
    if request.period is not None:
        entry_period(ws, ws.reference.agency(agency), request.period)  # a month open to the agency, or refused
    if request.format.mapped:
        side.mapping(request.mapping)
    reason = clean_reason(request.reason)
    request = ImportRequest(request.format, request.mode, request.dry_run, request.period, reason, request.mapping)
    job_id = uuid.uuid4()
    key = job_id.hex if request.dry_run else request_key(principal.subject, agency, file, request)
    new = NewJob(
        job_id,
        principal.subject,
        str(principal.role),
        agency,
        request,
        file,
        (filename or "")[:MAX_FILENAME] or None,
        media_type,
        key,
    )
    job, created = side.jobs.create(new)
    if not created and job.status is JobStatus.FAILED:
        side.jobs.requeue(job.id)  # a repeat of an import that failed (not the file's fault): run it again
        job = find_job(side, job.id)
    return Started(job, repeated=not created)


def import_for_real(side: ImportSide, principal: Principal, job_id: uuid.UUID) -> Started:
    """After a dry run: the same file and request, for real."""
    dry = find_job(side, job_id)
    if not dry.request.dry_run:
        raise Forbidden("this import was not a dry run")
    if dry.agency != principal.agency:
        raise Forbidden("a dry run of another agency")
    return start_import(
        side, principal, dry.file, dry.request.as_real(), filename=dry.filename, media_type=dry.media_type
    )


def retry(side: ImportSide, principal: Principal, job_id: uuid.UUID) -> Job:
    """Run a failed job again (it resumes where it stopped)."""
    job = find_job(side, job_id)
    if job.agency != principal.agency or principal.role is not Role.AGENCY_REPORTER:
        raise Forbidden("only the agency that started an import runs it again")
    if job.status is JobStatus.FAILED:
        side.jobs.requeue(job.id)
    return find_job(side, job.id)


def find_job(side: ImportSide, job_id: uuid.UUID) -> Job:
    job = side.jobs.get(job_id)
    if job is None:
        raise NotFound(f"no import {job_id}")
    return job


# ---- files to fill in -------------------------------------------------------------------------


@dataclass(frozen=True)
class Download:
    content: bytes | Iterator[bytes]
    filename: str


def _reporting(side: ImportSide, principal: Principal, agency: str, period: str) -> tuple[str, str]:
    ws = side.write
    if not principal.can_read_agency(agency):
        raise Forbidden(f"agency {agency} is not yours")
    month = entry_period(ws, ws.reference.agency(agency), period)
    return agency, month.code


def template_workbook(side: ImportSide, principal: Principal, agency: str, period: str, *, prefill: bool) -> Download:
    """The template workbook of the agency's form for the month, with the values recorded so far."""
    ws = side.write
    agency, period = _reporting(side, principal, agency, period)
    # A reader's principal never opens anything: the submission is only read (a new one is not saved).
    submission = submission_for_entry(ws, _as_agency(principal, agency), agency, period)
    form = submission_form(ws, submission)
    start, _ = Period.parse(period).cutoff_window()
    content = write_workbook(
        form,
        agency=agency,
        period=period,
        current={code: entry.value for code, entry in submission.values.items()},
        agency_name=ws.reference.agency(agency).name_on(start).name_vi,
        template_name=ws.reference.template(form.template).name_vi,
        prefill=prefill,
    )
    return Download(content, f"bieu-mau-{agency}-{period}.xlsx")


def template_csv(side: ImportSide, principal: Principal, agency: str, period: str) -> Download:
    """This system's CSV of the agency's form for the month: every indicator, with its value so far or blank."""
    ws = side.write
    agency, period = _reporting(side, principal, agency, period)
    submission = submission_for_entry(ws, _as_agency(principal, agency), agency, period)
    form = submission_form(ws, submission)
    rows = [
        ListedIndicator(agency, period, code, entry.value if (entry := submission.values.get(code)) else None)
        for code in form.indicators
    ]
    return Download(write_csv(rows, with_agency_period=True), f"so-lieu-{agency}-{period}.csv")


def _as_agency(principal: Principal, agency: str) -> Principal:
    """Who a new (unsaved) submission would be opened by: only its agency and period matter here."""
    if principal.can_write_agency(agency):
        return principal
    return Principal(principal.subject, Role.AGENCY_REPORTER, agency)
