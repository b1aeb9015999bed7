"""Importing a file of values: download the template, upload with a dry-run preview, import for real, follow the job.

`/agencies/{agency}/periods/{period}/import` is the page of one agency's month (the data-entry form
links to it); `/imports/{job}` follows one import, its progress live (htmx polls its status
fragment) and, once done, its summary and every rejection by sheet and cell (or row). Uploads go
through the same handlers as the API's: a dry run first, then the same file for real.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Form, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from domain.errors import DomainError
from domain.identity import Role
from domain.imports import ImportFormat, ImportRequest, Job, Mode, Rejection
from domain.periods import Period, PeriodKind, period_for_date
from services.ingest.application.access import Person
from services.ingest.application.imports import handlers as handle
from services.ingest.application.imports.side import ImportSide
from services.ingest.application.submissions import entry_period
from services.interchange.rows import ERROR_CODES
from services.readmodels.errors import NotYetVisible
from services.readmodels.freshness import Freshness
from services.readmodels.report_view.rows import ReportValue
from services.web.i18n import Formats, nfc
from services.web.navigation import NavEntry
from services.web.people import PageForbidden, require
from services.web.templating import gettext, language_of, render
from services.web.web_side import WebSide, web_side

router = APIRouter(include_in_schema=False)
NAV = (NavEntry("Import from a file", "/import", frozenset({Role.AGENCY_REPORTER}), order=30),)

Clerk = Annotated[Person, Depends(require(Role.AGENCY_REPORTER))]
Reader = Annotated[Person, Depends(require(*Role))]
Web = Annotated[WebSide, Depends(web_side)]

MONTHS_SHOWN = 12  # the months a clerk can pick on the page: the current one and those before
RECENT_JOBS = 10
POLL = "every 1s"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# What a file's name says it is (the clerk may choose otherwise).
BY_EXTENSION = {".xlsx": ImportFormat.WORKBOOK, ".csv": ImportFormat.CSV, ".xml": ImportFormat.ADX}
FORMAT_LABELS = {
    ImportFormat.WORKBOOK: "Template workbook (Excel)",
    ImportFormat.CSV: "CSV file of this system",
    ImportFormat.DHIS2_JSON: "DHIS2 data values (JSON)",
    ImportFormat.DHIS2_CSV: "DHIS2 data values (CSV)",
    ImportFormat.ADX: "ADX (XML)",
    ImportFormat.NATIONAL: "National reporting system: report figures (JSON)",
}
_SHEET_CELL = re.compile(r"Sheet '(?P<sheet>.+)', cell (?P<cell>[A-Z]+[0-9]+)")
_ROW = re.compile(r"row (?P<row>[0-9]+)(?: \(line (?P<line>[0-9]+)\))?")


def imports_of(web: WebSide) -> ImportSide:
    return web.imports


# ---- the page of an agency's month ---------------------------------------------------------


@dataclass(frozen=True)
class Shown:
    """A rejection as the page lists it: where (sheet and cell, or row), the indicator, why."""

    sheet: str
    place: str
    indicator: str
    reason: str
    detail: str


def shown(request: Request, rejection: Rejection) -> Shown:
    location = rejection.location
    if match := _SHEET_CELL.fullmatch(location):
        sheet, place = match["sheet"], gettext(request, "cell %(cell)s") % {"cell": match["cell"]}
    elif match := _ROW.fullmatch(location):
        sheet, place = "", gettext(request, "row %(row)s") % {"row": match["row"]}
    elif location in ("document", "workbook"):
        sheet, place = "", gettext(request, "the whole file")
    else:
        sheet, place = "", location
    meaning = ERROR_CODES.get(rejection.code, rejection.code)
    return Shown(sheet, place, rejection.indicator or "", gettext(request, meaning), rejection.message)


@dataclass(frozen=True)
class Recorded:
    """A value of the month as the page shows it, in the reader's number format."""

    indicator: str
    name: str
    value: str
    revision: int
    recorded_at: datetime


def _recorded(request: Request, web: WebSide, value: ReportValue) -> Recorded:
    info = web.read.reference.snapshot().indicators.get(value.indicator)
    formats = Formats(language_of(request))
    raw = value.value
    if isinstance(raw, bool):
        text = gettext(request, "Yes") if raw else gettext(request, "No")
    elif info is not None and info.value_type.is_numeric and raw is not None:
        text = formats.number(raw if isinstance(raw, int) else str(raw))
    else:
        text = "" if raw is None else str(raw)
    return Recorded(value.indicator, info.name_vi if info else "", text, value.revision, value.recorded_at)


def _months(web: WebSide) -> list[Period]:
    month = period_for_date(web.write.clock.today(), PeriodKind.MONTH)
    months = []
    for _ in range(MONTHS_SHOWN):
        months.append(month)
        month = month.previous()
    return months


