"""Roll-up query latency: the national roll-up of 12 months x all agencies, over HTTP.

    python -m bench.rollups --agencies 10000 --indicators 5 --months 12

Fills the event store with `agencies` x `months` x `indicators` values (one
indicator per aggregation type: flow, stock, ratio, max, min), builds the
reference and roll-up read models with `reporting rebuild --from-store` (the
rebuild path, in process; its events/s is printed too), starts the reports
service and measures, sequentially over one keep-alive connection:

- the national series of one indicator over the 12 months (12 figures);
- every indicator over the 12 months (the target's "12 months x all agencies");
- the year figure by region;
and, as a baseline in the same run, the same reads straight from PostgreSQL
(the `RollupQueries.figure_rows` the endpoint calls, without HTTP, auth or JSON).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import httpx

from bench.environment import ADMIN, bench_settings, issue_tokens
from bench.report import record
from domain.agencies import AgencyKind
from domain.catalogue import Indicator, IndicatorGroup
from domain.identity import Principal, Role
from domain.periods import Period
from domain.scope import Scope
from domain.submission import Submission
from domain.values import Aggregation, ValueType
from entrypoints.bootstrap import postgres_store, postgres_write_side, write_side
from infra.db import open_pool
from infra.runtime.ports import free_port, wait_until
from infra.runtime.processes import Service, http_ready
from infra.settings import Settings
from services.ingest.application.catalogue import define_indicators, publish_template
from services.ingest.application.commands import DefineIndicators, PublishTemplate, RegisterAgency
from services.ingest.application.registry import register_agency
from services.projector.rebuild import Rebuild
from services.readmodels.reference.queries import ReferenceQueries
from services.readmodels.rollups.queries import RollupQueries

TEMPLATE = "BENCH-ROLLUP"
REGIONS = ("red_river_delta", "northern_midlands_mountains", "north_central_central_coast", "central_highlands",
           "southeast", "mekong_delta")  # fmt: skip
KINDS = [
    (ValueType.INTEGER, Aggregation.SUM, Aggregation.SUM),
    (ValueType.INTEGER, Aggregation.LAST, Aggregation.SUM),
    (ValueType.PERCENTAGE, Aggregation.AVERAGE, Aggregation.AVERAGE),
    (ValueType.DECIMAL, Aggregation.MAX, Aggregation.MAX),
    (ValueType.INTEGER, Aggregation.MIN, Aggregation.MIN),
]


def load_reference(settings: Settings, agencies: int, indicators: int) -> list[str]:
    codes = [f"RB.I{n:03d}" for n in range(indicators)]
    with postgres_write_side(settings) as writer:
        definitions = []
        for n, code in enumerate(codes):
            value_type, over_time, over_agencies = KINDS[n % len(KINDS)]
            group = IndicatorGroup.TELECOM_INTERNET
            definitions.append(
                Indicator(code, f"Chỉ tiêu {code}", code, group, "đơn vị", value_type, over_time, over_agencies)
            )
        define_indicators(writer, ADMIN, DefineIndicators(tuple(definitions)))
        template = PublishTemplate(TEMPLATE, "2025-01", tuple(codes), name_vi="Biểu mẫu tổng hợp", applies_to="x")
        publish_template(writer, ADMIN, template)
        for n in range(agencies):
            agency = RegisterAgency(
                code=f"R{n:05d}",
                name_vi=f"Đơn vị {n}",
                kind=AgencyKind.PROVINCIAL_DEPARTMENT,
                effective_from=date(2020, 1, 1),
                region=REGIONS[n % len(REGIONS)],
                template=TEMPLATE,
            )
            register_agency(writer, ADMIN, agency)
    return codes


def fill(settings: Settings, agencies: int, codes: list[str], months: list[Period], submitted: float = 0.0) -> int:
    """Every agency's values of `codes` for each month; a share `submitted` of the reports then submitted,
    some before their deadline and some after (the compliance board's statuses)."""
    rng = random.Random(2025)
    values = 0
    with postgres_store(settings) as store:
        ws = write_side(store)
        reference = ws.reference
        for period in months:
            deadline = ws.regime.deadline(period)
            form = reference.form(TEMPLATE, period)
            pending = []
            for n in range(agencies):
                agency = f"R{n:05d}"
                principal = Principal(f"bench:{agency}", Role.AGENCY_REPORTER, agency)
                submission = Submission.open(agency, period, form, principal)
                entries: list[tuple[str, object]] = []
                for i, code in enumerate(codes):
                    value_type = KINDS[i % len(KINDS)][0]
                    entries.append((code, rng.randint(0, 100) if value_type is not ValueType.DECIMAL else "12.5"))
                submission.enter_values(entries, form, principal)
                if rng.random() < submitted:
                    submission.submit(form, ws.regime, deadline + timedelta(days=rng.randint(-6, 4)), principal)
                pending.append(submission)
                values += len(entries)
                if len(pending) == 500:
                    store.app.save(*pending)
                    pending = []
            if pending:
                store.app.save(*pending)
    return values


def timed(call: Callable[[], object], repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agencies", type=int, default=10_000)
    parser.add_argument("--indicators", type=int, default=5)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    months = [Period.parse("2025-01")]
    while len(months) < args.months:
        months.append(months[-1].next())
    with bench_settings() as base:
        settings = replace(base, reports_port=free_port(), rate_limit_per_token=0)
        started = time.perf_counter()
        codes = load_reference(settings, args.agencies, args.indicators)
        values = fill(settings, args.agencies, codes, months)
        print(f"filled the store: {values:,} values in {time.perf_counter() - started:.0f} s")

        rebuild = Rebuild(settings, ["reference", "rollups"], from_store=True)
        summary = rebuild.run(threading.Event())
        print(summary.describe())
        record("roll-up rebuild from the store", summary.events / summary.seconds, "events/s", target=30_000)

        token = issue_tokens(settings, Role.AUDITOR, [None])[None]
        pool = open_pool(settings, max_size=1)
        try:
            reference = ReferenceQueries(pool, settings.kafka_topic)
            rollups = RollupQueries(pool, reference, settings.kafka_topic)
            ref = reference.snapshot()
            national = [Scope.NATIONAL]
            sql_series = timed(lambda: rollups.figure_rows(ref, codes[:1], months, national), args.requests)
            sql_all = timed(lambda: rollups.figure_rows(ref, codes, months, national), args.requests)
        finally:
            pool.close()

        folder = Path(tempfile.mkdtemp(prefix="reporting-bench-"))
        service = Service("reports", {**os.environ, **settings.to_env()}, folder / "reports.log")
        service.start()
        url = f"http://127.0.0.1:{settings.reports_port}"
        try:
            wait_until(lambda: http_ready(url), 60, what="reports service")
            headers = {"Authorization": f"Bearer {token}"}
            span = {"from": months[0].code, "to": months[-1].code}
            with httpx.Client(base_url=url, headers=headers, timeout=30) as http:

                def get(params: dict[str, str]) -> Callable[[], object]:
                    def call() -> object:
                        response = http.get("/rollups", params=params)
                        assert response.status_code == 200, response.text
                        return response

                    return call

                get({**span, "indicator": codes[0]})()  # warm the reference cache
                series = timed(get({**span, "indicator": codes[0]}), args.requests)
                every = timed(get(span), args.requests)
                regions = timed(get({"period": "2025", "scope": "region"}), args.requests)
                check = http.get("/rollups", params={**span, "indicator": codes[0]}).json()["figures"][0]
        finally:
            service.stop()
    print(f"data: {args.agencies:,} agencies x {args.months} months x {args.indicators} indicators")
    print(f"check: {check['indicator']} {check['period']}: {check['agencies_reported']:,} of "
          f"{check['agencies_expected']:,} agencies, value {check['value']}")  # fmt: skip
    for label, (p50, p99), target in (
        (f"HTTP national, 1 indicator x {args.months} months", series, 50),
        (f"HTTP national, {len(codes)} indicators x {args.months} months", every, 50),
        ("HTTP year by region, every indicator", regions, None),
        (f"baseline SQL+assembly, 1 indicator x {args.months} months", sql_series, None),
        (f"baseline SQL+assembly, {len(codes)} indicators x {args.months} months", sql_all, None),
    ):
        print(f"{label:<55} p50 {p50:6.2f} ms   p99 {p99:6.2f} ms")
        record(f"{label}, p99", p99, "ms", target=target, better="lower")


if __name__ == "__main__":
    main()
