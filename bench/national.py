"""The whole national month, end to end: every unit's form over HTTP, through the relay, every
projection and the checkpointer; peak memory of every process; then everything checked against the store.

    python -m bench.national --units 10000 --indicators 200 --clients 8

`units` reporting units (agencies) each post their `indicators`-value form for one month (one
request each), then a share `correction-rate` of their values again as corrections (one request
each, with a reason). Client processes make their own share of the requests from a seed, so the
workload is never held whole. The stack's processes run as `reporting up` runs them
(`entrypoints.stack.SERVICES`): ingest, relay, the three projector processes and the checkpointer
(signing every second here, so that the time to a signed checkpoint is the log's, not the interval's).
The seed (catalogue, units, tokens) is loaded, and the pipeline has caught up with it, before the
first request.

Times from the first request: every value accepted; the relay has published the log's last event;
each projection, then all, stand at the log's end; a signed checkpoint covers the last event (and is
on the checkpoints topic). The end to end time is the last of them. Peak RSS of each process (psutil,
sampled every SAMPLE_SECONDS; process trees summed: PostgreSQL's processes count shared memory in
each).

The checks (exit code 1 on any difference): every read model equals its replay from the event store
(`reporting audit replay --from-store`); the report view's current values and the national roll-ups
equal a fold of the stored events computed in SQL; the topic holds every stored event once (counted
by consuming it: the broker's end offsets are not trusted); `reporting audit verify` from the store
and from the topic is consistent, and its last signed checkpoint covers the whole store.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import partial

import orjson
import psutil  # type: ignore[import-untyped]
import psycopg
from kafka import TopicPartition
from psycopg.rows import TupleRow

from bench.environment import (
    BenchEnvironment,
    Job,
    agency_codes,
    bench_environment,
    indicator_codes,
    issue_tokens,
    load_national_reference,
    process_tree,
    run_clients,
)
from bench.ingest import percentile
from bench.report import record
from domain.identity import Role
from domain.periods import Period, PeriodKind
from domain.scope import Scope
from entrypoints.stack import SERVICES
from infra.canonical import TOPICS
from infra.db import connect, open_pool
from infra.integration_events import VALUE_EVENTS
from infra.kafka import assigned_consumer, describe_topic
from infra.runtime.ports import free_port, wait_until
from infra.runtime.processes import Service, http_ready, log_path
from infra.settings import Settings
from services.audit.checkpointer import signing_key
from services.audit.replay import replay
from services.audit.verify import Options, print_report, verify
from services.readmodels import READ_MODELS
from services.readmodels.freshness import projections_position
from services.readmodels.reference.queries import ReferenceQueries
from services.readmodels.rollups.queries import RollupQueries

PERIOD = Period.parse("2025-01")
STACK = ("ingest", "relay", "project", "project-rollups", "project-audit", "checkpoint")
SAMPLE_SECONDS = 0.5
POLL_SECONDS = 0.2
END_TO_END_TARGET = 180.0
INGEST_TARGET = 20_000.0
POSTGRES = "PostgreSQL (every process, summed)"
POSTGRES_PSS = "PostgreSQL (every process, PSS summed)"
REASON = "Điều chỉnh số liệu sau rà soát"


# ---- the load: each client process makes its own share ---------------------------------------


def unit_jobs(
    url: str, tokens: dict[str, str], codes: Sequence[str], period: str, correction_rate: float, seed: int
) -> Iterator[Job]:
    """Each unit's whole form, then a share of its values corrected; values drawn from `seed`."""
    rng = random.Random(seed)
    for agency, token in tokens.items():
        yield Job(url, token, agency, period, [{"indicator": c, "value": rng.randint(0, 10**6)} for c in codes])
    corrected = max(1, round(len(codes) * correction_rate))
    for agency, token in tokens.items():
        values: list[dict[str, object]] = [
            {"indicator": c, "value": rng.randint(0, 10**6)} for c in rng.sample(list(codes), corrected)
        ]
        yield Job(url, token, agency, period, values, REASON)


# ---- peak memory -----------------------------------------------------------------------------


def _tree_memory(pid: int, proportional: bool = False) -> int:
    """RSS (or PSS: shared pages divided among their sharers) of a process and all its descendants."""
    total = 0
    for process in process_tree(pid):
        try:
            total += process.memory_full_info().pss if proportional else process.memory_info().rss
        except psutil.Error:
            continue  # it ended meanwhile
    return int(total)