def _own(person: Person, agency: str) -> None:
    if not person.principal.can_write_agency(agency):
        raise PageForbidden("an agency's values are imported by its own clerks")


def _page_context(
    request: Request, web: WebSide, person: Person, agency: str, period: str, min_position: int | None
) -> dict[str, Any]:
    write = web.write
    registered = write.reference.agency(agency)
    month = entry_period(write, registered, period)
    start, end = month.cutoff_window()
    try:
        report = web.read.report_view.report(agency, month.code, Freshness(min_position, 5000 if min_position else 0))
        values = [_recorded(request, web, value) for value in report.values]
    except NotYetVisible:
        values = []
    return {
        "agency": agency,
        "agency_name": registered.name_on(start).name_vi,
        "period": month.code,
        "window": (start, end),
        "months": [m.code for m in _months(web)],
        "formats": [(kind.value, gettext(request, FORMAT_LABELS[kind])) for kind in ImportFormat],
        "modes": [
            (Mode.ALL_OR_NOTHING.value, gettext(request, "All or nothing: nothing is stored if any value is refused")),
            (Mode.BEST_EFFORT.value, gettext(request, "Best effort: store what is valid, list the rest")),
        ],
        "jobs": [_listed(request, job) for job in imports_of(web).jobs.recent(agency, RECENT_JOBS)],
        "values": values,
        "errors": {},
        "chosen": {"format": "", "mode": Mode.ALL_OR_NOTHING.value, "reason": ""},
    }


@router.get("/import")
async def my_import(person: Clerk, web: Web) -> Response:
    """The clerk's own agency, this month."""
    month = _months(web)[0]
    return RedirectResponse(f"/agencies/{person.principal.agency}/periods/{month.code}/import", status_code=303)


