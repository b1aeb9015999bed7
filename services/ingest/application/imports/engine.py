"""Running an import job: read the kept file, enter its values through the write side, count exactly.

- The progress bar's total is counted first, cheaply (a CSV's lines); the counts of the summary
  are those of the import's own reading of the file.
- Values are grouped per agency and month into batches of at most `batch_size` (what the JSON API
  takes in one request); when `max_buffered` values wait in open groups, every group is written.
  The grouping depends on the file alone, so a resumed job cuts the same batches.
- Best effort: each batch is one save with its own Idempotency-Key, derived from the import's key
  and the batch number, stored with its events (or alone when it stored nothing). After a crash
  the job is read again from the start: batches recorded before are skipped (the cursor), a
  batch saved but not recorded finds its stored answer. No value is stored twice, none is lost.
- All or nothing: one transaction for every value (`EventStore.save_all`), or none when anything
  is rejected; at most `max_atomic_values` values.
- A dry run does the same on copies of the aggregates and saves nothing.
Every value an import stores is an ordinary event whose `source` is the file's SHA-256.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import orjson
from eventsourcing.persistence import IntegrityError

from domain.catalogue import Indicator
from domain.errors import BatchRejected, DomainError, Forbidden, NotFound, ReasonRequired, SubmissionLocked
from domain.identity import Principal, Role
from domain.imports import (
    WRITE,
    BatchResult,
    ImportFormat,
    Job,
    Mode,
    Outcome,
    Rejection,
    Summary,
)
from domain.submission import EntryResult, Submission
from domain.values import value_to_json
from services.ingest.application.errors import InvalidPeriodError, PeriodNotOpen
from services.ingest.application.execute import MAX_ATTEMPTS, execute, replayed
from services.ingest.application.idempotency import Idempotency
from services.ingest.application.imports.side import ImportSide
from services.ingest.application.outcomes import Outcome as Answer
from services.ingest.application.ports import PendingAnswer
from services.ingest.application.submissions import entry_form, submission_for_entry, submission_form
from services.interchange.adx import read_adx
from services.interchange.csv_values import read_csv
from services.interchange.dhis2 import import_summary, read_dhis2_csv, read_dhis2_json
from services.interchange.qcvn125 import read_report_figures
from services.interchange.rows import ERROR_CODES, ImportCounts, Row, SourceError, SourceValue
from services.interchange.workbook import WorkbookRefused, read_workbook, read_workbook_metadata

log = logging.getLogger("reporting.imports")

# The write side's refusals of a whole batch, as the rejection code of each of its values.
REFUSALS: dict[type[DomainError], str] = {
    SubmissionLocked: "submission-locked",
    PeriodNotOpen: "period-not-open",
    InvalidPeriodError: "invalid-period",
    ReasonRequired: "reason-required",
    NotFound: "unknown-agency",
    Forbidden: "not-allowed",
}
# The domain's reasons for one value (domain.errors.ValueRejection) that the interchange codes name otherwise.
VALUE_REASONS = {"duplicate-indicator": "duplicate-value"}
RECORD_EVERY = 1000  # readers' rejections are recorded at least this often


def refusal_code(error: DomainError) -> str | None:
    for kind, code in REFUSALS.items():
        if isinstance(error, kind):
            return code
    return None


# ---- reading ----------------------------------------------------------------------------


def principal_of(job: Job) -> Principal:
    """The uploader, as the events of the import record them."""
    return Principal(job.subject, Role(job.role), job.agency)


def read_rows(side: ImportSide, job: Job) -> Iterator[Row]:
    """The records of the job's file, as its format's reader gives them (a generator where the format streams)."""
    ws = side.write
    request = job.request
    principal = principal_of(job)
    try:
        if request.format is ImportFormat.WORKBOOK:
            yield from _workbook_rows(side, job, principal)
            return
        stream = side.files.open(job.file.sha256)
        catalogue = ws.reference.catalogue().indicators
        match request.format:
            case ImportFormat.CSV:
                # One agency's month: its form's indicators; several months: the catalogue's (the
                # write side then refuses an indicator that is not on that month's form).
                indicators: Mapping[str, Indicator] = catalogue
                if request.period is not None and job.agency is not None:
                    indicators = entry_form(ws, principal, job.agency, request.period).indicators
                yield from read_csv(stream, indicators, agency=job.agency, period=request.period)
            case ImportFormat.DHIS2_JSON:
                yield from read_dhis2_json(stream, side.mapping(request.mapping), catalogue)
            case ImportFormat.DHIS2_CSV:
                yield from read_dhis2_csv(stream, side.mapping(request.mapping), catalogue)
            case ImportFormat.ADX:
                yield from read_adx(stream, side.mapping(request.mapping), catalogue)
            case ImportFormat.NATIONAL:
                yield from read_report_figures(stream, catalogue, ws.electronic_codes.codes())
    except DomainError as error:
        # The month, the agency or the mapping cannot be used any more: the file as a whole is refused.
        yield SourceError("document", refusal_code(error) or "invalid-value", error.detail, fatal=True)


def _workbook_rows(side: ImportSide, job: Job, principal: Principal) -> Iterator[Row]:
    data = side.files.open(job.file.sha256).read()  # one form: small, and the zip needs all of it
    period = job.request.period
    if period is None:
        try:
            period = read_workbook_metadata(data).period
        except WorkbookRefused as refusal:
            yield refusal.error
            return
    if job.agency is None:
        yield SourceError("workbook", "not-allowed", "a workbook is uploaded by the agency it is for", fatal=True)
        return
    form = entry_form(side.write, principal, job.agency, period)
    yield from read_workbook(data, form=form, agency=job.agency, period=period).rows


class Counted:
    """The records of a file as they are read, counted: the summary's exact `rows` and `values`."""

    def __init__(self, rows: Iterator[Row]) -> None:
        self._rows = rows
        self.rows = 0
        self.values = 0

    def __iter__(self) -> Iterator[Row]:
        for row in self._rows:
            self.rows += 1
            self.values += isinstance(row, SourceValue)
            yield row


