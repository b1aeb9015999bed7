"""Shared fixtures: one real PostgreSQL cluster and one real broker per test session.

Each test gets its own database (copied from a seeded template database, so
seeding runs once) and its own topic, so tests never see each other's data.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import orjson
import pytest

from domain.identity import Role
from domain.periods import Clock
from entrypoints.bootstrap import migrate, postgres_write_side
from infra.db import connect
from infra.runtime.broker import LocalBroker
from infra.runtime.ports import free_port, wait_until
from infra.runtime.postgres import LocalPostgres
from infra.runtime.processes import Service, http_ready
from infra.settings import Settings
from services.ingest.application.access import create_account
from services.ingest.application.commands import CreateAccount, IssueToken
from services.ingest.application.outcomes import TokenIssued
from services.ingest.application.seed import SEED_ADMIN
from services.ingest.application.tokens import issue_token

SEEDED_TEMPLATE_DB = "reporting_seeded"
_names = itertools.count()


@pytest.fixture(scope="session")
def work_dir() -> Iterator[Path]:
    # Under /tmp with a traversable path: PostgreSQL runs as the `postgres` user when we are root.
    with tempfile.TemporaryDirectory(prefix="reporting-tests-") as name:
        path = Path(name)
        path.chmod(0o755)
        yield path


@pytest.fixture(scope="session")
def postgres(work_dir: Path) -> Iterator[LocalPostgres]:
    server = LocalPostgres(work_dir / "postgres", free_port(), log_path=work_dir / "postgres.log")
    with server:
        yield server


@pytest.fixture(scope="session")
def broker(work_dir: Path) -> Iterator[LocalBroker]:
    server = LocalBroker(free_port(), log_path=work_dir / "broker.log")
    with server:
        yield server


@pytest.fixture(scope="session")
def base_settings(postgres: LocalPostgres, broker: LocalBroker, work_dir: Path) -> Settings:
    return Settings(
        postgres_host="127.0.0.1",
        postgres_port=postgres.port,
        postgres_dbname=postgres.dbname,
        postgres_user=postgres.user,
        postgres_password=postgres.password,
        kafka_bootstrap_servers=broker.bootstrap_servers,
        kafka_partitions=3,
        audit_key_path=str(work_dir / "audit" / "checkpoint.key"),  # one signing key per test session
    )


@pytest.fixture(scope="session")
def seeded_template(postgres: LocalPostgres, base_settings: Settings) -> str:
    """A database with the schema and the seed data, copied for each test that wants it."""
    from services.ingest.application.seed import load_seed

    postgres.create_database(SEEDED_TEMPLATE_DB)
    settings = replace(base_settings, postgres_dbname=SEEDED_TEMPLATE_DB)
    migrate(settings)
    with postgres_write_side(settings) as write_side:
        load_seed(write_side)
    return SEEDED_TEMPLATE_DB


def _fresh_database(base_settings: Settings, template: str | None) -> str:
    name = f"test_{os.getpid()}_{next(_names)}"
    with connect(base_settings) as conn:
        if template:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        else:
            conn.execute(f'CREATE DATABASE "{name}"')
    return name


@pytest.fixture
def empty_settings(base_settings: Settings) -> Settings:
    """A fresh, migrated database without seed data, and a fresh topic."""
    name = _fresh_database(base_settings, None)
    settings = replace(base_settings, postgres_dbname=name, kafka_topic=f"events.{name}")
    migrate(settings)
    return settings


@pytest.fixture
def settings(base_settings: Settings, seeded_template: str) -> Settings:
    """A fresh database holding the seed data, and a fresh topic."""
    name = _fresh_database(base_settings, seeded_template)
    return replace(base_settings, postgres_dbname=name, kafka_topic=f"events.{name}")


@dataclass
class Stack:
    """The services of one test, as real processes on free ports."""

    settings: Settings
    services: dict[str, Service]
    metrics_ports: dict[str, int] = field(default_factory=dict)  # of the processes without HTTP (METRICS_PORT)

    def metrics_url(self, name: str) -> str:
        """Where a process serves /metrics: its HTTP port, or its METRICS_PORT."""
        urls = {"ingest": self.ingest_url, "reports": self.reports_url, "web": self.web_url}
        return urls.get(name) or f"http://127.0.0.1:{self.metrics_ports[name]}"

    @property
    def ingest_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.ingest_port}"

    @property
    def reports_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.reports_port}"

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.web_port}"

    def token(self, role: Role, agency: str | None = None) -> str:
        """A token's secret, issued through the write application (its event and all)."""
        return self.issue_tokens([(role, agency)])[0].secret

    def issue_tokens(
        self,
        specs: Sequence[tuple[Role, str | None]],
        *,
        valid_until: date | None = None,
        clock: Clock | None = None,
    ) -> list[TokenIssued]:
        """Tokens of these roles and agencies, issued through the write application (on `clock`'s today)."""
        issued = []
        with postgres_write_side(self.settings, clock=clock) as write_side:
            for role, agency in specs:
                outcome = issue_token(write_side, SEED_ADMIN, IssueToken(role, agency, "test", valid_until))
                assert isinstance(outcome, TokenIssued)
                issued.append(outcome)
        return issued

    def person(self, username: str, role: Role, agency: str | None = None, password: str = "") -> str:
        """A person's account, through the write application (its events and all); returns the password."""
        password = password or f"mật-khẩu-{username}-2026"
        with postgres_write_side(self.settings) as write_side:
            create_account(
                write_side,
                SEED_ADMIN,
                CreateAccount(username, f"Người dùng {username}", agency, frozenset({role}), password),
            )
        return password

    def start(self, name: str) -> None:
        self.services[name].start()
        urls = {"ingest": self.ingest_url, "reports": self.reports_url, "web": self.web_url}
        if name in urls:
            url = urls[name]
            wait_until(lambda: http_ready(url), 30, what=f"{name} ready")
            workers = {
                "ingest": self.settings.ingest_workers,
                "reports": self.settings.reports_workers,
                "web": self.settings.web_workers,
            }
            wanted = workers[name]
            if wanted > 1:  # the first worker up answers the readiness probe; a test may need them all
                wait_until(lambda: len(self._started_workers(name)) >= wanted, 30, what=f"{wanted} {name} workers")

    def _started_workers(self, name: str) -> set[int]:
        """The pids of the worker processes that have finished starting (uvicorn says so in the log)."""
        complete = self.services[name].log_path.read_text(encoding="utf-8").split("\n")[:-1]  # not one half written
        lines = [orjson.loads(raw) for raw in complete if "Application startup complete." in raw]
        return {line["pid"] for line in lines}