@dataclass
class MemorySampler:
    """The largest RSS seen of each named group of process trees, sampled every SAMPLE_SECONDS.

    "load generator": this process's children that are none of the named ones (the client processes).
    """

    groups: dict[str, list[int]]
    peaks: dict[str, int] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def sample(self) -> None:
        named = {pid for pids in self.groups.values() for pid in pids}
        now = {name: sum(_tree_memory(pid) for pid in pids) for name, pids in self.groups.items()}
        # PostgreSQL's shared buffers are in the RSS of every backend that touched them: PSS counts them once.
        now[POSTGRES_PSS] = sum(_tree_memory(pid, proportional=True) for pid in self.groups[POSTGRES])
        me = psutil.Process()
        clients = [child.pid for child in me.children() if child.pid not in named]
        now["load generator (client processes)"] = sum(_tree_memory(pid) for pid in clients)
        now["this benchmark process"] = int(me.memory_info().rss)
        for name, rss in now.items():
            self.peaks[name] = max(self.peaks.get(name, 0), rss)

    def _run(self) -> None:
        while not self.stop.is_set():
            self.sample()
            self.stop.wait(SAMPLE_SECONDS)

    def __enter__(self) -> MemorySampler:
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join()


# ---- milestones ------------------------------------------------------------------------------


def store_end(settings: Settings) -> tuple[int, int]:
    """(events in the store, last position)."""
    with connect(settings) as conn:
        row = conn.execute("SELECT count(*), coalesce(max(notification_id), 0) FROM reporting_events").fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


@dataclass
class Milestones:
    """When (seconds after `started`) each stage first stood at position `end`."""

    settings: Settings
    started: float
    services: Sequence[Service]  # a stage whose process ended will not get there
    reached: dict[str, float] = field(default_factory=dict)

    def positions(self, conn: psycopg.Connection[TupleRow]) -> dict[str, int]:
        topic = self.settings.kafka_topic
        row = conn.execute(
            "SELECT (SELECT coalesce(max(position), 0) FROM relay_positions WHERE topic = %s AND partition = -1),"
            " (SELECT coalesce(max(last_position), 0) FROM tlog_checkpoints),"
            " (SELECT coalesce(max(last_position), 0) FROM tlog_checkpoints WHERE published_topic_id IS NOT NULL)",
            (topic,),
        ).fetchone()
        assert row is not None
        found = {
            "relay published": int(row[0]),
            "checkpoint signed": int(row[1]),
            "checkpoint on the topic": int(row[2]),
        }
        for name in READ_MODELS:
            found[f"projection {name}"] = projections_position(topic, (name,))(conn)
        found["every projection"] = min(found[f"projection {name}"] for name in READ_MODELS)
        return found

    def wait(self, end: int, timeout: float, quiet: bool = False) -> None:
        deadline = time.monotonic() + timeout
        next_print = time.monotonic() + 15
        with connect(self.settings) as conn:
            while True:
                now = time.time() - self.started
                found = self.positions(conn)
                for name, position in found.items():
                    if position >= end and name not in self.reached:
                        self.reached[name] = now
                if all(name in self.reached for name in found):
                    return
                behind = ", ".join(f"{n} {p:,}" for n, p in found.items() if n not in self.reached)
                ended = [f"{s.name} (log {s.log_path})" for s in self.services if not s.alive()]
                if ended:
                    raise SystemExit(f"ended before the log's end: {', '.join(ended)}; behind: {behind}")
                if time.monotonic() > deadline:
                    raise SystemExit(f"not at position {end:,} after {timeout:.0f} s: {behind}")
                if not quiet and time.monotonic() >= next_print:
                    print(f"  {now:6.0f} s: log end {end:,}; behind: {behind}", flush=True)
                    next_print = time.monotonic() + 15
                time.sleep(POLL_SECONDS)


# ---- the checks ------------------------------------------------------------------------------


def _value_topics() -> list[str]:
    return [topic for topic, model in TOPICS.items() if model.event_type in VALUE_EVENTS]


def fold_store(conn: psycopg.Connection[TupleRow]) -> int:
    """The store's value events folded in SQL into the temporary table `folded`, straight from the stored
    state (the library's JSON): the latest value of each (agency, period, indicator) by position, and
    how many value events it had. Returns the number of cells."""
    conn.execute(
        "CREATE TEMPORARY TABLE folded AS"
        " WITH v AS ("
        "  SELECT s->>'agency' AS agency, s->>'period' AS period, s->>'indicator' AS indicator,"
        "  s->'value' AS value, notification_id AS position"
        "  FROM (SELECT convert_from(state, 'UTF8')::jsonb AS s, notification_id FROM reporting_events"
        "   WHERE topic = ANY(%s)) e)"
        " SELECT agency, period, indicator, (array_agg(value ORDER BY position DESC))[1] AS value,"
        " count(*)::int AS revision, max(position) AS position FROM v GROUP BY agency, period, indicator",
        (_value_topics(),),
    )
    row = conn.execute("SELECT count(*) FROM folded").fetchone()
    return int(row[0]) if row else 0


