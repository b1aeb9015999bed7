"""Web page latency at national scale: the entry form, the review queue and the home pages.

    python -m bench.pages --agencies 10000 --indicators 200 --requests 200

Fills the event store with `agencies` reporting units (in six regions) on one template of
`indicators` indicators in the eight groups, with cross-indicator rules: every agency submits last
month (approved) and the open month (some approved, some returned, the rest awaiting review, so the
queue is long), with a few values; the clerks' agencies measured here have every value of three months.
The read models are rebuilt from the store (the rebuild path, in process), the web app is started as
its own process, people sign in over HTTP, and each page is requested sequentially over one keep-alive
connection.

Two figures per page: **server-side**, the time in the app, read from the `Server-Timing` header the
app sets on every answer (`services/web/timing.py`), and **client-side**, the wall time on loopback
(HTTP parsing and the network stack added).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import httpx

from bench.environment import ADMIN, bench_settings
from bench.report import record
from domain.agencies import AgencyKind
from domain.catalogue import Indicator, IndicatorGroup
from domain.identity import Principal, Role
from domain.periods import Period, PeriodKind, period_for_date
from domain.rules import Expression, Rule
from domain.submission import Submission
from domain.values import Aggregation, ValueType
from entrypoints.bootstrap import postgres_store, postgres_write_side, write_side
from infra.clock import vietnam_today
from infra.runtime.ports import free_port, wait_until
from infra.runtime.processes import Service, http_ready
from infra.settings import Settings
from services.ingest.application.access import create_account
from services.ingest.application.catalogue import define_indicators, publish_template
from services.ingest.application.commands import CreateAccount, DefineIndicators, PublishTemplate, RegisterAgency
from services.ingest.application.registry import register_agency
from services.ingest.application.seed import reporting_regime
from services.projector.rebuild import Rebuild

TEMPLATE = "BENCH-PAGES"
REGIONS = ("red_river_delta", "northern_midlands_mountains", "north_central_central_coast", "central_highlands",
           "southeast", "mekong_delta")  # fmt: skip
GROUPS = list(IndicatorGroup)
CLERKS = 10  # agencies whose clerks sign in: their months are full
PASSWORD = "mật-khẩu-đo-hiệu-năng-2026"  # noqa: S105 - benchmark accounts in a throwaway cluster
BATCH = 500


def indicator_codes(count: int) -> list[str]:
    return [f"PG.{GROUPS[n % len(GROUPS)].value[:3].upper()}.I{n:03d}" for n in range(count)]


def load_reference(settings: Settings, agencies: int, indicators: int) -> list[str]:
    codes = indicator_codes(indicators)
    with postgres_write_side(settings) as writer:
        definitions = [
            Indicator(
                code,
                f"Chỉ tiêu đo hiệu năng số {n}",
                f"Benchmark indicator {n}",
                GROUPS[n % len(GROUPS)],
                "đơn vị",
                ValueType.INTEGER,
                Aggregation.SUM,
                Aggregation.SUM,
                minimum=Decimal(0),
                required=n < 20,
            )
            for n, code in enumerate(codes)
        ]
        # A rule per group: its first indicator does not exceed the sum of the next two.
        rules = [
            Rule(
                f"PG.R{g}",
                f"Quy tắc {g}",
                f"Rule {g}",
                Expression((codes[g],)),
                "<=",
                Expression((codes[g + len(GROUPS)], codes[g + 2 * len(GROUPS)])),
            )
            for g in range(len(GROUPS))
            if g + 2 * len(GROUPS) < len(codes)
        ]
        define_indicators(writer, ADMIN, DefineIndicators(tuple(definitions), tuple(rules)))
        publish_template(writer, ADMIN, PublishTemplate(TEMPLATE, "2024-01", tuple(codes), name_vi="Biểu mẫu đo",
                                                        applies_to="provincial_department"))  # fmt: skip
        for n in range(agencies):
            register = RegisterAgency(code=agency_code(n), name_vi=f"Sở Khoa học và Công nghệ số {n}",
                                      kind=AgencyKind.PROVINCIAL_DEPARTMENT, effective_from=date(2020, 1, 1),
                                      region=REGIONS[n % len(REGIONS)], template=TEMPLATE)  # fmt: skip
            register_agency(writer, ADMIN, register)
        for n in range(CLERKS):
            create_account(writer, ADMIN, CreateAccount(f"canbo.{n}", f"Cán bộ {n}", agency_code(n),
                                                        frozenset({Role.AGENCY_REPORTER}), PASSWORD))  # fmt: skip
        create_account(writer, ADMIN, CreateAccount("thamdinh", "Thẩm định viên", None,
                                                    frozenset({Role.MINISTRY_REVIEWER}), PASSWORD))  # fmt: skip
    return codes


def agency_code(n: int) -> str:
    return f"B{n:05d}"


def fill(settings: Settings, agencies: int, codes: list[str], months: list[Period]) -> int:
    """Every agency submits each month; the clerks' agencies with every value, the others with the required ones."""
    reviewer = Principal("user:thamdinh", Role.MINISTRY_REVIEWER)
    regime = reporting_regime()
    events = 0
    with postgres_store(settings) as store:
        reference = write_side(store).reference
        for index, period in enumerate(months):
            form = reference.form(TEMPLATE, period)
            current = index == len(months) - 1
            submitted_on = period.cutoff_window()[1]
            pending: list[Submission] = []
            for n in range(agencies):
                agency = agency_code(n)
                principal = Principal(f"user:canbo.{agency}", Role.AGENCY_REPORTER, agency)
                submission = Submission.open(agency, period, form, principal)
                chosen = codes if n < CLERKS else codes[:20]
                submission.enter_values([(code, 100 + (n + i) % 50) for i, code in enumerate(chosen)], form, principal)
                if not (current and n < CLERKS):  # the clerks' open month stays a draft, to be filled
                    submission.submit(form, regime, submitted_on, principal)
                    if not current or n % 10 < 3:
                        submission.approve(reviewer)
                    elif n % 10 == 3:
                        submission.return_for_revision(reviewer, "Đề nghị kiểm tra lại số liệu")
                events += len(submission.pending_events)
                pending.append(submission)
                if len(pending) == BATCH:
                    store.app.save(*pending)
                    pending = []
            if pending:
                store.app.save(*pending)
    return events


