"""The figures of a benchmark run as rows of one table: what, target, measured, ratio, met.

Each benchmark calls `record` for every figure it measures; when `bench.run` runs it, the rows go
to the run's results file (named by `BENCH_RESULTS`), and `bench.run` prints them as one table and
writes them as JSON. Run alone, a benchmark only prints its own lines.
"""

from __future__ import annotations

import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import orjson

RESULTS_ENV = "BENCH_RESULTS"

Better = Literal["higher", "lower"]


@dataclass(frozen=True)
class Row:
    """One measured figure; `target` None for a baseline or a figure the design sets no target for."""

    what: str
    measured: float
    unit: str
    target: float | None = None
    better: Better = "higher"
    command: str = ""

    @property
    def ratio(self) -> float | None:
        """How far from the target, 1.0 or more when met (whichever way is better)."""
        if self.target is None or self.measured <= 0 or self.target <= 0:
            return None
        return self.measured / self.target if self.better == "higher" else self.target / self.measured

    @property
    def met(self) -> bool | None:
        ratio = self.ratio
        return None if ratio is None else ratio >= 1.0


def command_line() -> str:
    """How the running benchmark was started, as one would type it."""
    module = sys.modules["__main__"].__spec__
    name = module.name if module is not None else Path(sys.argv[0]).stem
    return " ".join(["python -m", name, *sys.argv[1:]])


def record(what: str, measured: float, unit: str, *, target: float | None = None, better: Better = "higher") -> None:
    """Add a row to the run's results file, when the benchmark runs under `bench.run`."""
    path = os.environ.get(RESULTS_ENV)
    if not path:
        return
    row = Row(what, float(measured), unit, None if target is None else float(target), better, command_line())
    with Path(path).open("ab") as results:
        results.write(orjson.dumps(asdict(row)) + b"\n")


def read(path: Path) -> list[Row]:
    """The rows recorded in a results file, in order."""
    if not path.exists():
        return []
    return [Row(**orjson.loads(line)) for line in path.read_bytes().splitlines() if line.strip()]
