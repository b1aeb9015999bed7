"""SIGINT and SIGTERM as a stop event, however often and whenever they come."""

from __future__ import annotations

import contextlib
import os
import signal
import threading


def stop_on_signals() -> threading.Event:
    """SIGINT/SIGTERM set the returned event; loops finish their batch and exit cleanly.

    The handler only writes a byte to a pipe, and a thread sets the event. A handler that set the
    event itself runs in the main thread, between any two of its bytecodes: inside the event's own
    `set` or `wait` (a second signal while the first is handled, or a `stop.wait(0.5)` taking its
    lock back), where it would wait forever for the lock that thread already holds.
    """
    stop = threading.Event()
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)

    def handler(_signum: int, _frame: object) -> None:
        with contextlib.suppress(BlockingIOError):  # a full pipe holds enough wake-ups already
            os.write(write_end, b"\0")

    def watch() -> None:
        os.read(read_end, 1)
        stop.set()

    threading.Thread(target=watch, name="stop-on-signals", daemon=True).start()
    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop
