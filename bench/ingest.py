"""Ingest throughput: values durably stored per second over HTTP, against two baselines.

    python -m bench.ingest --agencies 500 --indicators 200 --months 2 --clients 8

The "national month" workload in small: each agency submits its 200-value form
for a month in one request (2% of the values are then corrected). Baselines,
run in the same process on the same database server: a raw PostgreSQL COPY of
the same rows, and the `eventsourcing` library's own Application.save of the same
events (its recorder, its transcoder, its own table), one transaction per
200-value batch: the write path without HTTP and validation.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from functools import partial
from uuid import UUID

import httpx
from eventsourcing.application import Application
from prometheus_client.parser import text_string_to_metric_families

from bench.environment import (
    BENCH_TEMPLATE,
    Job,
    agency_codes,
    bench_environment,
    indicator_codes,
    issue_tokens,
    load_national_reference,
    run_clients,
    tree_cpu_seconds,
)
from bench.report import record
from domain.identity import Principal, Role
from domain.periods import Period
from entrypoints.bootstrap import postgres_store, write_side
from infra.db import connect
from infra.runtime.ports import free_port, wait_until
from infra.runtime.processes import Service, http_ready, log_path
from infra.settings import Settings

FIRST_MONTH = Period.parse("2025-01")


def months(count: int) -> list[str]:
    result, period = [], FIRST_MONTH
    for _ in range(count):
        result.append(period.code)
        period = period.next()
    return result


def run_http(jobs: list[Job], clients: int) -> tuple[float, list[float]]:
    started, sent = run_clients([partial(iter, jobs[i::clients]) for i in range(clients)])
    return max(s.finished for s in sent) - started, [latency for s in sent for latency in s.latencies]


def group_commits(url: str) -> tuple[float, float]:
    """The event store transactions and the saves group commit wrote, from the service's metrics."""
    found = {"reporting_event_store_commits_total": 0.0, "reporting_event_store_saves_total": 0.0}
    for family in text_string_to_metric_families(httpx.get(f"{url}/metrics", timeout=10).text):
        for sample in family.samples:
            if sample.name in found:
                found[sample.name] += sample.value
    return found["reporting_event_store_commits_total"], found["reporting_event_store_saves_total"]


