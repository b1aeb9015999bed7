"""Import semantics on the in-memory stores: dry runs, both modes, exact counts, repeats, resuming after a crash.

The e2e tests (tests/e2e/test_imports.py) do the same through the API on PostgreSQL, with a real
worker process killed halfway.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from typing import Any
from uuid import UUID

import openpyxl
import pytest

from domain.identity import Principal, Role
from domain.imports import BatchResult, ImportFormat, ImportRequest, Job, JobStatus, Mode, Outcome, Rejection
from domain.periods import Period
from domain.submission import submission_id
from entrypoints.bootstrap import in_memory_import_side, in_memory_write_side
from infra.memory_event_store import InMemoryEventStore
from infra.memory_import_store import MemoryJobStore
from services.ingest.application.commands import Action, ChangeStatus, EnterValues
from services.ingest.application.imports import engine
from services.ingest.application.imports.handlers import (
    Started,
    import_for_real,
    keep_file,
    start_import,
    template_csv,
    template_workbook,
)
from services.ingest.application.imports.side import ImportSide
from services.ingest.application.seed import load_seed
from services.ingest.application.submissions import change_status, enter_values
from services.interchange.mapping import CodeMapping
from services.interchange.workbook import DATA_SHEET, FIRST_ROW, INPUT_COLUMN
from tests.unit.interchange_support import fixture

TODAY = date(2026, 11, 20)
PERIOD = "2026-10"  # the fixtures' month, open on TODAY
P01 = Principal("agency_reporter:P01:test", Role.AGENCY_REPORTER, "P01")
REVIEWER = Principal("ministry_reviewer:test", Role.MINISTRY_REVIEWER)


class Clock:
    def today(self) -> date:
        return TODAY


@pytest.fixture
def side() -> ImportSide:
    ws = in_memory_write_side(clock=Clock())
    load_seed(ws)
    return in_memory_import_side(ws)


def store(side: ImportSide) -> InMemoryEventStore:
    assert isinstance(side.write.store, InMemoryEventStore)
    return side.write.store


def value_events(side: ImportSide, agency: str = "P01", period: str = PERIOD) -> list[Any]:
    events = store(side).application.events.get(submission_id(agency, period))
    return [e for e in events if type(e).__name__.startswith("IndicatorValue")]


def upload(
    side: ImportSide, data: bytes, request: ImportRequest, principal: Principal = P01, name: str = "tệp.csv"
) -> Started:
    file = keep_file(side, principal, io.BytesIO(data), len(data))
    return start_import(side, principal, file, request, filename=name, media_type="text/csv")


def run_all(side: ImportSide) -> None:
    while True:
        with side.jobs.claim() as job:
            if job is None:
                return
            engine.run(side, job)


def finished(side: ImportSide, job_id: UUID) -> Job:
    run_all(side)
    job = side.jobs.get(job_id)
    assert job is not None
    assert job.status is JobStatus.DONE, job.error
    assert job.summary is not None
    return job


def rejections(side: ImportSide, job_id: UUID) -> list[Rejection]:
    return side.jobs.rejections(job_id, -1, 10_000)


CSV = fixture("values.csv")
CSV_VALUES = 6  # one row of the fixture is blank: not entered, never 0


def test_a_csv_is_stored_value_by_value_and_names_its_file(side: ImportSide) -> None:
    started = upload(side, CSV, ImportRequest(ImportFormat.CSV, period=PERIOD))
    assert not started.repeated
    job = finished(side, started.job.id)
    summary = job.summary
    assert summary is not None
    assert (summary.outcome, summary.rows, summary.values) == (Outcome.IMPORTED, CSV_VALUES, CSV_VALUES)
    assert (summary.stored, summary.corrected, summary.unchanged, summary.rejected) == (CSV_VALUES, 0, 0, 0)
    events = value_events(side)
    assert len(events) == CSV_VALUES
    assert {e.source for e in events} == {job.file.source}
    assert job.file.source == "sha256:" + hashlib.sha256(CSV).hexdigest()
    assert {e.actor for e in events} == {P01.subject}
    assert summary.position == store(side).event_count()


def test_the_same_file_twice_changes_nothing_and_says_so(side: ImportSide) -> None:
    first = upload(side, CSV, ImportRequest(ImportFormat.CSV, period=PERIOD))
    finished(side, first.job.id)
    before = store(side).event_count()
    again = upload(side, CSV, ImportRequest(ImportFormat.CSV, period=PERIOD), name="lại.csv")
    assert again.repeated
    assert again.job.id == first.job.id
    run_all(side)
    assert store(side).event_count() == before
    # Another request for the same file is another import: everything is unchanged.
    other = upload(side, CSV, ImportRequest(ImportFormat.CSV, Mode.BEST_EFFORT, period=PERIOD))
    assert not other.repeated
    summary = finished(side, other.job.id).summary
    assert summary is not None
    assert (summary.stored, summary.unchanged) == (0, CSV_VALUES)
    assert store(side).event_count() == before


def test_a_dry_run_stores_nothing_and_then_imports_for_real(side: ImportSide) -> None:
    dry = upload(side, CSV, ImportRequest(ImportFormat.CSV, dry_run=True, period=PERIOD))
    summary = finished(side, dry.job.id).summary
    assert summary is not None
    assert summary.dry_run
    assert (summary.outcome, summary.stored, summary.position) == (Outcome.IMPORTED, CSV_VALUES, None)
    assert value_events(side) == []
    # A dry run is never a repeat: it runs again.
    assert not upload(side, CSV, ImportRequest(ImportFormat.CSV, dry_run=True, period=PERIOD)).repeated
    real = import_for_real(side, P01, dry.job.id)
    assert not real.job.request.dry_run
    assert finished(side, real.job.id).summary == summary.__class__(
        **{**summary.to_json(), "outcome": Outcome.IMPORTED, "dry_run": False, "position": store(side).event_count()}
    )
    assert len(value_events(side)) == CSV_VALUES


PARTLY = fixture("values_partly_invalid.csv")


def test_best_effort_stores_what_is_valid_and_lists_the_rest_by_row(side: ImportSide) -> None:
    started = upload(side, PARTLY, ImportRequest(ImportFormat.CSV, Mode.BEST_EFFORT))
    job = finished(side, started.job.id)
    summary = job.summary
    assert summary is not None
    found = rejections(side, job.id)
    by_row = {r.location: r.code for r in found}
    assert by_row["row 3"] == "duplicate-value"
    assert by_row["row 4"] == "invalid-period"
    assert by_row["row 5"] == "wrong-agency"  # "P 01" in P01's upload
    assert by_row["row 7"] == "out-of-range"
    assert by_row["row 8"] == "ambiguous-number"
    # P04's rows are another agency's: an agency's clerk enters only its own.
    assert [by_row[f"row {n}"] for n in (14, 15, 16, 17)] == ["wrong-agency"] * 4
    assert summary.outcome is Outcome.PARTLY_IMPORTED
    assert summary.rejected == len(found)
    assert summary.stored == len(value_events(side)) == summary.values - len([r for r in found if r.stage == "write"])
    assert summary.stored + summary.unchanged + summary.rejected == summary.rows
    assert summary.not_imported == 0


def test_all_or_nothing_stores_nothing_when_one_value_is_refused(side: ImportSide) -> None:
    started = upload(side, PARTLY, ImportRequest(ImportFormat.CSV))
    summary = finished(side, started.job.id).summary
    assert summary is not None
    assert summary.outcome is Outcome.REFUSED
    assert (summary.stored, summary.unchanged) == (0, 0)
    assert summary.not_imported == summary.values
    assert value_events(side) == []


def test_all_or_nothing_refuses_a_value_the_write_side_refuses_with_nothing_stored(side: ImportSide) -> None:
    # 2027-05 is a month, but not open yet on TODAY: the reader takes it, the write side refuses it.
    text = "agency,period,indicator,value\nP01,2026-10,TEL.MOBILE_SUBSCRIBERS,5\nP01,2027-05,TEL.MOBILE_SUBSCRIBERS,6\n"
    started = upload(side, text.encode(), ImportRequest(ImportFormat.CSV))
    job = finished(side, started.job.id)
    assert job.summary is not None
    assert (job.summary.outcome, job.summary.stored, job.summary.not_imported) == (Outcome.REFUSED, 0, 1)
    (refused,) = rejections(side, job.id)
    assert (refused.location, refused.code, refused.agency, refused.indicator) == (
        "row 3",
        "period-not-open",
        "P01",
        "TEL.MOBILE_SUBSCRIBERS",
    )
    assert value_events(side) == []


def complete(side: ImportSide) -> list[tuple[str, object]]:
    """Every required indicator, with values that pass every rule: zeros, false and "-"."""
    defaults: dict[str, object] = {"integer": 0, "decimal": "0", "percentage": "0", "boolean": False, "text": "-"}
    form = side.write.reference.form("UNIFIED-PROVINCIAL", Period.parse(PERIOD))
    return [(code, defaults[i.value_type]) for code, i in form.indicators.items() if i.required]


def test_a_locked_report_refuses_its_values_and_a_correction_needs_a_reason(side: ImportSide) -> None:
    ws = side.write
    required = complete(side)
    enter_values(ws, P01, EnterValues.of("P01", PERIOD, required))
    change_status(ws, P01, ChangeStatus("P01", PERIOD, Action.SUBMIT))
    locked = upload(side, CSV, ImportRequest(ImportFormat.CSV, Mode.BEST_EFFORT, period=PERIOD))
    job = finished(side, locked.job.id)
    assert {r.code for r in rejections(side, job.id)} == {"submission-locked"}
    assert job.summary is not None
    assert (job.summary.outcome, job.summary.rejected) == (Outcome.REFUSED, CSV_VALUES)
    change_status(ws, REVIEWER, ChangeStatus("P01", PERIOD, Action.RETURN, "Bổ sung số liệu"))
    # Returned: values may change, and after a first submission a correction needs a reason.
    integer = next(code for code, value in required if value == 0)
    corrections = f"indicator,value\n{integer},1\n".encode()
    without = upload(side, corrections, ImportRequest(ImportFormat.CSV, period=PERIOD))
    job = finished(side, without.job.id)
    assert [(r.code, r.indicator) for r in rejections(side, job.id)] == [("reason-required", integer)]
    with_reason = upload(side, corrections, ImportRequest(ImportFormat.CSV, period=PERIOD, reason="Số liệu mới"))
    summary = finished(side, with_reason.job.id).summary
    assert summary is not None
    assert (summary.stored, summary.corrected, summary.rejected) == (1, 1, 0)
    (correction,) = [e for e in value_events(side) if e.source is not None]
    assert (correction.previous_value, correction.value, correction.reason) == (0, 1, "Số liệu mới")


# ---- resuming after a crash ----------------------------------------------------------------------


class Crash(Exception):
    """What a SIGKILL does to a worker, here: it stops between two steps."""


class CrashingJobs(MemoryJobStore):
    """Stops the worker once, after `after` batches were recorded, or after one was saved but not recorded."""

    def __init__(self, after: int, before_recording: bool) -> None:
        super().__init__()
        self.after = after
        self.before_recording = before_recording
        self.crashed = False

    def record(self, job_id: UUID, batch: BatchResult | None, rejections: Sequence[Rejection], rows_done: int) -> None:
        if batch is not None and not self.crashed and batch.number == self.after + 1 and self.before_recording:
            self.crashed = True
            raise Crash
        super().record(job_id, batch, rejections, rows_done)
        if batch is not None and not self.crashed and batch.number == self.after:
            self.crashed = True
            raise Crash


def many_months(months: int) -> bytes:
    """One value for each of the form's integer indicators, in each of `months` months (five-column CSV)."""
    lines = ["agency,period,indicator,value"]
    month = Period.parse(PERIOD)
    for n in range(months):
        for code in ("TEL.MOBILE_SUBSCRIBERS", "POS.LETTERS", "POS.PARCELS"):
            lines.append(f"P01,{month.code},{code},{n + 1}")
        month = month.previous()
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("before_recording", [False, True], ids=["after-recording", "saved-not-recorded"])
def test_a_job_resumed_after_a_crash_stores_every_value_exactly_once(before_recording: bool) -> None:
    ws = in_memory_write_side(clock=Clock())
    load_seed(ws)
    jobs = CrashingJobs(after=4, before_recording=before_recording)
    side = ImportSide(ws, in_memory_import_side(ws).files, jobs, in_memory_import_side(ws).mappings, batch_size=3)
    data = many_months(12)
    started = upload(side, data, ImportRequest(ImportFormat.CSV, Mode.BEST_EFFORT))
    with side.jobs.claim() as job:
        assert job is not None
        with pytest.raises(Crash):
            engine.run(side, job)
    crashed = side.jobs.get(started.job.id)
    assert crashed is not None
    assert crashed.status is JobStatus.RUNNING
    assert crashed.batches_done == 4  # batch 5 was saved, or not even that, but not recorded
    job = finished(side, started.job.id)
    assert job.attempts == 2
    assert job.summary is not None
    assert (job.summary.stored, job.summary.rejected, job.summary.values) == (36, 0, 36)
    stored: list[tuple[str, str]] = []
    month = Period.parse(PERIOD)
    for _ in range(12):
        stored += [(month.code, e.indicator) for e in value_events(side, period=month.code)]
        month = month.previous()
    assert len(stored) == len(set(stored)) == 36


