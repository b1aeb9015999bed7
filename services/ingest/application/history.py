"""The agency's own history, for outlier warnings: its values of the previous periods, from the event store.

The domain compares (`domain.outliers`); this module only loads. One look-up tells which of
the previous periods' submissions exist and at which version; a submission already loaded at
that version is reused from a small cache, any other is read from the store. So the usual cost
on the write path is one indexed query, whatever the number of months looked at.
"""

from __future__ import annotations

import threading
from uuid import UUID

from domain.periods import MIN_YEAR, Period
from domain.submission import Submission, submission_id
from domain.values import Value
from services.ingest.application.ports import EventStore

HISTORY_MONTHS = 6
CACHE_SIZE = 20_000


class SubmissionHistory:
    """`ValueHistory` read from the event store."""

    def __init__(self, store: EventStore, months: int = HISTORY_MONTHS) -> None:
        self.store = store
        self.months = months
        self._lock = threading.Lock()
        self._values: dict[UUID, tuple[int, dict[str, Value]]] = {}

    def previous_values(self, agency: str, period: Period) -> dict[str, list[Value]]:
        """Per indicator, the agency's values of the `months` periods before `period`, most recent first."""
        ids = self.previous_ids(agency, period)
        versions = self.store.versions(ids)
        history: dict[str, list[Value]] = {}
        for aggregate_id in ids:  # most recent first
            version = versions.get(aggregate_id)
            if version is None:
                continue
            for code, value in self._values_at(aggregate_id, version).items():
                history.setdefault(code, []).append(value)
        return history

    def previous_ids(self, agency: str, period: Period) -> list[UUID]:
        """The agency's submissions of the `months` periods before `period`, most recent first."""
        ids = []
        for _ in range(self.months):
            if period.year == MIN_YEAR and period.number == 1:
                break  # nothing is reported before the first supported month
            period = period.previous()
            ids.append(submission_id(agency, period.code))
        return ids

    def _values_at(self, aggregate_id: UUID, version: int) -> dict[str, Value]:
        cached = self._values.get(aggregate_id)
        if cached is not None and cached[0] >= version:
            return cached[1]
        submission = self.store.get(aggregate_id, read_only=True)
        if not isinstance(submission, Submission):
            return {}
        values = {code: entry.value for code, entry in submission.values.items()}
        with self._lock:
            if len(self._values) >= CACHE_SIZE:
                self._values.clear()
            self._values[aggregate_id] = (submission.version, values)
        return values
