"""A private PostgreSQL + broker for a benchmark run, the synthetic national data set, and the
client processes that post it over HTTP."""

from __future__ import annotations

import multiprocessing
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from queue import Empty

import httpx
import orjson
import psutil  # type: ignore[import-untyped]

from domain.access import ApiToken
from domain.agencies import Agency, AgencyKind
from domain.catalogue import Indicator, IndicatorGroup
from domain.identity import Principal, Role
from domain.periods import Period
from domain.values import Aggregation, ValueType
from entrypoints.bootstrap import migrate, postgres_store, postgres_write_side
from infra.garbage_collection import tune_for_service
from infra.runtime.broker import LocalBroker
from infra.runtime.ports import free_port
from infra.runtime.postgres import LocalPostgres
from infra.settings import Settings
from services.ingest.application.catalogue import define_indicators, publish_template
from services.ingest.application.commands import DefineIndicators, PublishTemplate
from services.ingest.application.tokens import new_secret, token_name

BENCH_TEMPLATE = "BENCH-200"
ADMIN = Principal("bench:admin", Role.ADMIN)
SEED_BATCH = 500  # aggregates per transaction when seeding


@dataclass(frozen=True)
class BenchEnvironment:
    settings: Settings
    postgres: LocalPostgres
    broker: LocalBroker
    folder: Path  # scratch space, removed afterwards


@contextmanager
def bench_environment() -> Iterator[BenchEnvironment]:
    """PostgreSQL and the broker on free ports in a scratch folder; removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="reporting-bench-") as name:
        folder = Path(name)
        folder.chmod(0o755)
        with (
            LocalPostgres(folder / "pg", free_port(), log_path=folder / "pg.log") as postgres,
            LocalBroker(free_port(), log_path=folder / "broker.log") as broker,
        ):
            settings = Settings(
                postgres_port=postgres.port,
                kafka_bootstrap_servers=broker.bootstrap_servers,
                postgres_pool_size=20,
            )
            migrate(settings)
            tune_for_service()  # what runs in this process (a projector, a verification) runs as `reporting` runs it
            yield BenchEnvironment(settings, postgres, broker, folder)


@contextmanager
def bench_settings() -> Iterator[Settings]:
    """The settings of a `bench_environment`."""
    with bench_environment() as environment:
        yield environment.settings


def indicator_codes(count: int) -> list[str]:
    return [f"BENCH.I{n:03d}" for n in range(count)]


def agency_codes(count: int) -> list[str]:
    return [f"B{n:05d}" for n in range(count)]


def load_national_reference(settings: Settings, agencies: int, indicators: int) -> None:
    """`indicators` integer indicators on one template, and `agencies` reporting units filling it."""
    load_form(
        settings,
        BENCH_TEMPLATE,
        indicator_codes(indicators),
        agency_codes(agencies),
        since=Period.parse("2024-01"),
        registered=date(2020, 1, 1),
    )


def load_form(
    settings: Settings,
    template: str,
    indicators: Sequence[str],
    agencies: Sequence[str],
    *,
    since: Period,
    registered: date,
    backfill: bool = False,
) -> None:
    """Integer indicators on one template in force from `since` (`backfill`: a start already open), and
    agencies registered on `registered` that fill it."""
    with postgres_write_side(replace(settings)) as write_side:
        definitions = [
            Indicator(
                code=code,
                name_vi=f"Chỉ tiêu {code}",
                name_en=code,
                group=IndicatorGroup.DIGITAL_TRANSFORMATION,
                unit="đơn vị",
                value_type=ValueType.INTEGER,
                aggregation_time=Aggregation.SUM,
                aggregation_agencies=Aggregation.SUM,
            )
            for code in indicators
        ]
        define_indicators(write_side, ADMIN, DefineIndicators(tuple(definitions)))
        version = PublishTemplate(
            template,
            since.code,
            tuple(indicators),
            name_vi="Biểu mẫu đo hiệu năng",
            name_en="Benchmark form",
            applies_to=str(AgencyKind.PROVINCIAL_DEPARTMENT),
            backfill=backfill,
        )
        publish_template(write_side, ADMIN, version)
    # The events `register_agency` records for a new agency, many agencies per transaction.
    with postgres_store(settings) as store:
        for start in range(0, len(agencies), SEED_BATCH):
            batch = [
                Agency.register(
                    code=code,
                    name_vi=f"Đơn vị {code}",
                    name_en="",
                    kind=AgencyKind.PROVINCIAL_DEPARTMENT,
                    parent=None,
                    region=None,
                    template=template,
                    effective_from=registered,
                    actor=ADMIN.subject,
                    role=ADMIN.role,
                )
                for code in agencies[start : start + SEED_BATCH]
            ]
            store.app.save(*batch)


def issue_tokens(settings: Settings, role: Role, agencies: Sequence[str | None]) -> dict[str | None, str]:
    """A token's secret per agency (None: a ministry token): the events and digests `issue_token`
    stores, many tokens per transaction."""
    secrets: dict[str | None, str] = {}
    with postgres_store(settings) as store:
        for start in range(0, len(agencies), SEED_BATCH):
            tokens, digests = [], []
            for agency in agencies[start : start + SEED_BATCH]:
                secret = new_secret()
                token = ApiToken.issue(token_name(role, agency), "benchmark", role, agency, None, ADMIN)
                tokens.append(token)
                digests.append(token.digest_row(secret))
                secrets[agency] = secret
            store.app.save(*tokens, secrets=tuple(digests))
    return secrets


def process_tree(pid: int) -> list[psutil.Process]:
    """A process and all its descendants now; none when it ended."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its descendants, the ended ones it reaped included."""
    total = 0.0
    for process in process_tree(pid):
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue  # it ended meanwhile: its parent's children_* count it once reaped
        total += times.user + times.system + times.children_user + times.children_system
    return float(total)