StackFactory = Callable[..., "Stack"]


@pytest.fixture
def stack_factory(settings: Settings, work_dir: Path) -> Iterator[StackFactory]:
    stacks: list[Stack] = []

    def start(*names: str, settings_override: Settings | None = None) -> Stack:
        chosen = replace(
            settings_override or settings, ingest_port=free_port(), reports_port=free_port(), web_port=free_port()
        )
        env = {**os.environ, **chosen.to_env()}
        logs = work_dir / "logs" / chosen.postgres_dbname
        logs.mkdir(parents=True, exist_ok=True)
        metrics_ports = {name: free_port() for name in ("relay", "project", "checkpoint")}
        stack = Stack(
            chosen,
            {
                name: Service(name, {**env, "METRICS_PORT": str(metrics_ports.get(name, 0))}, logs / f"{name}.log")
                for name in ("ingest", "relay", "project", "reports", "web", "checkpoint", "import-worker")
            },
            metrics_ports,
        )
        stacks.append(stack)
        for name in names:
            stack.start(name)
        return stack

    yield start
    for stack in stacks:
        for service in stack.services.values():
            service.stop()


@pytest.fixture
def stack(stack_factory: StackFactory) -> Stack:
    """All four services running against this test's database and topic."""
    return stack_factory("ingest", "relay", "project", "reports")
