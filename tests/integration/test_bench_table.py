"""`reporting bench --scale small`: every benchmark runs and the run's one table is complete (not the speed)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

import orjson
import pytest

from bench.report import COLUMNS
from bench.run import SCALES
from infra.settings import Settings
from tests.helpers import REPO_ROOT

PAGES = [
    "entry form (200 indicators, 3 months of history)",
    "clerk home (12 months)",
    "review queue (every month, first page of 50)",
    "review queue (one month and one region)",
    "review queue (page 40)",
    "reviewer home (queue, counts of 100 agencies x 6 months)",
    "report read-only for the reviewer",
    "check of a typed value (htmx)",
    "save of a cell (a new value each time)",
]
BOARDS = [
    "display board, whole page (tiles, national trend, rankings)",
    "display board, live fragment (what an open board re-fetches)",
    "national trend by quarter (live fragment)",
    "national trend by year (live fragment)",
    "one region's board (live fragment)",
    "compliance board of a month, whole page",
    "compliance board of a month, live fragment",
    "compliance board of a month, sorted by days late",
    "compliance board, 2025-01 to 2025-02",
]
PROJECTIONS = ("report_view", "audit_trail", "reference", "rollups", "compliance", "access")
# Each benchmark's rows at the small scale, with the design's target (None: a baseline or no target).
EXPECTED: dict[str, dict[str, float | None]] = {
    "bench.ingest": {
        "HTTP ingest, durably stored": 20_000,
        "HTTP ingest, p50 per 200-value form": None,
        "HTTP ingest, p99 per 200-value form": 250,
        "baseline Application.save, one transaction per form": None,
        "HTTP ingest / Application.save": 1.0,
        "group commit, saves per transaction": None,
        "baseline PostgreSQL COPY of the same rows": None,
        "HTTP ingest / PostgreSQL COPY": None,
        "HTTP ingest, the service's CPU per request": None,
        "HTTP ingest, PostgreSQL's CPU per request": None,
    },
    "bench.freshness": {
        "freshness: rate offered": None,
        "freshness: rate reached": 5_000,
        "freshness: accepted -> on the topic, p99": None,
        "freshness: accepted -> visible, p50": None,
        "freshness: accepted -> visible, p99": 1_000,
    },
    "bench.projector": {
        "baseline raw kafka-python produce of the same messages": None,
        "relay: the whole store published": None,
        "relay / raw produce": None,
        "baseline raw kafka-python consume of the topic": None,
        "projector catch-up from Kafka, every projection": 30_000,
        "projector catch-up / raw consume": None,
        "rebuild of every projection from Kafka, 2 workers": 30_000,
        **{f"rebuild of {name} alone from Kafka": 30_000 for name in PROJECTIONS},
        **{f"rebuild of {name} alone from Kafka, 2 workers": 30_000 for name in PROJECTIONS if name != "rollups"},
    },
    "bench.rollups": {
        "roll-up rebuild from the store": 30_000,
        "HTTP national, 1 indicator x 3 months, p99": 50,
        "HTTP national, 2 indicators x 3 months, p99": 50,
        "HTTP year by region, every indicator, p99": None,
        "baseline SQL+assembly, 1 indicator x 3 months, p99": None,
        "baseline SQL+assembly, 2 indicators x 3 months, p99": None,
    },
    "bench.audit": {
        "checkpointer catch-up, leaves appended": None,
        "baseline RootAccumulator over the bytes in memory": None,
        "audit verify --from-store -w1, end to end": 200_000,
        "audit verify --from-store, end to end": 200_000,
        "audit verify (Kafka), end to end": None,
        "baseline raw kafka-python consume of the topic": None,
        "audit verify (Kafka), its read / raw consume": None,
    },
    "bench.imports": {
        "CSV import job, upload to end": None,
        "baseline JSON API, 400-value requests": None,
        "CSV import job / JSON API": None,
        "import worker peak RSS after the CSV": None,
        "workbook import jobs, upload to end": None,
        "baseline JSON API, one request a form": None,
        "workbook import jobs / JSON API": None,
        "import worker peak RSS": None,
        "ingest API peak RSS": None,
    },
    "bench.pages": {
        **{f"{page}, server-side p95": 300 for page in PAGES},
        **{f"{page}, client-side p95": None for page in PAGES},
    },
    "bench.boards": {
        **{f"{board}, p95": 300 for board in BOARDS},
        "baseline: display board built in process, p95": None,
        "baseline: compliance board of a month worked out in process, p95": None,
        "baseline: compliance board of every month worked out in process, p95": None,
        "live load: rate offered": None,
        "live load: rate reached": None,
        "accepted -> visible on an open board, p99": 2_000,
        "accepted -> announced on the board's stream, p99": None,
        "live fragment fetched under the load, p95": None,
    },
    "bench.backup": {
        "checkpointer catch-up, leaves appended": None,
        "backup size / events table size in PostgreSQL": None,
        "baseline COPY of the events table out": None,
        "reporting backup": None,
        "reporting backup / COPY out": None,
        "reporting restore": None,
    },
}


def cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def amount(cell: str) -> tuple[float, str]:
    """'≥ 20,000 values/s' -> (20000.0, 'values/s')."""
    figure, unit = cell.removeprefix("≥ ").removeprefix("≤ ").split(" ", 1)
    return float(figure.replace(",", "")), unit.strip()


@pytest.mark.slow
def test_the_small_scale_runs_every_benchmark_into_one_complete_table(tmp_path: Path) -> None:
    latest = tmp_path / "latest.json"
    settings = {field.name.upper() for field in fields(Settings)}
    env = {k: v for k, v in os.environ.items() if k not in settings} | {"PYTHONPATH": str(REPO_ROOT)}
    ran = subprocess.run(
        [sys.executable, "-m", "entrypoints.cli", "bench", "--scale", "small", "--json", str(latest)],
        capture_output=True,
        text=True,
        timeout=570,
        cwd=tmp_path,
        env=env,
    )
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]

    run: dict[str, Any] = orjson.loads(latest.read_bytes())
    assert run["scale"] == "small"
    assert run["machine"]["cpus"] == os.cpu_count()
    assert run["duration_seconds"] > 0
    assert all("load average" in run["load"][at]["uptime"] for at in ("start", "end"))
    commands = [" ".join(["python -m", module, *arguments]) for module, arguments in SCALES["small"]]
    assert [m["command"] for m in run["modules"]] == commands
    for module in run["modules"]:
        assert (module["exit_status"], module["failure"]) == (0, None), module["command"]
        assert module["rows"], f"{module['command']} recorded its figures"
        for row in module["rows"]:
            assert row["command"] == module["command"]
            assert math.isfinite(row["measured"]), row
            if row["target"] is None:
                assert (row["ratio"], row["met"]) == (None, None), row
            else:
                assert isinstance(row["ratio"], float), row
                assert row["met"] is (row["ratio"] >= 1.0), row
    for module in run["modules"]:
        name = module["command"].split()[2]
        if name in EXPECTED:
            recorded = {row["what"]: row["target"] for row in module["rows"]}
            assert recorded == EXPECTED[name], name

    # The printed table holds every row, in order, its numbers as recorded.
    printed = ran.stdout[ran.stdout.index(f"| {COLUMNS[0]} ") : ran.stdout.index("\nwritten to ")].strip()
    lines = printed.splitlines()
    assert lines[-1].endswith("every benchmark ran")
    headings = [cells(line)[0] for line in lines if line.startswith("| python -m ")]
    assert [heading.rsplit(" (", 1)[0] for heading in headings] == commands
    rows = [row for module in run["modules"] for row in module["rows"]]
    shown = [cells(line) for line in lines if line.startswith("|   ")]
    assert [what for what, *_ in shown] == [row["what"] for row in rows]
    for row, (_, target, measured, ratio, met) in zip(rows, shown, strict=True):
        figure, unit = amount(measured)
        assert unit == row["unit"]
        assert figure == pytest.approx(row["measured"], rel=0.01, abs=0.01)
        if row["target"] is None:
            assert (target, ratio, met) == ("", "", ""), row
        else:
            assert amount(target) == (pytest.approx(row["target"]), row["unit"])
            assert float(ratio.removesuffix("x").replace(",", "")) == pytest.approx(row["ratio"], rel=0.01, abs=0.01)
            assert met == ("yes" if row["met"] else "NO")
