"""A one-line progress bar for long runs (rebuilds, replays, verification): done/total, rate, ETA.

On a terminal the line is redrawn in place a few times a second; otherwise (a log file) a line
is written every few seconds. Without a known total it shows the count and the rate only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

BAR_WIDTH = 30


class Progress:
    """`observer`, if given, is told every update (a rebuild's progress gauges)."""

    def __init__(
        self,
        stream: TextIO | None,
        label: str,
        *,
        unit: str = "events",
        observer: Callable[[int, int | None], None] | None = None,
    ) -> None:
        self.stream = stream
        self.observer = observer
        self.label = label
        self.unit = unit
        self.tty = bool(stream is not None and stream.isatty())
        self.interval = 0.25 if self.tty else 2.0
        self.started = time.monotonic()
        self.shown = 0.0
        self.first: int | None = None
        self.last: tuple[int, int | None] = (0, None)

    def update(self, done: int, total: int | None = None, *, final: bool = False) -> None:
        """`done` of `total` (None: unknown); `final` draws the last line whatever the time."""
        self.last = (done, total)
        if self.observer is not None:
            self.observer(done, total)
        if self.stream is None:
            return
        now = time.monotonic()
        if self.first is None:
            self.first = done
        if not final and now - self.shown < self.interval:
            return
        self.shown = now
        rate = (done - self.first) / max(now - self.started, 1e-6)
        unit = self.unit
        if total is None:
            line = f"{self.label} {done:,} {unit} {rate:,.0f} {unit}/s"
        else:
            total = max(total, done)
            fraction = done / total if total else 1.0
            filled = int(fraction * BAR_WIDTH)
            bar = "#" * filled + "-" * (BAR_WIDTH - filled)
            if rate > 0 and total > done:
                remaining = int((total - done) / rate)
                eta = f"{remaining // 60}:{remaining % 60:02d}"
            else:
                eta = "0:00" if total <= done else "?"
            line = (
                f"{self.label} [{bar}] {fraction * 100:5.1f}% {done:,}/{total:,} {unit} {rate:,.0f} {unit}/s ETA {eta}"
            )
        self.stream.write(("\r" + line) if self.tty else (line + "\n"))
        if final and self.tty:
            self.stream.write("\n")
        self.stream.flush()

    def finish(self) -> None:
        """The last line, with the last count given."""
        self.update(*self.last, final=True)
