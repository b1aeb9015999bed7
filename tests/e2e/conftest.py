"""Private servers for the destructive tests: stopping or emptying the session's shared PostgreSQL
or broker would disturb every other test, so these tests get their own, on free ports in a tmp dir.

Name them before `stack_factory` in a test's parameters: fixtures are torn down in reverse order,
so the services stop while their servers still run (and need no kill after a timeout).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from entrypoints.bootstrap import migrate, postgres_write_side
from infra.runtime.broker import LocalBroker
from infra.runtime.ports import free_port
from infra.runtime.postgres import LocalPostgres
from infra.settings import Settings
from services.ingest.application.seed import load_seed


@pytest.fixture
def private_postgres() -> Iterator[LocalPostgres]:
    """A cluster of one test alone: it is stopped (or killed) in the middle of the test."""
    folder = Path(tempfile.mkdtemp(prefix="reporting-private-pg-"))
    folder.chmod(0o755)  # PostgreSQL runs as the `postgres` user when we are root
    with LocalPostgres(folder / "pg", free_port(), log_path=folder / "pg.log") as server:
        yield server


@pytest.fixture
def private_broker() -> Iterator[LocalBroker]:
    """A broker of one test alone: it is restarted with an empty log in the middle of the test."""
    folder = Path(tempfile.mkdtemp(prefix="reporting-private-broker-"))
    with LocalBroker(free_port(), log_path=folder / "broker.log") as broker:
        yield broker


def on_private_postgres(settings: Settings, server: LocalPostgres) -> Settings:
    """`settings` moved to the private cluster, migrated and seeded."""
    chosen = replace(settings, postgres_port=server.port, postgres_dbname=server.dbname)
    migrate(chosen)
    with postgres_write_side(chosen) as write_side:
        load_seed(write_side)
    return chosen