def test_an_all_or_nothing_import_past_its_limit_is_refused_whole() -> None:
    ws = in_memory_write_side(clock=Clock())
    load_seed(ws)
    side = in_memory_import_side(ws, max_atomic_values=10)
    started = upload(side, many_months(4), ImportRequest(ImportFormat.CSV))
    job = finished(side, started.job.id)
    assert [r.code for r in rejections(side, job.id)] == ["too-many-values"]
    assert job.summary is not None
    assert (job.summary.outcome, job.summary.stored, job.summary.not_imported) == (Outcome.REFUSED, 0, 12)


# ---- workbooks ---------------------------------------------------------------------------------


def fill(workbook: bytes, values: dict[str, object]) -> bytes:
    """A person filling the template in a spreadsheet program (openpyxl stands in for it)."""
    book = openpyxl.load_workbook(io.BytesIO(workbook))
    sheet = book[DATA_SHEET]
    for row in sheet.iter_rows(min_row=FIRST_ROW + 1):
        code = row[1].value
        if code in values:
            row[INPUT_COLUMN].value = values[code]
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_workbook_round_trip_with_errors_by_cell(side: ImportSide) -> None:
    template = template_workbook(side, P01, "P01", PERIOD, prefill=False)
    assert isinstance(template.content, bytes)
    filled = fill(template.content, {"TEL.MOBILE_SUBSCRIBERS": 8450123, "TEL.HOUSEHOLDS_FIBRE_PCT": 101})
    dry = upload(side, filled, ImportRequest(ImportFormat.WORKBOOK, dry_run=True, period=PERIOD), name="bm.xlsx")
    job = finished(side, dry.job.id)
    (error,) = rejections(side, job.id)
    assert error.code == "out-of-range"
    assert error.location.startswith(f"Sheet '{DATA_SHEET}', cell H")
    assert error.indicator == "TEL.HOUSEHOLDS_FIBRE_PCT"
    fixed = fill(template.content, {"TEL.MOBILE_SUBSCRIBERS": 8450123, "TEL.HOUSEHOLDS_FIBRE_PCT": 93.5})
    real = upload(side, fixed, ImportRequest(ImportFormat.WORKBOOK, period=PERIOD), name="bm.xlsx")
    summary = finished(side, real.job.id).summary
    assert summary is not None
    assert (summary.outcome, summary.stored) == (Outcome.IMPORTED, 2)
    # Downloaded again, the workbook shows the values; uploaded again as it is, it changes nothing.
    again = template_workbook(side, P01, "P01", PERIOD, prefill=True)
    assert isinstance(again.content, bytes)
    unchanged = upload(side, again.content, ImportRequest(ImportFormat.WORKBOOK, period=PERIOD), name="lai.xlsx")
    summary = finished(side, unchanged.job.id).summary
    assert summary is not None
    assert (summary.stored, summary.unchanged) == (0, 2)
    csv = template_csv(side, P01, "P01", PERIOD)
    assert not isinstance(csv.content, bytes)
    text = b"".join(csv.content).decode("utf-8-sig")
    assert "P01,2026-10,TEL.MOBILE_SUBSCRIBERS,8450123," in text
    assert "\r\nP01,2026-10,POS.LETTERS,," in text