@router.get("/agencies/{agency}/periods/{period}/import")
async def import_page(
    request: Request,
    agency: str,
    period: str,
    person: Clerk,
    web: Web,
    min_position: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    _own(person, agency)
    return render(request, "imports/import.html", _page_context(request, web, person, agency, period, min_position))


def _format_of(chosen: str, filename: str) -> ImportFormat | None:
    if chosen:
        try:
            return ImportFormat(chosen)
        except ValueError:
            return None
    for extension, kind in BY_EXTENSION.items():
        if filename.lower().endswith(extension):
            return kind
    return None


@router.post("/agencies/{agency}/periods/{period}/import")
async def upload(
    request: Request,
    agency: str,
    period: str,
    person: Clerk,
    web: Web,
    file: UploadFile | None = None,
    file_format: Annotated[str, Form(alias="format", max_length=40)] = "",
    mode: Annotated[str, Form(max_length=20)] = Mode.ALL_OR_NOTHING.value,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Keep the file and check it (a dry run): the job page shows what an import would do."""
    _own(person, agency)
    side = imports_of(web)
    errors: dict[str, str] = {}
    name = nfc(file.filename or "") if file is not None else ""
    kind = _format_of(file_format, name)
    if file is None or not name:
        errors["file"] = gettext(request, "Choose the file to import.")
    elif file.size is not None and file.size > side.max_upload_bytes:
        errors["file"] = gettext(request, "The file is larger than %(size)s MB.") % {
            "size": side.max_upload_bytes // (1 << 20)
        }
    elif file.size == 0:
        errors["file"] = gettext(request, "The file is empty.")
    if kind is None and "file" not in errors:
        errors["format"] = gettext(request, "Say which kind of file this is.")
    if mode not in {m.value for m in Mode}:
        errors["mode"] = gettext(request, "Choose how to import.")
    if not errors and file is not None and kind is not None:
        try:
            kept = handle.keep_file(side, person.principal, file.file, file.size or 0)
            request_body = ImportRequest(kind, Mode(mode), True, period, nfc(reason).strip() or None)
            started = handle.start_import(
                side, person.principal, kept, request_body, filename=name, media_type=file.content_type or XLSX
            )
        except DomainError as error:
            errors["file"] = error.detail
        else:
            return RedirectResponse(f"/imports/{started.job.id}", status_code=303)
    context = _page_context(request, web, person, agency, period, None)
    context["errors"] = errors
    context["chosen"] = {"format": file_format, "mode": mode, "reason": reason}
    return render(request, "imports/import.html", context, status_code=422)


@router.get("/agencies/{agency}/periods/{period}/import/template.xlsx")
async def template_download(agency: str, period: str, person: Reader, web: Web) -> Response:
    download = handle.template_workbook(imports_of(web), person.principal, agency, period, prefill=False)
    assert isinstance(download.content, bytes)
    return Response(
        download.content,
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{download.filename}"'},
    )


@router.get("/agencies/{agency}/periods/{period}/import/values.csv")
async def csv_download(agency: str, period: str, person: Reader, web: Web) -> Response:
    download = handle.template_csv(imports_of(web), person.principal, agency, period)
    content = [download.content] if isinstance(download.content, bytes) else download.content
    return StreamingResponse(
        iter(content),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{download.filename}"'},
    )


# ---- one import ------------------------------------------------------------------------------

STATUS_LABELS = {
    "queued": "Waiting to start",
    "running": "Reading and checking the file",
    "done": "Done",
    "failed": "Stopped by an error",
}
OUTCOME_LABELS = {
    "imported": "Every value was stored or was already the same.",
    "partly_imported": "The valid values were stored; the others are listed below.",
    "refused": "Nothing was stored: the values below were refused.",
    "empty": "The file holds no value.",
}
DRY_OUTCOME_LABELS = {
    "imported": "Every value can be imported.",
    "partly_imported": "The valid values can be imported; the others are listed below.",
    "refused": "Nothing would be stored: correct the values below and upload the file again.",
    "empty": "The file holds no value.",
}


@dataclass(frozen=True)
class Listed:
    """A job in a list: its link and what it is, in words."""

    job: Job
    kind: str
    state: str


def _state(request: Request, job: Job) -> str:
    if job.summary is not None:
        labels = DRY_OUTCOME_LABELS if job.request.dry_run else OUTCOME_LABELS
        return gettext(request, labels[job.summary.outcome.value])
    return gettext(request, STATUS_LABELS[job.status.value])


def _listed(request: Request, job: Job) -> Listed:
    kind = gettext(request, "Check (dry run)") if job.request.dry_run else gettext(request, "Import")
    return Listed(job, kind, _state(request, job))


def _job(web: WebSide, person: Person, job_id: UUID) -> Job:
    job = handle.find_job(imports_of(web), job_id)
    if not person.principal.can_read_agency(job.agency or ""):
        raise PageForbidden("this import is another agency's")
    return job


def _job_context(request: Request, web: WebSide, person: Person, job: Job) -> dict[str, Any]:
    side = imports_of(web)
    rejections = [shown(request, r) for r in side.jobs.rejections(job.id, -1, 1000)] if job.summary else []
    real = None
    if job.request.dry_run and job.summary is not None:
        # The import for real of this dry run, if it was started already (the same request, not a dry run).
        found = [j for j in side.jobs.of_file(job.file.sha256) if j.subject == job.subject and not j.request.dry_run]
        real = next((j for j in found if j.request == job.request.as_real()), None)
    period = job.request.period
    progress = job.progress
    return {
        "job": job,
        "state": _state(request, job),
        "status_label": gettext(request, STATUS_LABELS[job.status.value]),
        "percent": None if progress is None else round(progress * 100),
        "mode_label": gettext(request, "All or nothing")
        if job.request.mode is Mode.ALL_OR_NOTHING
        else gettext(request, "Best effort"),
        "format_label": gettext(request, FORMAT_LABELS[job.request.format]),
        "rejections": rejections,
        "more_rejections": job.summary is not None and job.summary.rejected > len(rejections),
        "can_import": person.principal.can_write_agency(job.agency or "")
        and job.request.dry_run
        and job.summary is not None
        and job.summary.stored + job.summary.unchanged > 0
        and job.summary.outcome.value != "refused",
        "real": real,
        "report_link": None
        if period is None or job.agency is None
        else f"/agencies/{job.agency}/periods/{period}/import"
        + (f"?min_position={job.summary.position}" if job.summary and job.summary.position else ""),
        "poll": POLL,
    }


@router.get("/imports/{job_id}")
async def job_page(request: Request, job_id: UUID, person: Reader, web: Web) -> Response:
    job = _job(web, person, job_id)
    return render(request, "imports/job.html", _job_context(request, web, person, job))


@router.get("/imports/{job_id}/status")
async def job_status(request: Request, job_id: UUID, person: Reader, web: Web) -> Response:
    """The live part of the job page; once the job is done, the whole page again (it shows the summary)."""
    job = _job(web, person, job_id)
    if job.status.finished:
        return Response(status_code=200, headers={"HX-Redirect": f"/imports/{job.id}"})
    return render(request, "imports/_status.html", _job_context(request, web, person, job))


@router.post("/imports/{job_id}/import")
async def import_for_real(job_id: UUID, person: Clerk, web: Web) -> Response:
    """After the dry run: the same file and choices, for real."""
    started = handle.import_for_real(imports_of(web), person.principal, job_id)
    return RedirectResponse(f"/imports/{started.job.id}", status_code=303)


@router.post("/imports/{job_id}/retry")
async def retry(job_id: UUID, person: Clerk, web: Web) -> Response:
    job = handle.retry(imports_of(web), person.principal, job_id)
    return RedirectResponse(f"/imports/{job.id}", status_code=303)