def sign_in(http: httpx.Client, username: str) -> None:
    form = http.get("/sign-in").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None
    answer = http.post("/sign-in", data={"username": username, "password": PASSWORD, "csrf_token": token[1]})
    assert answer.status_code == 303, answer.text


def measure(call: Callable[[], httpx.Response], repeat: int) -> tuple[list[float], list[float]]:
    """(server-side ms, client-side ms) of `repeat` sequential requests."""
    server, client = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        response = call()
        client.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text[:500]
        timing = re.search(r"app;dur=([0-9.]+)", response.headers.get("server-timing", ""))
        assert timing is not None, "the app sets Server-Timing"
        server.append(float(timing[1]))
    return server, client


def at(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def percentiles(samples: list[float]) -> str:
    return f"p50 {statistics.median(samples):6.1f}  p95 {at(samples, 0.95):6.1f}  p99 {at(samples, 0.99):6.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agencies", type=int, default=10_000)
    parser.add_argument("--indicators", type=int, default=200)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    current = period_for_date(vietnam_today(), PeriodKind.MONTH)
    months = [current.previous().previous(), current.previous(), current]
    with bench_settings() as base:
        settings = replace(base, web_port=free_port())
        started = time.perf_counter()
        codes = load_reference(settings, args.agencies, args.indicators)
        events = fill(settings, args.agencies, codes, months)
        print(f"filled the store: {args.agencies:,} agencies, {events:,} submission events in"
              f" {time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip
        rebuild = Rebuild(settings, ["reference", "report_view", "compliance", "audit_trail"], from_store=True)
        print(rebuild.run(threading.Event()).describe(), flush=True)

        folder = Path(tempfile.mkdtemp(prefix="reporting-bench-"))
        service = Service("web", {**os.environ, **settings.to_env()}, folder / "web.log")
        service.start()
        url = f"http://127.0.0.1:{settings.web_port}"
        results: dict[str, tuple[list[float], list[float]]] = {}
        try:
            wait_until(lambda: http_ready(url), 60, what="web app")
            clerks = [httpx.Client(base_url=url, timeout=60) for _ in range(CLERKS)]
            reviewer = httpx.Client(base_url=url, timeout=60)
            for n, clerk in enumerate(clerks):
                sign_in(clerk, f"canbo.{n}")
            sign_in(reviewer, "thamdinh")
            turn = iter(range(10**9))

            def form() -> httpx.Response:  # each clerk in turn: ten agencies' forms of 200 indicators
                n = next(turn) % CLERKS
                return clerks[n].get(f"/agencies/{agency_code(n)}/periods/{current.code}")

            def clerk_home() -> httpx.Response:
                n = next(turn) % CLERKS
                return clerks[n].get("/")

            pages: dict[str, Callable[[], httpx.Response]] = {
                f"entry form ({args.indicators} indicators, 3 months of history)": form,
                "clerk home (12 months)": clerk_home,
                "review queue (every month, first page of 50)": lambda: reviewer.get("/review"),
                "review queue (one month and one region)": lambda: reviewer.get(
                    "/review", params={"period": current.code, "region": REGIONS[2]}
                ),
                "review queue (page 40)": lambda: reviewer.get("/review", params={"page": 40}),
                f"reviewer home (queue, counts of {args.agencies:,} agencies x 6 months)": lambda: reviewer.get("/"),
                "report read-only for the reviewer": lambda: reviewer.get(
                    f"/agencies/{agency_code(CLERKS + 5)}/periods/{current.code}"
                ),
            }
            for label, call in pages.items():
                measure(call, 5)  # warm caches (reference snapshot, aggregates, templates)
                results[label] = measure(call, args.requests)
            csrf = re.search(r'data-csrf="([^"]+)"', clerks[0].get("/").text)
            assert csrf is not None
            cell = f"/agencies/{agency_code(0)}/periods/{current.code}/check"
            results["check of a typed value (htmx)"] = measure(
                lambda: clerks[0].post(
                    cell,
                    params={"indicator": codes[3]},
                    data={f"v.{codes[3]}": "1.234"},
                    headers={"X-CSRF-Token": csrf[1]},
                ),
                args.requests,
            )
            keys = iter(range(10**9))
            save = f"/agencies/{agency_code(0)}/periods/{current.code}/cells/{codes[5]}"
            results["save of a cell (a new value each time)"] = measure(
                lambda: clerks[0].post(
                    save,
                    data={f"v.{codes[5]}": str(1000 + next(keys))},
                    headers={"X-CSRF-Token": csrf[1], "Idempotency-Key": f"bench-{next(keys)}"},
                ),
                args.requests,
            )
        finally:
            service.stop()
    print(f"data: {args.agencies:,} agencies x 3 months, {args.indicators} indicators; {args.requests} requests each")
    print(f"{'page':<72} {'server-side (Server-Timing)':<40} client-side (loopback)")
    for label, (server, client) in results.items():
        print(f"{label:<72} {percentiles(server):<40} {percentiles(client)}")
        record(f"{label}, server-side p95", at(server, 0.95), "ms", target=300, better="lower")
        record(f"{label}, client-side p95", at(client, 0.95), "ms", better="lower")


if __name__ == "__main__":
    main()
