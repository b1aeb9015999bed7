"""Imports over the API: upload a file of values, follow its job, read its summary and rejections, and
download the files to fill in (the template workbook and this system's CSV of an agency's month).

An upload is the raw body with its content type (or `multipart/form-data` with a `file` part).
It is written to a temporary file as it arrives (never held in memory), kept content-addressed,
and imported by a job (`reporting import-worker`). `wait_ms` waits for the job to finish: a small
file's answer then holds its summary at once (200); otherwise 202 with the job to follow.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from tempfile import SpooledTemporaryFile
from typing import Annotated, Any, Literal
from urllib.parse import quote
from uuid import UUID

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse
from starlette.datastructures import UploadFile

from domain.errors import DomainError, ErrorKind, NotFound
from domain.identity import Principal
from domain.imports import ImportFormat, ImportRequest, Job, Mode
from services.http.auth import AgencyReporter, Reader, require_agency_access
from services.http.limits import PageLimit
from services.ingest.application.imports import handlers as handle
from services.ingest.application.imports.engine import dhis2_summary
from services.ingest.application.imports.side import ImportSide

router = APIRouter(tags=["imports"])

MAX_WAIT_MS = 10_000
SPOOL_BYTES = 1 << 20  # in memory up to this, on disk past it
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class FormatRequired(DomainError):
    code = "format-required"


class ImportNotFinished(DomainError):
    code = "import-not-finished"
    kind = ErrorKind.CONFLICT
    retry_after = 1


async def _imports(request: Request) -> ImportSide:
    side: ImportSide = request.app.state.imports
    return side


Imports = Annotated[ImportSide, Depends(_imports)]
Sha256 = Annotated[str, Path(pattern="^[0-9a-f]{64}$", description="the file's SHA-256, as events name it")]


def _media_type(value: str | None) -> str:
    return (value or "application/octet-stream").split(";")[0].strip().lower()


def _format(fmt: ImportFormat | None, media_type: str) -> ImportFormat:
    if fmt is not None:
        return fmt
    implied = ImportFormat.implied_by(media_type)
    if implied is None:
        names = ", ".join(kind.value for kind in ImportFormat)
        raise FormatRequired(f"say which format the file is in (format=): {names}")
    return implied


async def _spool(request: Request) -> tuple[SpooledTemporaryFile[bytes], int, str, str | None]:
    """The uploaded file in a temporary file: (file, size, media type, file name)."""
    media_type = _media_type(request.headers.get("content-type"))
    spooled = SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - closed by the caller
    if media_type == "multipart/form-data":
        form = await request.form(max_files=1, max_fields=5)
        part = form.get("file")
        if not isinstance(part, UploadFile):
            spooled.close()
            raise FormatRequired("a multipart upload carries the file in a part named 'file'")
        while chunk := await part.read(SPOOL_BYTES):
            spooled.write(chunk)
        await form.close()
        return spooled, spooled.tell(), _media_type(part.content_type), part.filename
    async for chunk in request.stream():
        spooled.write(chunk)
    return spooled, spooled.tell(), media_type, None


class UploadQuery:
    """What an upload asks for besides its file."""

    def __init__(
        self,
        fmt: Annotated[ImportFormat | None, Query(alias="format", description="default: from the content type")] = None,
        period: Annotated[
            str | None, Query(max_length=7, description="the month (YYYY-MM) of a one-agency file")
        ] = None,
        mode: Annotated[Mode, Query()] = Mode.ALL_OR_NOTHING,
        dry_run: Annotated[bool, Query(description="check and count, store nothing")] = False,
        reason: Annotated[str | None, Query(max_length=2000, description="for corrections after a submission")] = None,
        mapping: Annotated[str | None, Query(max_length=100, description="the DHIS2 data set of the mapping")] = None,
        wait_ms: Annotated[int, Query(ge=0, le=MAX_WAIT_MS, description="wait this long for the job's end")] = 0,
        filename: Annotated[str | None, Query(max_length=255, description="the file's name, shown with it")] = None,
    ) -> None:
        self.format = fmt
        self.period = period
        self.mode = mode
        self.dry_run = dry_run
        self.reason = reason
        self.mapping = mapping
        self.wait_ms = wait_ms
        self.filename = filename


UploadQueries = Annotated[UploadQuery, Depends()]


def job_json(job: Job, **extra: Any) -> dict[str, Any]:
    return {
        **job.to_json(),
        **extra,
        "links": {
            "self": f"/imports/{job.id}",
            "rejections": f"/imports/{job.id}/rejections",
            "file": f"/imports/files/{job.file.sha256}",
        },
    }


@router.post(
    "/imports",
    status_code=202,
    responses={200: {"description": "the job finished within wait_ms (or a repeat of a finished import)"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "the file, as the raw body with its content type, or multipart/form-data (part `file`)",
            "content": {
                XLSX: {"schema": {"type": "string", "format": "binary"}},
                "text/csv": {"schema": {"type": "string", "format": "binary"}},
                "application/adx+xml": {"schema": {"type": "string", "format": "binary"}},
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                        "additionalProperties": False,
                    }
                },
            },
        }
    },
)
async def upload(request: Request, principal: AgencyReporter, side: Imports, query: UploadQueries) -> Response:
    """Upload a workbook, this system's CSV, a DHIS2 dataValueSet (JSON or CSV), ADX or a national-feed
    report-figures package, and import it as a job: all or nothing, or best effort; `dry_run` counts
    and checks without storing. The same file with the same request again is the same import: it
    answers the first job (`repeated`) and stores nothing."""
    spooled, size, media_type, filename = await _spool(request)
    try:
        kind = _format(query.format, media_type)
        file = await run_in_threadpool(handle.keep_file, side, principal, spooled, size)
    finally:
        spooled.close()
    started = await run_in_threadpool(
        handle.start_import,
        side,
        principal,
        file,
        ImportRequest(kind, query.mode, query.dry_run, query.period, query.reason, query.mapping),
        filename=filename or query.filename,
        media_type=media_type,
    )
    job = started.job
    deadline = time.monotonic() + query.wait_ms / 1000
    while not job.status.finished and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        job = await run_in_threadpool(handle.find_job, side, job.id)
    body = job_json(job, repeated=started.repeated)
    headers = {"Location": f"/imports/{job.id}"}
    return _json(body, 200 if job.status.finished else 202, headers)


def _json(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


def _readable_job(side: ImportSide, principal: Principal, job_id: UUID) -> Job:
    job = handle.find_job(side, job_id)
    require_agency_access(principal, job.agency or "", write=False)
    return job


@router.get("/imports/{job}")
def read_job(
    job_id: Annotated[UUID, Path(alias="job", description="the import job's id")],
    principal: Reader,
    side: Imports,
    shape: Annotated[Literal["ours", "dhis2"], Query(description="dhis2: DHIS2's ImportSummary")] = "ours",
) -> dict[str, Any]:
    """An import job: its status, its progress (records done of the file's total) and, once done, its summary."""
    job = _readable_job(side, principal, job_id)
    if shape == "dhis2":
        if job.summary is None:
            raise ImportNotFinished(f"import {job.id} is {job.status}: its summary comes when it is done")
        return dhis2_summary(side, job)
    return job_json(job)


@router.get("/imports/{job}/rejections")
def job_rejections(
    job_id: Annotated[UUID, Path(alias="job", description="the import job's id")],
    principal: Reader,
    side: Imports,
    limit: PageLimit,
    after: Annotated[int, Query(ge=-1, description="keyset: the last ordinal of the previous page")] = -1,
) -> dict[str, Any]:
    """What the import did not store, in file order: where (cell, row, element), the indicator, why."""
    job = _readable_job(side, principal, job_id)
    page = side.jobs.rejections(job.id, after, limit)
    return {
        "job": str(job.id),
        "rejections": [rejection.to_json() for rejection in page],
        "next_after": page[-1].ordinal if len(page) == limit else None,
    }


def _file_jobs(side: ImportSide, principal: Principal, sha256: str) -> list[Job]:
    """The jobs that read a kept file, as far as the caller may see them (an agency: its own)."""
    every = side.jobs.of_file(sha256)
    if not every:
        raise NotFound(f"no file {sha256}")
    jobs = [job for job in every if job.agency and principal.can_read_agency(job.agency)]
    if not jobs:
        require_agency_access(principal, every[0].agency or "", write=False)
    return jobs


@router.get("/imports/files/{sha256}")
def read_file(sha256: Sha256, principal: Reader, side: Imports) -> dict[str, Any]:
    """A kept file by its SHA-256 (as imported events name it in `source`), and every import that read it."""
    jobs = _file_jobs(side, principal, sha256)
    return {
        "sha256": sha256,
        "source": jobs[0].file.source,
        "size": jobs[0].file.size,
        "imports": [job_json(job) for job in jobs],
        "content": f"/imports/files/{sha256}/content",
    }


@router.get("/imports/files/{sha256}/content", response_class=StreamingResponse)
def file_content(sha256: Sha256, principal: Reader, side: Imports) -> StreamingResponse:
    """The kept file itself, byte for byte as it was uploaded."""
    first = _file_jobs(side, principal, sha256)[0]
    stream = side.files.open(sha256)

    def chunks() -> Iterator[bytes]:
        with stream:
            while chunk := stream.read(1 << 20):
                yield chunk

    name = first.filename or sha256
    return StreamingResponse(
        chunks(),
        media_type=first.media_type,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name, safe='')}"},
    )


@router.get("/agencies/{agency}/periods/{period}/template.xlsx", response_class=Response)
def template_workbook(
    agency: str,
    period: str,
    principal: Reader,
    side: Imports,
    prefill: Annotated[bool, Query(description="the values so far in the input cells too")] = False,
) -> Response:
    """The template workbook of the agency's form for the month, with the values recorded so far."""
    require_agency_access(principal, agency, write=False)
    download = handle.template_workbook(side, principal, agency, period, prefill=prefill)
    assert isinstance(download.content, bytes)
    return Response(
        download.content,
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{download.filename}"'},
    )


@router.get("/agencies/{agency}/periods/{period}/values.csv", response_class=StreamingResponse)
def values_csv(agency: str, period: str, principal: Reader, side: Imports) -> StreamingResponse:
    """This system's CSV of the agency's month: every indicator of its form, with its value so far or blank."""
    require_agency_access(principal, agency, write=False)
    download = handle.template_csv(side, principal, agency, period)
    content = [download.content] if isinstance(download.content, bytes) else download.content
    return StreamingResponse(
        iter(content),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{download.filename}"'},
    )