def estimate(side: ImportSide, job: Job) -> int:
    """How many records the file holds, for the progress bar: its lines for CSV (cheap: no parsing), the
    records themselves for the formats read whole anyway (JSON, workbooks) or rarely large (ADX)."""
    if job.request.format in (ImportFormat.CSV, ImportFormat.DHIS2_CSV):
        lines = 0
        last = b"\n"
        with side.files.open(job.file.sha256) as stream:
            while chunk := stream.read(1 << 20):
                lines += chunk.count(b"\n")
                last = chunk[-1:]
        return max(0, lines - 1 + (last != b"\n"))  # less the header; a last line without its end counts
    counted = Counted(read_rows(side, job))
    for _ in counted:
        pass
    return counted.rows


# ---- batches ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Batch:
    number: int  # from 1, in the order batches are cut
    agency: str
    period: str
    entries: tuple[tuple[int, SourceValue], ...]  # (the record's ordinal, the value)
    rows_done: int  # records read when it was cut

    def fingerprint(self, key: str) -> bytes:
        body = [key, self.number, self.agency, self.period, [[o, v.indicator, str(v.value)] for o, v in self.entries]]
        return hashlib.sha256(orjson.dumps(body)).digest()


@dataclass(frozen=True)
class Unread:
    ordinal: int
    error: SourceError


def unread_rejection(item: Unread) -> Rejection:
    error = item.error
    return Rejection(item.ordinal, error.location, error.code, error.message, indicator=error.indicator)


def batch_body(result: BatchResult) -> bytes:
    """A batch's stored Idempotency-Key answer: what a resumed job finds instead of storing it again."""
    return orjson.dumps(result.to_json())


def batch_of(body: bytes) -> BatchResult:
    return BatchResult.from_json(orjson.loads(body))


def cut(rows: Iterable[Row], size: int, max_buffered: int) -> Iterator[Batch | Unread]:
    """The file's values as batches per agency and month, and what could not be read, in a fixed order."""
    groups: dict[tuple[str, str], list[tuple[int, SourceValue]]] = {}
    buffered = 0
    number = 0
    ordinal = -1
    for ordinal, row in enumerate(rows):
        if isinstance(row, SourceError):
            yield Unread(ordinal, row)
            continue
        key = (row.agency, row.period)
        group = groups.setdefault(key, [])
        group.append((ordinal, row))
        buffered += 1
        if len(group) >= size:
            number += 1
            yield Batch(number, *key, tuple(groups.pop(key)), ordinal + 1)
            buffered -= size
        elif buffered >= max_buffered:
            for (agency, period), entries in groups.items():
                number += 1
                yield Batch(number, agency, period, tuple(entries), ordinal + 1)
            groups.clear()
            buffered = 0
    for (agency, period), entries in groups.items():
        number += 1
        yield Batch(number, agency, period, tuple(entries), ordinal + 1)


# ---- one batch through the write side -------------------------------------------------------