def baseline_copy(settings: Settings, rows: list[tuple[str, str, str, int]]) -> float:
    with connect(settings) as conn:
        conn.execute(
            "CREATE TABLE bench_copy (agency text, period text, indicator text, value bigint,"
            " PRIMARY KEY (agency, period, indicator))"
        )
        started = time.perf_counter()
        with (
            conn.transaction(),
            conn.cursor() as cur,
            cur.copy("COPY bench_copy (agency, period, indicator, value) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        return time.perf_counter() - started


class LibraryBaseline(Application[UUID]):
    """The `eventsourcing` library as it comes: its PostgreSQL recorder and JSON transcoder, its own table."""

    name = "Baseline"


def baseline_save(settings: Settings, agencies: list[str], periods: list[str], codes: list[str]) -> float:
    """The library's Application.save of the same events, one transaction per (agency, month) form."""
    from domain.submission import Submission

    with postgres_store(settings) as store:
        form = write_side(store).reference.form(BENCH_TEMPLATE, Period.parse(periods[0]))
    env = {**settings.event_store_env(), "CREATE_TABLE": "y"}
    app = LibraryBaseline(env)
    try:
        elapsed = 0.0
        for agency in agencies:
            principal = Principal(f"bench:{agency}", Role.AGENCY_REPORTER, agency)
            for period in periods:
                submission = Submission.open(agency, Period.parse(period), form, principal)
                submission.enter_values([(code, 1) for code in codes], form, principal)
                started = time.perf_counter()
                app.save(submission)
                elapsed += time.perf_counter() - started
        return elapsed
    finally:
        app.factory.close()


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) >= 2 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agencies", type=int, default=500)
    parser.add_argument("--indicators", type=int, default=200)
    parser.add_argument("--months", type=int, default=2)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--correction-rate", type=float, default=0.02)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes of the ingest service")
    args = parser.parse_args()
    rng = random.Random(1)
    with bench_environment() as environment:
        settings = environment.settings
        load_national_reference(settings, args.agencies, args.indicators)
        agencies, codes, periods = agency_codes(args.agencies), indicator_codes(args.indicators), months(args.months)
        port = free_port()
        service_settings = Settings(
            **{**settings.__dict__, "ingest_port": port, "max_values_per_batch": 1000, "ingest_workers": args.workers}
        )
        service = Service("ingest", {**os.environ, **service_settings.to_env()}, log_path=log_path("bench-ingest"))
        service.start()
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until(lambda: http_ready(url), 30, what="ingest ready")
            tokens = issue_tokens(settings, Role.AGENCY_REPORTER, agencies)
            jobs = [
                Job(url, tokens[a], a, p, [{"indicator": c, "value": rng.randint(0, 10**6)} for c in codes])
                for p in periods
                for a in agencies
            ]
            corrections = [
                Job(
                    url,
                    tokens[a],
                    a,
                    p,
                    [
                        {"indicator": c, "value": rng.randint(0, 10**6)}
                        for c in rng.sample(codes, max(1, int(len(codes) * args.correction_rate)))
                    ],
                )
                for p in periods
                for a in agencies
            ]
            values = sum(len(j.values) for j in jobs + corrections)
            assert service.process is not None
            pids = service.process.pid, environment.postgres.pid or 0
            cpu_before = [tree_cpu_seconds(pid) for pid in pids]
            elapsed, latencies = run_http(jobs + corrections, args.clients)
            cpu_after = [tree_cpu_seconds(pid) for pid in pids]
            form_latencies = latencies[: len(jobs)]
            commits, saves = group_commits(url)
        finally:
            service.stop()
        with connect(settings) as conn:
            stored = conn.execute("SELECT count(*) FROM reporting_events").fetchone()
        rows = [(a, p, c, 1) for a in agencies for p in periods for c in codes]
        copy_seconds = baseline_copy(settings, rows)
        # Its own month, so that its submissions are new aggregates like the HTTP ones were.
        spare_month = months(args.months + 1)[-1]
        save_seconds = baseline_save(settings, agencies[: max(1, len(agencies) // 5)], [spare_month], codes)
        save_values = max(1, len(agencies) // 5) * len(codes)
    http_rate = values / elapsed
    copy_rate = len(rows) / copy_seconds
    save_rate = save_values / save_seconds
    print(
        f"workload: {args.agencies} agencies x {args.indicators} indicators x {args.months} months "
        f"+ {args.correction_rate:.0%} corrections = {values} values, {args.clients} client processes, "
        f"{args.workers} ingest worker(s)"
    )
    print(f"events in store: {stored[0] if stored else '?'}")
    print(f"HTTP ingest, durably stored     {http_rate:10,.0f} values/s")
    record("HTTP ingest, durably stored", http_rate, "values/s", target=20_000)
    print(
        f"  latency per {args.indicators}-value form   p50 {percentile(form_latencies, 50) * 1000:6.1f} ms"
        f"   p99 {percentile(form_latencies, 99) * 1000:6.1f} ms"
    )
    p50, p99 = percentile(form_latencies, 50) * 1000, percentile(form_latencies, 99) * 1000
    record(f"HTTP ingest, p50 per {args.indicators}-value form", p50, "ms", better="lower")
    record(f"HTTP ingest, p99 per {args.indicators}-value form", p99, "ms", target=250, better="lower")
    print(f"baseline Application.save       {save_rate:10,.0f} values/s  (HTTP ingest = {http_rate / save_rate:.2f}x)")
    record("baseline Application.save, one transaction per form", save_rate, "values/s")
    record("HTTP ingest / Application.save", http_rate / save_rate, "x", target=1.0)
    # CPU per form moves less with the machine's speed than the rates do: what to compare between versions.
    forms = len(jobs) + len(corrections)
    service_ms, postgres_ms = (
        (after - before) * 1000 / forms for before, after in zip(cpu_before, cpu_after, strict=True)
    )
    print(f"CPU per request: ingest service {service_ms:.2f} ms, PostgreSQL {postgres_ms:.2f} ms")
    record("HTTP ingest, the service's CPU per request", service_ms, "ms", better="lower")
    record("HTTP ingest, PostgreSQL's CPU per request", postgres_ms, "ms", better="lower")
    per_commit = saves / max(commits, 1)
    print(f"group commit: {saves:,.0f} saves in {commits:,.0f} transactions ({per_commit:.2f} per transaction)")
    record("group commit, saves per transaction", per_commit, "saves")
    print(f"baseline PostgreSQL COPY        {copy_rate:10,.0f} rows/s    (HTTP ingest = {http_rate / copy_rate:.2f}x)")
    record("baseline PostgreSQL COPY of the same rows", copy_rate, "rows/s")
    record("HTTP ingest / PostgreSQL COPY", http_rate / copy_rate, "x")


if __name__ == "__main__":
    main()
