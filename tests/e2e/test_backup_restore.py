"""A backup of a running system, restored into a fresh PostgreSQL cluster with an empty broker.

The system of record comes back as it was at the backup (and only that: a write after it is not
there); the relay republishes the log to the empty broker; every read model, rebuilt from it by
the projectors, equals the old one; `reporting audit verify` passes against the checkpoints an
auditor kept from before the backup, with the public key the backup holds; the restored system
answers a retried request as the first time, and writes on after the backup's positions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
from psycopg import sql

from domain.identity import Role
from infra.backup import SYSTEM_OF_RECORD
from infra.db import connect
from infra.runtime.broker import LocalBroker
from infra.runtime.ports import wait_until
from infra.runtime.postgres import LocalPostgres
from infra.settings import Settings
from services.projector.projections import all_projections
from services.readmodels.freshness import projections_position
from tests.conftest import Stack, StackFactory
from tests.e2e.test_rebuild import _submit_one_report as submit_one_report
from tests.helpers import auth, form_indicators, open_month

PROJECTIONS = tuple(p.name for p in all_projections())
READ_MODEL_TABLES = tuple(table for p in all_projections() for table in p.tables)


def reporting(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "entrypoints.cli", *args],
        env={**os.environ, **settings.to_env()},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def rows(settings: Settings, table: str, where: str = "TRUE") -> list[tuple[Any, ...]]:
    """Every row of `table` (matching `where`), ordered by all its columns."""
    with connect(settings) as conn:
        count = conn.execute(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = %s AND table_schema = 'public'",
            (table,),
        ).fetchone()
        assert count is not None
        order = sql.SQL(", ".join(str(n) for n in range(1, int(count[0]) + 1)))
        query = sql.SQL("SELECT * FROM {} WHERE {} ORDER BY {}").format(sql.Identifier(table), sql.SQL(where), order)
        return [tuple(row) for row in conn.execute(query)]


def store_end(settings: Settings) -> int:
    with connect(settings) as conn:
        row = conn.execute("SELECT coalesce(max(notification_id), 0) FROM reporting_events").fetchone()
    return int(row[0]) if row else 0


def caught_up(settings: Settings, position: int) -> bool:
    with connect(settings) as conn:
        return projections_position(settings.kafka_topic, PROJECTIONS)(conn) >= position


def checkpointed(settings: Settings, position: int) -> bool:
    with connect(settings) as conn:
        row = conn.execute("SELECT coalesce(max(last_position), 0) FROM tlog_checkpoints").fetchone()
    return row is not None and int(row[0]) >= position


def enter_data(stack: Stack) -> dict[str, Any]:
    """Values for three agencies, a report submitted and approved, a person, a request with an Idempotency-Key."""
    period = open_month()
    tokens = {agency: stack.token(Role.AGENCY_REPORTER, agency) for agency in ("P01", "P79", "P48")}
    codes = [
        i["code"] for i in form_indicators(stack.ingest_url, tokens["P01"], "UNIFIED-PROVINCIAL", period, "integer")
    ]
    for n, (agency, token) in enumerate(tokens.items()):
        body = {"values": [{"indicator": code, "value": 100 * n + i} for i, code in enumerate(codes[:20])]}
        answer = httpx.post(
            f"{stack.ingest_url}/agencies/{agency}/periods/{period}/values", json=body, headers=auth(token)
        )
        assert answer.status_code == 200, answer.text
    submit_one_report(stack)  # P92: submitted and approved
    stack.person("kiemtoan.sao-luu", Role.AUDITOR)
    retried = {"values": [{"indicator": codes[0], "value": 777}], "reason": "đối chiếu"}
    headers = {**auth(tokens["P48"]), "Idempotency-Key": "backup-retry-1"}
    first = httpx.post(f"{stack.ingest_url}/agencies/P48/periods/{period}/values", json=retried, headers=headers)
    assert first.status_code == 200
    return {"period": period, "tokens": tokens, "codes": codes, "retried": retried, "headers": headers, "first": first}


def test_a_backup_restored_into_a_fresh_cluster_rebuilds_equal_and_verifies_against_the_old_checkpoints(
    private_postgres: LocalPostgres,
    private_broker: LocalBroker,
    stack_factory: StackFactory,
    settings: Settings,
    tmp_path: Path,
) -> None:
    old = stack_factory(
        "ingest", "relay", "project", "checkpoint", settings_override=replace(settings, checkpoint_interval_seconds=1)
    )
    data = enter_data(old)
    end = store_end(old.settings)
    wait_until(lambda: caught_up(old.settings, end), 90, what="the old read models caught up")
    wait_until(lambda: checkpointed(old.settings, end), 60, what="a checkpoint covering every event")
    read_models = {table: rows(old.settings, table) for table in READ_MODEL_TABLES}
    assert sum(len(r) for r in read_models.values()) > 1000
    # What an auditor kept before the backup: the signed checkpoints, as published.
    with connect(old.settings) as conn:
        notes = [str(n) for (n,) in conn.execute("SELECT note FROM tlog_checkpoints ORDER BY id")]
    kept = tmp_path / "kept-checkpoints.json"
    kept.write_text(json.dumps({"checkpoints": [{"note": n} for n in notes]}), encoding="utf-8")

    # The backup, while the old system runs.
    folder = tmp_path / "backup"
    done = reporting(old.settings, "backup", "--to", str(folder))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(folder)
    assert "the private checkpoint key is not in it" in done.stderr
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert [t["name"] for t in manifest["tables"]] == [t.name for t in SYSTEM_OF_RECORD]
    assert manifest["event_store"]["last_position"] >= end
    cut = manifest["event_store"]["last_position"]
    tree_size = manifest["transparency_log"]["tree_size"]
    last_checkpoint = manifest["transparency_log"]["last_checkpoint"]["id"]
    (vkey,) = [name for name in manifest["files"] if name.endswith(".vkey")]
    assert not list(folder.glob("*.key")), "no private key in a backup"
    assert "PRIVATE" not in "".join(p.read_text(errors="replace") for p in folder.iterdir() if p.suffix != ".gz")

    # A write after the backup: not in it.
    later = httpx.post(
        f"{old.ingest_url}/agencies/P01/periods/{data['period']}/values",
        json={"values": [{"indicator": data["codes"][0], "value": 31337}]},
        headers=auth(data["tokens"]["P01"]),
    )
    assert later.status_code == 200
    assert later.json()["position"] > cut

    # A fresh cluster, an empty broker.
    fresh = replace(
        old.settings,
        postgres_port=private_postgres.port,
        postgres_dbname=private_postgres.dbname,
        kafka_bootstrap_servers=private_broker.bootstrap_servers,
    )
    restored = reporting(fresh, "restore", "--from", str(folder))
    assert restored.returncode == 0, restored.stderr
    assert "as backed up" in restored.stderr

    # The system of record as it was at the backup, row for row.
    nodes = f"(idx + 1) * (1::bigint << level) <= {tree_size}"  # the complete subtrees of the backed-up tree
    limits = {
        "reporting_events": f"notification_id <= {cut}",
        "tlog_leaves": f"leaf_index < {tree_size}",
        "tlog_nodes": nodes,
        "tlog_checkpoints": f"id <= {last_checkpoint}",
        "tlog_checkpoint_requests": f"checkpoint_id IS NULL OR checkpoint_id <= {last_checkpoint}",
    }
    for table in SYSTEM_OF_RECORD:
        before = rows(old.settings, table.name, limits.get(table.name, "TRUE"))
        assert rows(fresh, table.name) == before, table.name
    assert rows(fresh, "reporting_events", f"notification_id > {cut}") == [], "nothing after the backup"
    assert rows(fresh, "account_credentials", "username = 'kiemtoan.sao-luu'"), "the person's password hash"
    for table in ("relay_positions", "projector_positions", "web_sessions", *READ_MODEL_TABLES):
        assert rows(fresh, table) == [], f"{table} is rebuilt, not restored"

    # The relay republishes to the empty broker; the projectors rebuild every read model; equal to the old.
    new = stack_factory("relay", "project", "checkpoint", "ingest", settings_override=fresh)
    wait_until(lambda: caught_up(fresh, cut), 120, what="the read models rebuilt from the republished log")
    for table, before in read_models.items():
        assert rows(fresh, table) == before, f"{table} rebuilt differently"

    # The log verifies against the checkpoints signed before the backup, with the backup's public key.
    wait_until(lambda: checkpointed(fresh, cut), 60, what="the restored checkpointer caught up with the log")
    for mode in ((), ("--from-store",)):
        verified = reporting(
            fresh, "audit", "verify", *mode, "--public-key", str(folder / vkey), "--checkpoints", str(kept)
        )
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert "OK: the log is consistent with every signed checkpoint" in verified.stdout
    assert len(notes) >= 1

    # The restored write API answers a retry as the first time, and writes on after the backup.
    url = f"{new.ingest_url}/agencies/P48/periods/{data['period']}/values"
    again = httpx.post(url, json=data["retried"], headers=data["headers"])
    assert again.status_code == 200
    assert again.content == data["first"].content
    onwards = httpx.post(
        f"{new.ingest_url}/agencies/P01/periods/{data['period']}/values",
        json={"values": [{"indicator": data["codes"][1], "value": 5}]},
        headers=auth(data["tokens"]["P01"]),
    )
    assert onwards.status_code == 200, "the tokens came back"
    assert onwards.json()["position"] > cut, "the positions go on after the backup's"