def _rejection(ordinal: int, value: SourceValue, code: str, message: str) -> Rejection:
    return Rejection(ordinal, value.location, code, message, value.agency, value.period, value.indicator, WRITE)


def _refused(entries: Sequence[tuple[int, SourceValue]], code: str, message: str) -> list[Rejection]:
    return [_rejection(ordinal, value, code, message) for ordinal, value in entries]


def _value_rejections(error: BatchRejected, entries: Sequence[tuple[int, SourceValue]]) -> list[Rejection]:
    """The values the domain refused (the others are tried again without them)."""
    bad = {}
    for item in error.rejections:
        code = VALUE_REASONS.get(item.reason, item.reason)
        bad[item.index] = code if code in ERROR_CODES else "invalid-value", item.detail
    return [_rejection(ordinal, value, *bad[index]) for index, (ordinal, value) in enumerate(entries) if index in bad]


@dataclass(frozen=True)
class _Entered(Answer):
    """The answer stored for a batch: its result (rendered once its events have positions)."""

    result: BatchResult

    def body(self) -> bytes:
        return batch_body(self.result)


def _result(batch: Batch, done: EntryResult, rejections: Sequence[Rejection], position: int | None) -> BatchResult:
    return BatchResult(
        batch.number,
        batch.agency,
        batch.period,
        len(done.submitted),
        len(done.corrected),
        len(done.unchanged),
        tuple(sorted(rejections, key=lambda r: r.ordinal)),
        position,
    )


def _enter(
    side: ImportSide, job: Job, principal: Principal, submission: Submission, entries: Sequence[tuple[int, SourceValue]]
) -> EntryResult:
    # The values as the JSON API takes them (decimals as strings): the domain checks them again, the same way.
    pairs = [(value.indicator, value_to_json(value.value)) for _, value in entries]
    form = submission_form(side.write, submission)
    return submission.enter_values(pairs, form, principal, job.request.reason, source=job.file.source)


def _not_allowed(job: Job, batch: Batch, entries: Sequence[tuple[int, SourceValue]]) -> list[Rejection] | None:
    principal = principal_of(job)
    if principal.can_write_agency(batch.agency):
        return None
    message = f"values of {batch.agency}: {principal.agency or 'this account'} enters only its own agency's"
    return _refused(entries, "not-allowed", message)


def _attempt(
    side: ImportSide, job: Job, batch: Batch, entries: Sequence[tuple[int, SourceValue]]
) -> tuple[Submission | None, EntryResult, list[Rejection]]:
    """Enter `entries` on a fresh copy of the batch's report: (the changed report, what it did), or why not."""
    refused = _not_allowed(job, batch, entries)
    if refused is not None:
        return None, EntryResult(), refused
    try:
        submission = submission_for_entry(side.write, principal_of(job), batch.agency, batch.period)
        return submission, _enter(side, job, principal_of(job), submission, entries), []
    except DomainError as error:
        return None, EntryResult(), _refusals(error, entries)


def _refusals(error: DomainError, entries: Sequence[tuple[int, SourceValue]]) -> list[Rejection]:
    """The values a refusal of the write side rejects (raised again when it is not about the values)."""
    if isinstance(error, BatchRejected):
        return _value_rejections(error, entries)
    code = refusal_code(error)
    if code is None:
        raise error
    return _refused(entries, code, error.detail)


def settle(side: ImportSide, job: Job, batch: Batch, *, save: bool) -> BatchResult:
    """Enter one batch (or, with `save` False, see what entering it would do): its exact result.

    A value the write side refuses is listed and the rest tried again without it; a refusal of the
    whole batch (a locked report, a month not open, another agency) lists each of its values.
    """
    side.alive()
    ws = side.write
    principal = principal_of(job)
    key = Idempotency(principal.subject, f"import:{job.key[:48]}:{batch.number}", batch.fingerprint(job.key))
    if save and (first := replayed(ws.store, key)) is not None:
        return batch_of(first.body())
    rejected: list[Rejection] = []
    entries = list(batch.entries)
    while entries:
        if not save:
            submission, done, refused = _attempt(side, job, batch, entries)
            if submission is not None:
                return _result(batch, done, rejected, None)
        elif (refused_here := _not_allowed(job, batch, entries)) is not None:
            refused = refused_here
        else:
            trying = list(entries)

            def change(report: Submission, trying: list[tuple[int, SourceValue]] = trying) -> EntryResult:
                return _enter(side, job, principal, report, trying)

            def answer(
                _: Submission, done: EntryResult, positions: Sequence[int], so_far: list[Rejection] = rejected
            ) -> _Entered:
                return _Entered(_result(batch, done, so_far, max(positions) if positions else None))

            try:
                outcome = execute(
                    ws.store,
                    lambda: submission_for_entry(ws, principal, batch.agency, batch.period),
                    change,
                    answer,
                    idempotency=key,
                )
            except DomainError as error:
                refused = _refusals(error, entries)
            else:
                return batch_of(outcome.body())
        rejected += refused
        gone = {r.ordinal for r in refused}
        entries = [entry for entry in entries if entry[0] not in gone]
    result = _result(batch, EntryResult(), rejected, None)
    if save:
        # Nothing was stored: the answer alone, so that a resumed job finds this batch settled.
        ws.store.store_answer(key.subject, key.key, key.fingerprint, batch_body(result))
        first = replayed(ws.store, key)
        return result if first is None else batch_of(first.body())
    return result


