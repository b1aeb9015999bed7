"""The web app's boards at national scale, and a change reaching an open board.

    python -m bench.boards --agencies 10000 --months 12 --rate 1000 --seconds 20

1. Fills the event store (bench.rollups): `agencies` reporting units in six regions, `months` months
   of five indicators (one per aggregation type) on a 40-indicator template, 90 % of the reports
   submitted, some of them late; builds every read model from the store (`reporting rebuild --from-store`).
2. Starts the stack's processes (ingest, relay, the three projectors, the web app) and waits until
   the relay has published the log and every projector stands at its end.
3. Server-side page times as a signed-in reviewer, sequentially over one keep-alive connection: the
   display board (tiles, the national trend, rankings), its live fragment, the trend by quarter and
   by year, one region's board, the compliance board of a month and of every month; and, as the
   baseline in the same run, the same reads in this process without HTTP or templates.
4. Accepted -> visible on an open board: client processes post values at `rate` values/s to the write
   API; `boards` SSE clients in this process each hold a board's stream open and, on every event,
   re-fetch the board's live fragment as the browser does, noting the position it reflects
   (`data-position`). A value is visible on a board once a fragment it fetched reflects the value's
   position (the accepted answer's `position`).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx
import orjson

from bench.environment import bench_settings, issue_tokens
from bench.ingest import percentile
from bench.report import record
from bench.rollups import fill, load_reference
from domain.identity import Role
from domain.periods import Period
from domain.scope import Scope
from entrypoints.bootstrap import postgres_write_side, read_side
from entrypoints.stack import SERVICES
from infra.clock import SystemClock
from infra.db import connect, open_pool
from infra.runtime.ports import free_port, wait_until
from infra.runtime.processes import Service, http_ready, log_path
from infra.settings import Settings
from services.ingest.application.access import create_account
from services.ingest.application.commands import CreateAccount
from services.ingest.application.seed import SEED_ADMIN
from services.projector.rebuild import Rebuild
from services.readmodels import READ_MODELS
from services.readmodels.freshness import projections_position
from services.web.display import BoardChoice, build, default_indicators

FILLED = 5  # indicators with values in every month (one per aggregation type)
TEMPLATE_INDICATORS = 40
BATCH = 40  # values per request of the live load: a form's worth
LIVE_AGENCIES = 2000
USERNAME = "lanhdao"
PASSWORD = "mật-khẩu-lãnh-đạo-2026"  # noqa: S105 - a benchmark's own account
_POSITION = re.compile(r'data-position="(\d+)"')
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def _signed_in(url: str) -> httpx.Client:
    """A reviewer's session on the web app (the sign-in form, its token, the session cookie)."""
    client = httpx.Client(base_url=url, timeout=120)
    found = _TOKEN.search(client.get("/sign-in").text)
    assert found, "the sign-in form holds its token"
    answer = client.post("/sign-in", data={"username": USERNAME, "password": PASSWORD, "csrf_token": found.group(1)})
    assert answer.status_code == 303, answer.text
    return client


def _visible(settings: Settings) -> tuple[int, int]:
    """(position every read model reflects, last position of the log)."""
    with connect(settings) as conn:
        row = conn.execute("SELECT coalesce(max(notification_id), 0) FROM reporting_events").fetchone()
        return projections_position(settings.kafka_topic, READ_MODELS)(conn), int(row[0]) if row else 0


def _wait_caught_up(settings: Settings, timeout: float) -> float:
    started = time.monotonic()
    last_print = started

    def done() -> bool:
        nonlocal last_print
        reflected, end = _visible(settings)
        if time.monotonic() - last_print > 15:
            print(f"  read models at {reflected:,} of {end:,}", flush=True)
            last_print = time.monotonic()
        return reflected >= end

    wait_until(done, timeout, interval=1.0, what="every read model caught up")
    return time.monotonic() - started


def _quantiles(samples: list[float]) -> str:
    return "   ".join(f"p{q} {percentile(samples, q) * 1000:7.1f} ms" for q in (50, 95, 99))


