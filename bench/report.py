"""The figures of a benchmark run as rows of one table: what, target, measured, ratio, met.

Each benchmark calls `record` for every figure it measures; when `bench.run` runs it, the rows go
to the run's results file (named by `BENCH_RESULTS`), and `bench.run` prints them as one table and
writes them as JSON. Run alone, a benchmark only prints its own lines.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

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
        if self.target is None or self.target <= 0:
            return None
        if self.better == "higher":
            return max(0.0, self.measured) / self.target  # nothing measured is 0x, not "no ratio"
        return self.target / self.measured if self.measured > 0 else None

    @property
    def met(self) -> bool | None:
        ratio = self.ratio
        return None if ratio is None else ratio >= 1.0

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio, "met": self.met}


@dataclass(frozen=True)
class ModuleRun:
    """One benchmark as `bench.run` ran it: how, its exit status, and the rows it recorded."""

    command: str
    exit_status: int
    seconds: float
    rows: tuple[Row, ...]

    @property
    def failure(self) -> str | None:
        if self.exit_status != 0:
            return f"failed (exit status {self.exit_status})"
        return None if self.rows else "failed (no figure recorded)"

    def as_json(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "exit_status": self.exit_status,
            "seconds": round(self.seconds, 1),
            "failure": self.failure,
            "rows": [row.as_json() for row in self.rows],
        }


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


COLUMNS = ("what", "target", "measured", "ratio", "met?")
RIGHT_ALIGNED = (False, True, True, True, False)


def number(value: float) -> str:
    """Thousands separators, and as many decimals as a figure of that size needs."""
    size = abs(value)
    return f"{value:,.0f}" if size >= 100 else f"{value:,.1f}" if size >= 10 else f"{value:,.2f}"


def table(runs: Sequence[ModuleRun]) -> str:
    """The run as one aligned table (valid Markdown too): a line per benchmark, then its rows."""
    rows = [row for run in runs for row in run.rows]
    figures = [number(value) for row in rows for value in (row.measured, row.target) if value is not None]
    width = max(map(len, figures), default=1)
    unit_width = max((len(row.unit) for row in rows), default=0)

    def amount(value: float | None, unit: str, sign: str = "") -> str:
        return "" if value is None else f"{sign + number(value):>{len(sign) + width}} {unit:<{unit_width}}"

    lines: list[tuple[str, str, str, str, str]] = []
    for run in runs:
        lines.append((f"{run.command} ({run.seconds:,.0f} s)", "", "", "", ""))
        for row in run.rows:
            target = amount(row.target, row.unit, "≥ " if row.better == "higher" else "≤ ")
            ratio = "" if row.ratio is None else f"{row.ratio:,.2f}x"
            met = "" if row.met is None else "yes" if row.met else "NO"
            lines.append((f"  {row.what}", target, amount(row.measured, row.unit), ratio, met))
        if run.failure:
            lines.append((f"  {run.failure}", "", "", "", "FAILED"))
    widths = [max(len(cells[i]) for cells in [COLUMNS, *lines]) for i in range(len(COLUMNS))]

    def render(cells: Sequence[str]) -> str:
        aligned = (c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, RIGHT_ALIGNED, strict=True))
        return "| " + " | ".join(aligned) + " |"

    rule = "".join(f"|{'-' * (w + 1)}{':' if r else '-'}" for w, r in zip(widths, RIGHT_ALIGNED, strict=True)) + "|"
    judged = [row for row in rows if row.met is not None]
    failed = [run.command for run in runs if run.failure]
    summary = f"{sum(bool(row.met) for row in judged)} of {len(judged)} targets met; "
    summary += f"failed: {'; '.join(failed)}" if failed else "every benchmark ran"
    return "\n".join([render(COLUMNS), rule, *map(render, lines), "", summary])
