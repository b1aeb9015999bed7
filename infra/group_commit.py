"""Group commit: the writes of concurrent callers in one transaction, each caller answered with its own outcome.

The first caller to find no write in flight becomes the leader: it takes every waiting request (up to
a limit) and writes them at once; the others wait, and whoever is still waiting when the write ends
leads the next one. No thread of its own, no timer: a lone caller writes at once, and callers that
arrive while a transaction is being written share the next one. Each caller gets back what the
write gave for its request — its result or its error — only once the whole write has returned.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class _Pending:
    """Marks a request not yet written."""


PENDING = _Pending()


@dataclass
class _Entry(Generic[T, R]):
    request: T
    size: int
    outcome: R | BaseException | _Pending = field(default=PENDING)


class GroupCommit(Generic[T, R]):
    """Batches concurrent `submit` calls into calls of `write`.

    `write` gets the requests of one group in arrival order and returns one outcome per request: a
    result, or the exception that request must raise (the others are not failed by it). An
    exception raised by `write` itself is every request's outcome. `size` weighs a request (e.g. its
    number of events); a group holds at most `max_requests` requests and, past its first request,
    at most `max_size` of that weight. `written` is told the size of each group written.
    """

    def __init__(
        self,
        write: Callable[[Sequence[T]], Sequence[R | BaseException]],
        *,
        written: Callable[[int], None] = lambda _requests: None,
        size: Callable[[T], int] = lambda _request: 1,
        max_requests: int = 64,
        max_size: int = 20_000,
    ) -> None:
        self._write = write
        self._written = written
        self._size = size
        self._max_requests = max_requests
        self._max_size = max_size
        self._changed = threading.Condition()
        self._waiting: list[_Entry[T, R]] = []
        self._writing = False
        self.groups = 0  # how many writes were made, for tests and metrics
        self.requests = 0

    def submit(self, request: T) -> R:
        """Write `request` with whatever else is waiting; its result once written, or its error."""
        entry: _Entry[T, R] = _Entry(request, self._size(request))
        with self._changed:
            self._waiting.append(entry)
            while isinstance(entry.outcome, _Pending):
                if self._writing:
                    self._changed.wait()
                    continue
                group = self._take()
                self._writing = True
                self._changed.release()
                try:
                    outcomes = self._write_group(group)
                finally:
                    self._changed.acquire()
                    self._writing = False
                for written, outcome in zip(group, outcomes, strict=True):
                    written.outcome = outcome
                self.groups += 1
                self.requests += len(group)
                self._written(len(group))
                self._changed.notify_all()
        if isinstance(entry.outcome, BaseException):
            raise entry.outcome
        return entry.outcome

    def _take(self) -> list[_Entry[T, R]]:
        group: list[_Entry[T, R]] = []
        weight = 0
        for entry in self._waiting:
            if group and (len(group) >= self._max_requests or weight + entry.size > self._max_size):
                break
            group.append(entry)
            weight += entry.size
        del self._waiting[: len(group)]
        return group

    def _write_group(self, group: list[_Entry[T, R]]) -> Sequence[R | BaseException]:
        try:
            outcomes = self._write([entry.request for entry in group])
        except BaseException as error:
            return [error] * len(group)
        if len(outcomes) != len(group):
            mismatch = RuntimeError(f"a group of {len(group)} requests got {len(outcomes)} outcomes")
            return [mismatch] * len(group)
        return outcomes