# ---- client processes posting values over HTTP ----------------------------------------------


@dataclass(frozen=True)
class Job:
    """One request of the write API: values of one agency's month."""

    url: str
    token: str
    agency: str
    period: str
    values: list[dict[str, object]]
    reason: str | None = None


@dataclass(frozen=True)
class Sent:
    """What one client process sent: each request's latency and size, in order, and when it finished."""

    latencies: list[float]
    sizes: list[int]
    finished: float  # time.time() of the last answer


JobSource = Callable[[], Iterable[Job]]  # made in the client process: a top-level function or a partial


def post_jobs(jobs: Iterable[Job]) -> Sent:
    """Post each job in turn over one keep-alive connection; any answer but 200 stops the benchmark."""
    latencies, sizes = [], []
    with httpx.Client(timeout=60) as client:
        for job in jobs:
            # The body is encoded before the clock starts: the load generator shares the cores with the service.
            body = orjson.dumps({"values": job.values, "reason": job.reason})
            started = time.perf_counter()
            response = client.post(
                f"{job.url}/agencies/{job.agency}/periods/{job.period}/values",
                content=body,
                headers={"Authorization": f"Bearer {job.token}", "Content-Type": "application/json"},
            )
            if response.status_code != 200:
                raise SystemExit(f"{response.status_code}: {response.text[:300]}")
            latencies.append(time.perf_counter() - started)
            sizes.append(len(job.values))
    return Sent(latencies, sizes, time.time())


def _client(source: JobSource, results: multiprocessing.Queue[Sent]) -> None:
    results.put(post_jobs(source()))


def run_clients(sources: Sequence[JobSource]) -> tuple[float, list[Sent]]:
    """One process per source, all at once; (time.time() at the start, what each sent).

    Each process makes its own jobs, so that a large workload is never held (or copied) whole.
    """
    queue: multiprocessing.Queue[Sent] = multiprocessing.Queue()
    processes = [multiprocessing.Process(target=_client, args=(source, queue)) for source in sources]
    started = time.time()
    for process in processes:
        process.start()
    sent: list[Sent] = []
    while len(sent) < len(processes):
        try:
            sent.append(queue.get(timeout=1))
        except Empty:
            if not any(p.is_alive() for p in processes) and queue.empty():
                codes = [p.exitcode for p in processes]
                raise SystemExit(f"a client process failed (exit codes {codes})") from None
    for process in processes:
        process.join()
    return started, sent