def test_a_workbook_of_another_month_is_refused_whole(side: ImportSide) -> None:
    other = template_workbook(side, P01, "P01", "2026-09", prefill=False)
    assert isinstance(other.content, bytes)
    filled = fill(other.content, {"TEL.MOBILE_SUBSCRIBERS": 1})
    started = upload(side, filled, ImportRequest(ImportFormat.WORKBOOK, period=PERIOD), name="bm.xlsx")
    job = finished(side, started.job.id)
    (refusal,) = rejections(side, job.id)
    assert (refusal.location, refusal.code) == ("workbook", "wrong-period")
    assert job.summary is not None
    assert job.summary.outcome is Outcome.REFUSED


def test_a_workbook_of_another_template_is_refused_whole(side: ImportSide) -> None:
    """A ministry unit's workbook uploaded by a provincial department: another form altogether."""
    unit = template_workbook(side, REVIEWER, "MIC-VNTA", PERIOD, prefill=False)
    assert isinstance(unit.content, bytes)
    started = upload(side, unit.content, ImportRequest(ImportFormat.WORKBOOK, period=PERIOD), name="bm.xlsx")
    job = finished(side, started.job.id)
    assert [(r.location, r.code) for r in rejections(side, job.id)] == [("workbook", "wrong-template")]
    assert value_events(side) == []


