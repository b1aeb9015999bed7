"""Read ahead in a thread: the next batch is fetched and decoded while PostgreSQL applies this one.

Decoding (kafka-python's records, the integration events' validation) is Python work; applying a
batch is mostly waiting on PostgreSQL, which releases the GIL. Overlapping them uses both cores.
Only the reading is ahead: what is applied, and the positions committed with it, stay in order
in the caller's thread, so a crash loses nothing but what was read and not yet applied.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar, cast

T = TypeVar("T")

_END = object()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class Prefetch(Generic[T]):
    """Items of `produce` (called in a thread until it returns None), at most `depth` ahead of the reader.

    Iterate to consume; an exception of `produce` is raised to the reader in its turn. `close`
    stops the thread (and must be called, e.g. by `with`, before the source is closed).
    """

    def __init__(self, produce: Callable[[], T | None], *, depth: int = 1, name: str = "prefetch") -> None:
        self._produce = produce
        self._items: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                item = self._produce()
                if item is None:
                    break
                if not self._put(item):
                    return
        except BaseException as error:  # handed to the reader, raised there
            self._put(_Failed(error))
            return
        self._put(_END)

    def __iter__(self) -> Iterator[T]:
        while True:
            item = self._items.get()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield cast(T, item)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def __enter__(self) -> Prefetch[T]:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