def check_report_view(conn: psycopg.Connection[TupleRow]) -> list[str]:
    """rm_report_values equals the fold of the store, cell by cell (value, revision, position)."""
    rows = conn.execute(
        "SELECT coalesce(f.agency, r.agency), coalesce(f.period, r.period), coalesce(f.indicator, r.indicator),"
        " f.value, f.revision, f.position, r.value, r.revision, r.position"
        " FROM folded f FULL JOIN rm_report_values r"
        " ON (r.agency, r.period, r.indicator) = (f.agency, f.period, f.indicator)"
        " WHERE (f.value, f.revision, f.position) IS DISTINCT FROM (r.value, r.revision, r.position)"
        " OR f.agency IS NULL OR r.agency IS NULL"
    ).fetchall()
    cells = conn.execute("SELECT count(*) FROM rm_report_values").fetchone()
    problems = [f"report view {r[0]} {r[1]} {r[2]}: store {r[3:6]}, read model {r[6:9]}" for r in rows[:10]]
    if len(rows) > 10:
        problems.append(f"... {len(rows) - 10} more report-view cells differ")
    print(f"  report view: {cells[0] if cells else 0:,} cells, {len(rows)} differ from the store's fold")
    return problems


def check_national_rollups(settings: Settings, conn: psycopg.Connection[TupleRow], codes: Sequence[str]) -> list[str]:
    """The national figures `/rollups` answers (month, quarter, half-year, year) equal sums over the fold."""
    periods = [PERIOD.containing(kind) for kind in PeriodKind]
    # Every period here holds the one month of values, summed over time and over agencies.
    rows = conn.execute(
        "SELECT indicator, count(*), sum((value #>> '{}')::numeric) FROM folded WHERE period = %s GROUP BY indicator",
        (PERIOD.code,),
    ).fetchall()
    expected = {str(r[0]): (int(r[1]), int(r[2])) for r in rows}
    pool = open_pool(settings, max_size=1)
    try:
        reference = ReferenceQueries(pool, settings.kafka_topic)
        figures = RollupQueries(pool, reference, settings.kafka_topic).figure_rows(
            reference.snapshot(), codes, periods, [Scope.NATIONAL]
        )
    finally:
        pool.close()
    problems = []
    got = {(f.indicator, f.period): (f.agencies_reported, f.value) for f in figures}
    for code in codes:
        for period in periods:
            agencies, total = expected.get(code, (0, 0))
            shown = got.get((code, period.code))
            if shown is None or shown[0] != agencies or shown[1] is None or int(shown[1]) != total:
                problems.append(
                    f"national {code} {period.code}: store {agencies} agencies, sum {total}; /rollups {shown}"
                )
    print(
        f"  national roll-ups: {len(codes) * len(periods):,} figures, {len(problems)} differ from sums over the store"
    )
    return problems[:10] + ([f"... {len(problems) - 10} more figures differ"] if len(problems) > 10 else [])


def count_topic(settings: Settings, last: int, idle: float = 3.0) -> tuple[int, int, int]:
    """(records, distinct positions, highest position) on the events topic, read from offset 0 of every
    partition until no partition returned anything for `idle` seconds. `last`: the store's last position
    (positions seen are marked in a bitmap of that size; a higher one is counted apart)."""
    info = describe_topic(settings, settings.kafka_topic)
    if info is None:
        return 0, 0, 0
    consumer = assigned_consumer(settings, max_poll_records=50_000, fetch_max_wait_ms=100)
    seen = bytearray(last + 1)
    beyond: set[int] = set()
    records = 0
    try:
        partitions = [TopicPartition(settings.kafka_topic, p) for p in info.partitions]
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, 0)
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < idle:
            for batch in consumer.poll(timeout_ms=100).values():
                quiet_since = time.monotonic()
                records += len(batch)
                for record_ in batch:
                    position = int(orjson.loads(record_.value)["position"])
                    if 0 < position <= last:
                        seen[position] = 1
                    else:
                        beyond.add(position)
    finally:
        consumer.close()
    highest = max(beyond, default=0) or max(seen.rfind(1), 0)
    return records, seen.count(1) + len(beyond), highest


