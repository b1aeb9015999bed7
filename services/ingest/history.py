"""The agency's own history, for outlier warnings: its values of the previous periods, from the event store.

The domain compares (`domain.outliers`); this module only loads. One query
tells which of the previous periods' submissions exist and at which version;
a submission already loaded at that version is reused from a small cache, any
other is loaded through the repository. So the usual cost on the write path is
one indexed query, whatever the number of months looked at.
"""

from __future__ import annotations

import threading
from uuid import UUID

import psycopg
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool

from domain.periods import Period
from domain.submission import Submission, submission_id
from domain.values import Value
from infra.event_store import EVENTS_TABLE, ReportingApplication

HISTORY_MONTHS = 6
CACHE_SIZE = 20_000

History = dict[str, list[Value]]


class SubmissionHistory:
    def __init__(
        self,
        app: ReportingApplication,
        pool: ConnectionPool[psycopg.Connection[TupleRow]],
        months: int = HISTORY_MONTHS,
    ) -> None:
        self.app = app
        self.pool = pool
        self.months = months
        self._lock = threading.Lock()
        self._values: dict[UUID, tuple[int, dict[str, Value]]] = {}

    def previous_values(self, agency: str, period: Period) -> History:
        """Per indicator, the agency's values of the `months` periods before `period`, most recent first."""
        ids = []
        for _ in range(self.months):
            period = period.previous()
            ids.append(submission_id(agency, period.code))
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT originator_id, max(originator_version) FROM {EVENTS_TABLE}"
                " WHERE originator_id = ANY(%s) GROUP BY originator_id",
                (ids,),
            ).fetchall()
        versions = {UUID(str(row[0])): int(row[1]) for row in rows}
        history: History = {}
        for aggregate_id in ids:  # most recent first
            version = versions.get(aggregate_id)
            if version is None:
                continue
            for code, value in self._values_at(aggregate_id, version).items():
                history.setdefault(code, []).append(value)
        return history

    def _values_at(self, aggregate_id: UUID, version: int) -> dict[str, Value]:
        cached = self._values.get(aggregate_id)
        if cached is not None and cached[0] >= version:
            return cached[1]
        submission: object = self.app.repository.get(aggregate_id, deepcopy_from_cache=False)
        if not isinstance(submission, Submission):
            return {}
        values = {code: entry.value for code, entry in submission.values.items()}
        with self._lock:
            if len(self._values) >= CACHE_SIZE:
                self._values.clear()
            self._values[aggregate_id] = (submission.version, values)
        return values