# ---- the two modes --------------------------------------------------------------------------


def _best_effort(side: ImportSide, job: Job, rows: Iterable[Row]) -> None:
    save = not job.request.dry_run
    unread: list[Rejection] = []
    for item in cut(rows, side.batch_size, side.max_buffered):
        if isinstance(item, Unread):
            unread.append(unread_rejection(item))
            if len(unread) >= RECORD_EVERY:
                side.jobs.record(job.id, None, unread, item.ordinal + 1)
                unread = []
            continue
        if item.number <= job.batches_done:
            continue  # recorded before this job was resumed
        result = settle(side, job, item, save=save)
        side.jobs.record(job.id, result, unread, item.rows_done)
        unread = []
    side.jobs.record(job.id, None, unread, job.rows_total or 0)


@dataclass(frozen=True)
class _Atomic(Answer):
    results: tuple[BatchResult, ...]

    def body(self) -> bytes:
        return orjson.dumps([result.to_json() for result in self.results])


Planned = list[tuple[Batch, EntryResult, int]]  # each batch, what it does, how many events it stores


def _all_or_nothing(side: ImportSide, job: Job, rows: Iterable[Row]) -> bool:
    """One transaction for every value, or nothing; False when the import is refused."""
    total = job.rows_total or 0
    unread: list[Rejection] = []
    batches: list[Batch] = []
    values = 0
    # One batch per agency and month: the transaction holds them all anyway.
    for item in cut(rows, side.max_atomic_values + 1, side.max_atomic_values + 1):
        if isinstance(item, Unread):
            unread.append(unread_rejection(item))
            continue
        values += len(item.entries)
        # Past the limit the values are only counted, not kept: memory stays bounded.
        if values <= side.max_atomic_values:
            batches.append(item)
    if values > side.max_atomic_values:
        refusal = Rejection(
            total,
            "document",
            "too-many-values",
            f"{values} values; an all-or-nothing import holds at most {side.max_atomic_values}:"
            " import it best-effort (mode=best_effort) or split the file",
        )
        side.jobs.record(job.id, None, [*unread, refusal], total)
        return False
    if unread:
        side.jobs.record(job.id, None, unread, total)
        return False
    results, rejected = _atomically(side, job, batches)
    if rejected:
        side.jobs.record(job.id, None, rejected, total)
        return False
    for result in results:
        side.jobs.record(job.id, result, (), total)
    return True


def _atomically(side: ImportSide, job: Job, batches: Sequence[Batch]) -> tuple[list[BatchResult], list[Rejection]]:
    """Every batch entered and saved in one transaction (once: a retry finds its answer); or the rejections."""
    ws = side.write
    save = not job.request.dry_run
    principal = principal_of(job)
    key = Idempotency(principal.subject, f"import:{job.key[:48]}:all", hashlib.sha256(job.key.encode()).digest())
    for _attempt_number in range(MAX_ATTEMPTS):
        if save and (first := replayed(ws.store, key)) is not None:
            return [BatchResult.from_json(item) for item in orjson.loads(first.body())], []
        planned: Planned = []
        changed: list[Submission] = []
        rejected: list[Rejection] = []
        for batch in batches:
            submission, done, refused = _attempt(side, job, batch, batch.entries)
            if submission is None:
                rejected += refused
                continue
            planned.append((batch, done, len(submission.pending_events)))
            if submission.pending_events:
                changed.append(submission)
        if rejected:
            return [], sorted(rejected, key=lambda r: r.ordinal)
        if not save:
            return list(_positioned(planned, ())), []

        def render(positions: Sequence[int], planned: Planned = planned) -> bytes:
            return _Atomic(tuple(_positioned(planned, positions))).body()

        if not changed:
            ws.store.store_answer(key.subject, key.key, key.fingerprint, render(()))
            continue  # read back the first answer (a concurrent twin may have answered first)
        try:
            positions = ws.store.save_all(changed, PendingAnswer(key.subject, key.key, key.fingerprint, render))
        except IntegrityError:
            continue  # another writer changed one of these reports meanwhile: again, on fresh state
        return list(_positioned(planned, positions)), []
    raise DomainError("too many concurrent writers changed these reports; run the import again")