def check_topic(settings: Settings, stored: int, last: int) -> list[str]:
    records, distinct, highest = count_topic(settings, last)
    print(f"  topic: {records:,} records, {distinct:,} positions, last {highest:,} (store: {stored:,}, last {last:,})")
    if (records, distinct, highest) == (stored, stored, last):
        return []
    return [f"the topic holds {records:,} records of {distinct:,} positions up to {highest:,}; the store {stored:,}"]


def check_transparency_log(settings: Settings, stored: int) -> list[str]:
    """`reporting audit verify` from the store and from the topic; the last checkpoint covers the store."""
    key = signing_key(settings).verifier
    problems = []
    with connect(settings) as conn:
        row = conn.execute("SELECT count(*), coalesce(max(position), 0) FROM tlog_leaves").fetchone()
        last = conn.execute("SELECT coalesce(max(notification_id), 0) FROM reporting_events").fetchone()
    assert row is not None
    assert last is not None
    print(f"  transparency log: {row[0]:,} leaves, last position {row[1]:,}")
    if (int(row[0]), int(row[1])) != (stored, int(last[0])):
        problems.append(f"the transparency log holds {row[0]:,} leaves up to {row[1]:,}; the store {stored:,}")
    for label, options in (("from the store", Options(from_store=True)), ("from the topic", Options(idle_seconds=3.0))):
        out = io.StringIO()
        report = verify(settings, key, options)
        print_report(report, out)
        print(f"  audit verify {label}: {report.events:,} events, {report.checkpoints} checkpoints,"
              f" covered {report.covered:,}: {'ok' if report.ok else 'FAILED'}")  # fmt: skip
        if not report.ok:
            problems.append(f"audit verify {label}:\n" + out.getvalue())
        elif report.covered != stored or report.events != stored:
            problems.append(
                f"audit verify {label}: {report.events:,} events, checkpoint covers {report.covered:,} of {stored:,}"
            )
    return problems


def check_replay(settings: Settings) -> list[str]:
    """Every read model, table by table, equals the same projections replayed from the event store."""
    out = io.StringIO()
    started = time.perf_counter()
    report = replay(settings, from_store=True, out=out)
    print(
        f"  replay from the store ({time.perf_counter() - started:.0f} s): "
        + out.getvalue().strip().replace("\n", "\n    ")
    )
    return [] if report.ok else ["read models differ from their replay from the store (above)"]


# ---- the run ---------------------------------------------------------------------------------