def _timed(call: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def _pages(client: httpx.Client, last: Period, first: Period, repeat: int) -> dict[str, list[float]]:
    def get(path: str) -> Callable[[], object]:
        def call() -> object:
            answer = client.get(path)
            assert answer.status_code == 200, (path, answer.status_code, answer.text[:500])
            return answer

        return call

    month = last.code
    one_month = f"from={month}&to={month}"
    pages = {
        "display board, whole page (tiles, national trend, rankings)": f"/boards?period={month}",
        "display board, live fragment (what an open board re-fetches)": f"/boards/live?period={month}",
        "national trend by quarter (live fragment)": f"/boards/live?period={month}&trend=quarter",
        "national trend by year (live fragment)": f"/boards/live?period={month}&trend=year",
        "one region's board (live fragment)": f"/boards/live?period={month}&region=red_river_delta",
        "compliance board of a month, whole page": f"/compliance?{one_month}",
        "compliance board of a month, live fragment": f"/compliance/board?{one_month}",
        "compliance board of a month, sorted by days late": f"/compliance?{one_month}&sort=days_late&dir=desc",
        f"compliance board, {first.code} to {month}": f"/compliance?from={first.code}&to={month}",
    }
    for path in pages.values():
        get(path)()  # warm: the reference snapshot, the templates
    measured = {}
    for label, path in pages.items():
        measured[label] = _timed(get(path), repeat)
        print(f"  {label:<72} {_quantiles(measured[label])}", flush=True)
    return measured


def _baselines(settings: Settings, last: Period, first: Period, repeat: int) -> dict[str, list[float]]:
    """The same reads in this process: the read models' queries and the board's arithmetic, no HTTP."""
    pool = open_pool(settings, max_size=2)
    try:
        read = read_side(settings, pool)
        ref = read.reference.snapshot()
        codes = default_indicators(ref)
        choice = BoardChoice(codes, codes[0], last)
        months = [first]
        while months[-1] < last:
            months.append(months[-1].next())
        today = SystemClock().today()
        return {
            "baseline: display board built in process": _timed(lambda: build(read, ref, choice, 0), repeat),
            # Worked out afresh, as after a change (the pages share a board until its rows change).
            "baseline: compliance board of a month worked out in process": _timed(
                lambda: read.compliance.compute_board(ref, [last], Scope.NATIONAL, today), repeat
            ),
            "baseline: compliance board of every month worked out in process": _timed(
                lambda: read.compliance.compute_board(ref, months, Scope.NATIONAL, today), max(5, repeat // 10)
            ),
        }
    finally:
        pool.close()


def _client(url: str, jobs: list[tuple[str, str]], codes: list[str], period: str, interval: float, out: Any) -> None:
    """Post BATCH values per request, paced to one request every `interval` seconds; report the acks."""
    acks = []
    rng = random.Random(os.getpid())
    next_at = time.time()
    with httpx.Client(timeout=30) as client:
        for agency, token in jobs:
            next_at += interval
            delay = next_at - time.time()
            if delay > 0:
                time.sleep(delay)  # pacing the load generator, not waiting on a result
            values = [{"indicator": code, "value": rng.randint(0, 10_000)} for code in codes]
            answer = client.post(
                f"{url}/agencies/{agency}/periods/{period}/values",
                json={"values": values},
                headers={"Authorization": f"Bearer {token}"},
            )
            if answer.status_code == 200 and answer.json()["position"]:
                acks.append((int(answer.json()["position"]), time.time()))
    out.put(acks)


class OpenBoard:
    """A browser's open board: the SSE stream, and on each event the live fragment fetched again."""

    def __init__(self, url: str, fragment: str) -> None:
        self.stream = _signed_in(url)
        self.fetcher = _signed_in(url)
        self.fragment = fragment
        self.seen: list[tuple[float, int]] = []  # (fragment received, position it reflects)
        self.fetches: list[float] = []  # how long each fragment took to fetch, under the load
        self.announced: list[tuple[float, int]] = []  # (event received, the roll-ups' position it announced)
        self.open = threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self._follow()
        except httpx.HTTPError:  # the web app stopped under the open stream
            return

    def _follow(self) -> None:
        with self.stream.stream(
            "GET", "/live?watch=rollups&watch=reference", timeout=httpx.Timeout(30, read=None)
        ) as s:
            name = ""
            for line in s.iter_lines():
                if line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:") and name == "ready":
                    self.open.set()
                elif line.startswith("data:") and name == "changed":
                    rollups = orjson.loads(line[5:]).get("rollups")
                    if rollups is not None:
                        self.announced.append((time.time(), int(rollups)))
                    asked = time.perf_counter()
                    answer = self.fetcher.get(self.fragment)
                    self.fetches.append(time.perf_counter() - asked)
                    found = _POSITION.search(answer.text)
                    if found:
                        self.seen.append((time.time(), int(found.group(1))))
                if self.stop.is_set():
                    return


def _live(
    settings: Settings, web: str, ingest: str, codes: list[str], args: argparse.Namespace
) -> tuple[list[float], list[float], list[float], float, int]:
    """(accepted -> visible delays, accepted -> announced delays, fragment fetch times, values/s, values sent)."""
    rate, seconds, clients = args.rate, args.seconds, args.clients
    agencies = [f"R{n:05d}" for n in range(min(LIVE_AGENCIES, args.agencies))]
    issued = issue_tokens(settings, Role.AGENCY_REPORTER, agencies)
    tokens = {a: issued[a] for a in agencies}
    period = "2026-01"
    boards = [OpenBoard(web, f"/boards/live?period={period}&focus={codes[0]}") for _ in range(args.boards)]
    for board in boards:
        board.thread.start()
    assert all(board.open.wait(30) for board in boards), "every board's stream opened"
    requests = rate * seconds // BATCH
    rng = random.Random(7)
    jobs = [(agency, tokens[agency]) for agency in (rng.choice(agencies) for _ in range(requests))]
    queue: multiprocessing.Queue[list[tuple[int, float]]] = multiprocessing.Queue()
    interval = clients * BATCH / rate
    processes = [
        multiprocessing.Process(target=_client, args=(ingest, jobs[i::clients], codes[:BATCH], period, interval, queue))
        for i in range(clients)
    ]
    started = time.time()
    for process in processes:
        process.start()
    acks: list[tuple[int, float]] = []
    for _ in processes:
        acks += queue.get()
    sent_seconds = time.time() - started
    last = max(position for position, _ in acks)
    wait_until(
        lambda: all(any(p >= last for _, p in board.seen) for board in boards),
        120,
        interval=0.1,
        what="the last value on every board",
    )
    visible, announced, fetches = [], [], []
    for board in boards:
        board.stop.set()
        visible += [next(t for t, p in board.seen if p >= position) - accepted for position, accepted in acks]
        for position, accepted in acks:  # the roll-ups' own announcement (the last may come after the stop)
            heard = next((t for t, p in board.announced if p >= position), None)
            if heard is not None:
                announced.append(heard - accepted)
        fetches += board.fetches
    return visible, announced, fetches, len(acks) * BATCH / sent_seconds, len(acks) * BATCH


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agencies", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--requests", type=int, default=100, help="per page measured")
    parser.add_argument("--rate", type=int, default=1000, help="values per second offered to the write API")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--clients", type=int, default=4, help="load-generator processes")
    parser.add_argument("--boards", type=int, default=10, help="open boards (SSE clients) in this process")
    args = parser.parse_args()
    months = [Period.parse("2025-01")]
    while len(months) < args.months:
        months.append(months[-1].next())
    with bench_settings() as base:
        settings = replace(base, ingest_port=free_port(), web_port=free_port(), rate_limit_per_token=0)
        started = time.perf_counter()
        codes = load_reference(settings, args.agencies, TEMPLATE_INDICATORS)
        values = fill(settings, args.agencies, codes[:FILLED], months, submitted=0.9)
        with postgres_write_side(settings) as ws:
            person = CreateAccount(USERNAME, "Lãnh đạo Bộ", None, frozenset({Role.MINISTRY_REVIEWER}), PASSWORD)
            create_account(ws, SEED_ADMIN, person)
        print(f"filled the store: {values:,} values in {time.perf_counter() - started:.0f} s", flush=True)
        # The read models from the store (faster than through the topic); the relay then publishes the
        # log and the projectors skip what the rebuild applied.
        print(Rebuild(settings, list(READ_MODELS), from_store=True, progress=None).run(threading.Event()).describe())

        env = {**os.environ, **settings.to_env()}
        names = ("ingest", "relay", "project", "project-rollups", "project-audit", "web")
        services = [Service(name, env, log_path(f"bench-boards-{name}"), SERVICES[name]) for name in names]
        for service in services:
            service.start()
        web = f"http://127.0.0.1:{settings.web_port}"
        ingest = f"http://127.0.0.1:{settings.ingest_port}"
        try:
            wait_until(lambda: http_ready(web) and http_ready(ingest), 60, what="web and ingest ready")
            caught_up = _wait_caught_up(settings, 1800)
            print(f"every read model caught up with the log in {caught_up:.0f} s", flush=True)
            client = _signed_in(web)
            try:
                pages = _pages(client, months[-1], months[0], args.requests)
            finally:
                client.close()
            baselines = _baselines(settings, months[-1], months[0], args.requests)
            visible, announced, fetches, reached, sent = _live(settings, web, ingest, codes, args)
        finally:
            for service in services:
                service.stop()
    print(f"data: {args.agencies:,} agencies x {args.months} months ({values:,} values, 90 % of reports submitted)")
    print(f"server-side page times ({args.requests} requests each, one after the other):")
    for label, samples in {**pages, **baselines}.items():
        print(f"  {label:<72} {_quantiles(samples)}")
        target = None if label in baselines else 300
        record(f"{label}, p95", percentile(samples, 95) * 1000, "ms", target=target, better="lower")
    print(
        f"live: {sent:,} values sent at {reached:,.0f} values/s ({args.rate:,} offered), {BATCH} per request;"
        f" {args.boards} boards open"
    )
    record("live load: rate offered", args.rate, "values/s")
    record("live load: rate reached", reached, "values/s")
    print(f"  accepted -> visible on an open board (fragment re-fetched)       {_quantiles(visible)}")
    visible_p99 = percentile(visible, 99) * 1000
    record("accepted -> visible on an open board, p99", visible_p99, "ms", target=2_000, better="lower")
    print(f"  accepted -> the roll-ups' advance announced on the board's stream {_quantiles(announced)}")
    record("accepted -> announced on the board's stream, p99", percentile(announced, 99) * 1000, "ms", better="lower")
    print(f"  the board's live fragment fetched under the load ({len(fetches)} fetches) {_quantiles(fetches)}")
    record("live fragment fetched under the load, p95", percentile(fetches, 95) * 1000, "ms", better="lower")


if __name__ == "__main__":
    main()