def _positioned(planned: Planned, positions: Sequence[int]) -> Iterator[BatchResult]:
    """Each batch's result with the position of its last event (events are saved in batch order)."""
    offset = 0
    for batch, done, events in planned:
        last = positions[offset + events - 1] if events and positions else None
        offset += events
        yield _result(batch, done, (), last)


# ---- a job, start to end ------------------------------------------------------------------


def run(side: ImportSide, job: Job) -> Summary:
    """Run (or resume) a claimed job to its end; its summary."""
    if job.rows_total is None:
        rows = estimate(side, job)
        side.jobs.started(job.id, rows)
        job = replace(job, rows_total=rows)
    counted = Counted(read_rows(side, job))  # read whole even when resumed: the counts are exact
    if job.request.mode is Mode.ALL_OR_NOTHING:
        accepted = _all_or_nothing(side, job, counted)
    else:
        _best_effort(side, job, counted)
        accepted = True
    summary = summarize(side, job, counted, refused=not accepted)
    side.jobs.finish(job.id, summary)
    return summary


def summarize(side: ImportSide, job: Job, counted: Counted, *, refused: bool) -> Summary:
    tally = side.jobs.tally(job.id)
    values = counted.values
    stored = tally.submitted + tally.corrected
    rejected = tally.rejected_read + tally.rejected_write
    not_imported = max(0, values - stored - tally.unchanged - tally.rejected_write)
    if refused:
        outcome = Outcome.REFUSED
    elif values == 0 and rejected == 0:
        outcome = Outcome.EMPTY
    elif rejected == 0:
        outcome = Outcome.IMPORTED
    elif stored + tally.unchanged > 0:
        outcome = Outcome.PARTLY_IMPORTED
    else:
        outcome = Outcome.REFUSED
    return Summary(
        outcome,
        job.request.dry_run,
        counted.rows,
        values,
        stored,
        tally.corrected,
        tally.unchanged,
        rejected,
        not_imported,
        tally.position,
    )


# ---- the summary in DHIS2's shape -----------------------------------------------------------------

MAX_CONFLICTS = 10_000


def dhis2_summary(side: ImportSide, job: Job) -> dict[str, Any]:
    """A finished job's summary as DHIS2's ImportSummary (each rejection a conflict, at most MAX_CONFLICTS)."""
    summary = job.summary
    assert summary is not None, "a finished job"
    counts = ImportCounts(summary.stored, summary.unchanged, summary.rejected, summary.corrected)
    errors = [
        SourceError(r.location, r.code, r.message, indicator=r.indicator)
        for r in side.jobs.rejections(job.id, -1, MAX_CONFLICTS)
    ]
    return import_summary(counts, errors)


# ---- the worker ----------------------------------------------------------------------------


def work(
    side: ImportSide, stop: threading.Event, unavailable: tuple[type[Exception], ...] = (), idle: float = 1.0
) -> None:
    """Run jobs one after the other until `stop`: queued ones, and those a dead worker left running.

    `unavailable` are the adapters' "database not answering" errors: the job is left as it is (it
    resumes once the database is back); any other error fails the job with its message.
    """
    while not stop.is_set():
        side.alive()
        try:
            with side.jobs.claim() as job:
                if job is None:
                    side.jobs.wait(idle)
                    continue
                log.info("import %s: %s of %s (%s)", job.id, job.request.format, job.file.sha256[:12], job.status)
                try:
                    summary = run(side, job)
                except unavailable:
                    raise
                except Exception as error:
                    log.exception("import %s failed", job.id)
                    side.jobs.fail(job.id, f"{type(error).__name__}: {error}"[:2000])
                else:
                    log.info("import %s: %s", job.id, summary.to_json())
        except unavailable as error:
            log.warning("the database is not answering; imports resume once it is back: %s", error)
            stop.wait(1.0)