def _mib(n: int) -> float:
    return n / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=10_000, help="reporting units (agencies)")
    parser.add_argument("--indicators", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8, help="load-generator processes")
    parser.add_argument("--correction-rate", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait for the pipeline")
    parser.add_argument(
        "--no-replay", action="store_true", help="skip replaying every read model from the store (the longest check)"
    )
    args = parser.parse_args()
    print(f"load average at the start {os.getloadavg()[0]:.2f} (2 cores)", flush=True)
    codes, units = indicator_codes(args.indicators), agency_codes(args.units)
    with bench_environment() as environment:
        settings = replace(
            environment.settings,
            ingest_port=free_port(),
            rate_limit_per_token=0,
            checkpoint_interval_seconds=1,
            audit_key_path=str(environment.folder / "audit" / "checkpoint.key"),
        )
        started = time.perf_counter()
        load_national_reference(settings, args.units, args.indicators)
        tokens = issue_tokens(settings, Role.AGENCY_REPORTER, units)
        print(f"seeded {args.units:,} units, {args.indicators} indicators and {args.units:,} tokens"
              f" in {time.perf_counter() - started:.1f} s", flush=True)  # fmt: skip
        env = {**os.environ, **settings.to_env()}
        services = [Service(name, env, log_path(f"bench-national-{name}"), SERVICES[name]) for name in STACK]
        for service in services:
            service.start()
        try:
            _run(environment, settings, services, tokens, codes, args)
        finally:
            for service in services:
                service.stop()
        return _check(settings, codes, replay_too=not args.no_replay)


def _run(
    environment: BenchEnvironment,
    settings: Settings,
    services: list[Service],
    tokens: dict[str | None, str],
    codes: list[str],
    args: argparse.Namespace,
) -> None:
    url = f"http://127.0.0.1:{settings.ingest_port}"
    wait_until(lambda: http_ready(url), 60, what="ingest ready")
    # The seed through the whole pipeline first: the month is measured alone.
    Milestones(settings, time.time(), services).wait(store_end(settings)[1], args.timeout, quiet=True)
    before, _ = store_end(settings)
    groups = {f"{s.name} ({' '.join(SERVICES[s.name])})": [s.process.pid] for s in services if s.process}
    postmaster, broker = environment.postgres.pid, environment.broker.pid
    assert postmaster is not None, "PostgreSQL runs"
    assert broker is not None, "the broker runs"
    groups[POSTGRES] = [postmaster]
    groups["broker"] = [broker]
    by_agency = {a: t for a, t in tokens.items() if a is not None}
    agencies = list(by_agency)
    sources = [
        partial(
            unit_jobs,
            url,
            {a: by_agency[a] for a in agencies[i :: args.clients]},
            codes,
            PERIOD.code,
            args.correction_rate,
            args.seed * 1000 + i,
        )
        for i in range(args.clients)
    ]
    with MemorySampler(groups) as memory:
        first_request, sent = run_clients(sources)
        accepted = max(s.finished for s in sent) - first_request
        stored, end = store_end(settings)
        milestones = Milestones(settings, first_request, services)
        milestones.reached["every value accepted"] = accepted
        print(f"every value accepted after {accepted:.1f} s; log end {end:,}", flush=True)
        milestones.wait(end, args.timeout)
        memory.sample()
    values = sum(sum(s.sizes) for s in sent)
    # Each client sends one form per unit of its share, then one correction request per unit.
    forms = [lat for s in sent for lat in s.latencies[: len(s.latencies) // 2]]
    corrections = [lat for s in sent for lat in s.latencies[len(s.latencies) // 2 :]]
    end_to_end = max(milestones.reached.values())
    load = os.getloadavg()
    print(f"workload: {args.units:,} units x {args.indicators} indicators + {args.correction_rate:.0%} corrections"
          f" = {values:,} values in {len(forms) + len(corrections):,} requests, {args.clients} client processes;"
          f" {stored - before:,} events (log end {end:,}); load average now {load[0]:.2f} (2 cores)")  # fmt: skip
    print("seconds from the first request:")
    for name, seconds in sorted(milestones.reached.items(), key=lambda item: item[1]):
        print(f"  {name:<40} {seconds:8.1f} s")
    print(f"end to end                                  {end_to_end:8.1f} s   (target <= {END_TO_END_TARGET:.0f} s)")
    print(
        f"ingest, every value accepted           {values / accepted:10,.0f} values/s   (target >= {INGEST_TARGET:,.0f})"
    )
    print(f"latency per {args.indicators}-value form          p50 {percentile(forms, 50) * 1000:7.1f} ms"
          f"   p99 {percentile(forms, 99) * 1000:7.1f} ms")  # fmt: skip
    if corrections:
        print(f"latency per correction request          p50 {percentile(corrections, 50) * 1000:7.1f} ms"
              f"   p99 {percentile(corrections, 99) * 1000:7.1f} ms")  # fmt: skip
    print(f"peak RSS (sampled every {SAMPLE_SECONDS} s; process trees summed):")
    for name, peak in memory.peaks.items():
        print(f"  {name:<60} {_mib(peak):8.0f} MiB")

    record("national month: end to end (HTTP, relay, projections, checkpoint)", end_to_end, "s",
           target=END_TO_END_TARGET, better="lower")  # fmt: skip
    record("national month: HTTP ingest, every value accepted", values / accepted, "values/s", target=INGEST_TARGET)
    for name, seconds in milestones.reached.items():
        record(f"national month: {name}", seconds, "s", better="lower")
    record(f"national month: p50 per {args.indicators}-value form", percentile(forms, 50) * 1000, "ms", better="lower")
    record(f"national month: p99 per {args.indicators}-value form", percentile(forms, 99) * 1000, "ms", better="lower")
    for name, peak in memory.peaks.items():
        record(f"national month: peak RSS, {name}", _mib(peak), "MiB", better="lower")


def _check(settings: Settings, codes: list[str], *, replay_too: bool) -> int:
    stored, end = store_end(settings)
    print("checks:", flush=True)
    problems: list[str] = []
    started = time.perf_counter()
    with connect(settings) as conn:
        cells = fold_store(conn)
        print(f"  the store's value events folded into {cells:,} cells in {time.perf_counter() - started:.1f} s")
        problems += check_report_view(conn)
        problems += check_national_rollups(settings, conn, codes)
    problems += check_topic(settings, stored, end)
    problems += check_transparency_log(settings, stored)
    if replay_too:
        problems += check_replay(settings)
    print(f"  checks took {time.perf_counter() - started:.0f} s")
    if problems:
        print("DIFFERENCES:")
        for problem in problems:
            print(f"  {problem}")
        return 1
    print("ok: the read models, the topic and the transparency log equal the store")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
