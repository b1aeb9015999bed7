"""The rows of a benchmark run: ratios to the target whichever way is better, the results file, the one table."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.report import RESULTS_ENV, ModuleRun, Row, command_line, number, read, record, table


@pytest.mark.parametrize(
    ("measured", "ratio", "met"),
    [(25_000, 1.25, True), (20_000, 1.0, True), (15_000, 0.75, False), (0, 0.0, False)],
)
def test_a_rate_is_measured_over_its_target(measured: float, ratio: float, met: bool) -> None:
    row = Row("HTTP ingest", measured, "values/s", target=20_000)
    assert (row.ratio, row.met) == (pytest.approx(ratio), met)


@pytest.mark.parametrize(("measured", "ratio", "met"), [(125, 2.0, True), (250, 1.0, True), (500, 0.5, False)])
def test_a_latency_is_its_target_over_what_was_measured(measured: float, ratio: float, met: bool) -> None:
    row = Row("p99 per form", measured, "ms", target=250, better="lower")
    assert (row.ratio, row.met) == (pytest.approx(ratio), met)


def test_a_row_without_a_target_has_no_ratio_and_is_neither_met_nor_missed() -> None:
    for row in (Row("baseline COPY", 590_000, "rows/s"), Row("p50", 0.0, "ms", target=250, better="lower")):
        assert (row.ratio, row.met) == (None, None)
    assert Row("baseline COPY", 590_000, "rows/s").as_json() == {
        "what": "baseline COPY",
        "measured": 590_000,
        "unit": "rows/s",
        "target": None,
        "better": "higher",
        "command": "",
        "ratio": None,
        "met": None,
    }


def test_recorded_rows_are_read_back_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    results = tmp_path / "rows.jsonl"
    monkeypatch.delenv(RESULTS_ENV, raising=False)
    record("not under bench.run", 1, "x")
    assert read(results) == [], "a benchmark run alone records nothing"

    monkeypatch.setenv(RESULTS_ENV, str(results))
    record("HTTP ingest", 9_512, "values/s", target=20_000)
    record("p99 per form", 114.5, "ms", target=250, better="lower")
    record("baseline COPY", 590_000, "rows/s")
    rows = read(results)
    assert [(r.what, r.measured, r.unit, r.target, r.better) for r in rows] == [
        ("HTTP ingest", 9_512.0, "values/s", 20_000.0, "higher"),
        ("p99 per form", 114.5, "ms", 250.0, "lower"),
        ("baseline COPY", 590_000.0, "rows/s", None, "higher"),
    ]
    assert {r.command for r in rows} == {command_line()}
    assert command_line().startswith("python -m ")
    assert rows[1].ratio == pytest.approx(250 / 114.5)


def test_numbers_have_thousands_separators_and_the_decimals_their_size_needs() -> None:
    assert [number(v) for v in (1_234_567.8, 250, 99.94, 12.34, 1.234, 0)] == [
        "1,234,568",
        "250",
        "99.9",
        "12.3",
        "1.23",
        "0.00",
    ]


def test_a_module_fails_when_it_exits_badly_or_records_nothing() -> None:
    row = Row("verify", 250_000, "events/s", target=200_000)
    assert ModuleRun("python -m bench.audit", 0, 1.0, (row,)).failure is None
    assert ModuleRun("python -m bench.audit", 1, 1.0, (row,)).failure == "failed (exit status 1)"
    assert ModuleRun("python -m bench.audit", 0, 1.0, ()).failure == "failed (no figure recorded)"
    assert ModuleRun("python -m bench.audit", 2, 1.04, (row,)).as_json() == {
        "command": "python -m bench.audit",
        "exit_status": 2,
        "seconds": 1.0,
        "failure": "failed (exit status 2)",
        "rows": [row.as_json()],
    }


def test_the_table_aligns_every_row_under_its_benchmark_and_shows_failures() -> None:
    ingest = ModuleRun(
        "python -m bench.ingest --agencies 60",
        0,
        19.4,
        (
            Row("HTTP ingest", 9512.3, "values/s", 20_000),
            Row("p99 per form", 114.2, "ms", 250, "lower"),
            Row("baseline COPY", 590_000, "rows/s"),
        ),
    )
    audit = ModuleRun("python -m bench.audit --agencies 60", 0, 12.0, (Row("verify", 250_000, "events/s", 200_000),))
    failed = [ModuleRun("python -m bench.pages", 1, 3.2, ()), ModuleRun("python -m bench.boards", 0, 1.0, ())]
    assert table([ingest, audit, *failed]).splitlines() == [
        "| what                                        |             target |         measured | ratio | met?   |",
        "|---------------------------------------------|-------------------:|-----------------:|------:|--------|",
        "| python -m bench.ingest --agencies 60 (19 s) |                    |                  |       |        |",
        "|   HTTP ingest                               |  ≥ 20,000 values/s |   9,512 values/s | 0.48x | NO     |",
        "|   p99 per form                              |     ≤ 250 ms       |     114 ms       | 2.19x | yes    |",
        "|   baseline COPY                             |                    | 590,000 rows/s   |       |        |",
        "| python -m bench.audit --agencies 60 (12 s)  |                    |                  |       |        |",
        "|   verify                                    | ≥ 200,000 events/s | 250,000 events/s | 1.25x | yes    |",
        "| python -m bench.pages (3 s)                 |                    |                  |       |        |",
        "|   failed (exit status 1)                    |                    |                  |       | FAILED |",
        "| python -m bench.boards (1 s)                |                    |                  |       |        |",
        "|   failed (no figure recorded)               |                    |                  |       | FAILED |",
        "",
        "2 of 3 targets met; failed: python -m bench.pages; python -m bench.boards",
    ]


def test_a_table_of_benchmarks_that_all_ran() -> None:
    lines = table([ModuleRun("python -m bench.x", 0, 1.0, (Row("a", 1.5, "x"),))]).splitlines()
    assert lines[-1] == "0 of 0 targets met; every benchmark ran"
    assert len({len(line) for line in lines[:-2]}) == 1, "every line of the table as wide"