def test_a_partly_invalid_dhis2_document_through_its_mapping(side: ImportSide) -> None:
    mapping = CodeMapping.from_json(fixture("dhis2_mapping.json"))
    mapped = replace(side, mappings={**side.mappings, mapping.data_set: mapping})
    data = fixture("dhis2_partly_invalid.json")
    request = ImportRequest(ImportFormat.DHIS2_JSON, Mode.BEST_EFFORT, mapping=mapping.data_set)
    job = finished(mapped, upload(mapped, data, request).job.id)
    found = {r.location: r.code for r in rejections(mapped, job.id)}
    assert found["dataValues[1]"] == "unmapped-data-element"
    assert found["dataValues[2]"] == "unmapped-org-unit"
    assert found["dataValues[3]"] == "unsupported-period"
    assert found["dataValues[4]"] == "out-of-range"
    assert found["dataValues[13]"] == "not-allowed"  # Cao Bằng's value, in Hà Nội's upload
    assert job.summary is not None
    assert job.summary.stored == len(value_events(side)) == job.summary.values - 1
    assert job.summary.stored + job.summary.rejected == job.summary.rows
    summary = engine.dhis2_summary(mapped, job)
    assert summary["importCount"]["imported"] == job.summary.stored
    assert summary["importCount"]["ignored"] == job.summary.rejected
    assert len(summary["conflicts"]) == job.summary.rejected
