"""Every benchmark, one after the other, at one scale (`reporting bench --scale small|full`; `make bench`).

Each benchmark starts its own PostgreSQL cluster and broker, runs its baselines in the same run and
prints its own lines; each figure it records (`bench.report.record`) becomes a row of the run's one
table (what, target, measured, ratio, met), printed at the end and written as JSON with the
machine, the load and each benchmark's command and exit status.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench.report import RESULTS_ENV, ModuleRun, read, table

LATEST = Path(__file__).resolve().parent.parent / ".local" / "bench" / "latest.json"

# `small` keeps every benchmark and finishes in under 3 minutes on the 2-core machine: it shows that
# each runs and records its rows, not the speed.
# fmt: off
SCALES: dict[str, list[tuple[str, list[str]]]] = {
    "small": [
        ("bench.ingest", ["--agencies", "30", "--months", "1", "--clients", "4"]),
        ("bench.freshness", ["--rate", "1000", "--seconds", "3", "--agencies", "30"]),
        ("bench.projector", ["--agencies", "20"]),
        ("bench.rollups", ["--agencies", "100", "--indicators", "2", "--months", "3", "--requests", "20"]),
        ("bench.audit", ["--agencies", "30"]),
        ("bench.imports", ["--indicators", "400", "--months", "5", "--workbook-agencies", "2"]),
        ("bench.pages", ["--agencies", "100", "--requests", "10"]),
        ("bench.boards", ["--agencies", "100", "--months", "2", "--requests", "10", "--rate", "300", "--seconds", "3",
                          "--boards", "2"]),
        ("bench.backup", ["--agencies", "30"]),
        ("bench.national", ["--units", "200"]),
    ],
    "full": [
        ("bench.ingest", ["--agencies", "500", "--months", "2", "--clients", "8"]),
        ("bench.ingest", ["--agencies", "500", "--months", "2", "--clients", "8", "--workers", "2"]),
        ("bench.freshness", ["--rate", "5000", "--seconds", "20"]),
        ("bench.projector", ["--agencies", "200"]),
        ("bench.rollups", ["--agencies", "10000", "--indicators", "5", "--months", "12"]),
        ("bench.audit", ["--agencies", "1000"]),
        ("bench.imports", ["--indicators", "400", "--months", "250", "--workbook-agencies", "34"]),
        ("bench.pages", ["--agencies", "10000", "--requests", "200"]),
        ("bench.boards", ["--agencies", "10000", "--months", "12", "--rate", "1000", "--seconds", "20"]),
        ("bench.backup", ["--agencies", "1000"]),
        # The replay check of every read model takes about 20 minutes at this size: the small scale runs it.
        ("bench.national", ["--units", "10000", "--no-replay"]),
    ],
}
# fmt: on


def uptime() -> dict[str, Any]:
    """The machine's load as `uptime` says it (other work shares the cores), and as numbers."""
    said = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    return {"uptime": said, "load_average": list(os.getloadavg())}


def machine() -> dict[str, Any]:
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False, cwd=LATEST.parents[2]
    )
    return {
        "host": platform.node(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "commit": commit.stdout.strip() or None,
    }


def run(scale: str, results: Path) -> list[ModuleRun]:
    """Each benchmark of the scale in turn, its rows read from the results file as it ends."""
    runs: list[ModuleRun] = []
    env = {**os.environ, RESULTS_ENV: str(results)}
    for module, arguments in SCALES[scale]:
        command = " ".join(["python -m", module, *arguments])
        print(f"\n=== {command}", flush=True)
        started = time.perf_counter()
        status = subprocess.run([sys.executable, "-m", module, *arguments], env=env, check=False).returncode
        seconds = time.perf_counter() - started
        rows = read(results)[sum(len(done.rows) for done in runs) :]
        runs.append(ModuleRun(command, status, seconds, tuple(rows)))
    return runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument("--json", type=Path, default=LATEST, help=f"where the run is written (default {LATEST})")
    args = parser.parse_args()
    date, load, started = datetime.now(UTC), uptime(), time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="reporting-bench-results-") as scratch:
        runs = run(args.scale, Path(scratch) / "rows.jsonl")
    duration, end = time.perf_counter() - started, uptime()
    print(f"\n{args.scale} scale in {duration:,.0f} s on {os.cpu_count()} cores", flush=True)
    print(f"load at the start: {load['uptime']}\nload at the end:   {end['uptime']}\n")
    print(table(runs))
    document = {
        "scale": args.scale,
        "date": date.isoformat(timespec="seconds"),
        "duration_seconds": round(duration, 1),
        "machine": machine(),
        "load": {"start": load, "end": end},
        "modules": [done.as_json() for done in runs],
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
    print(f"\nwritten to {args.json}")
    return 1 if any(done.failure for done in runs) else 0


if __name__ == "__main__":
    raise SystemExit(main())
