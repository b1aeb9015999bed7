"""`infra/backup.py`: what a backup holds, and every refusal of a restore leaves the target as it was."""

from __future__ import annotations

import gzip
import itertools
import json
from dataclasses import replace
from pathlib import Path

import pytest

from entrypoints.bootstrap import migration_sources
from infra.backup import SYSTEM_OF_RECORD, RestoreRefused, backup, restore
from infra.db import connect
from infra.migrate import applied_migrations
from infra.runtime.postgres import LocalPostgres
from infra.settings import Settings

_names = itertools.count()


def new_database(postgres: LocalPostgres, base: Settings) -> Settings:
    name = f"restore_{next(_names)}_{id(base) % 10_000}"
    postgres.create_database(name)
    return replace(base, postgres_dbname=name)


def count(settings: Settings, table: str) -> int:
    with connect(settings) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


def test_a_backup_holds_the_system_of_record_with_its_hashes(settings: Settings, tmp_path: Path) -> None:
    manifest = backup(settings, tmp_path / "b")
    by_name = {t["name"]: t for t in manifest["tables"]}
    assert list(by_name) == [t.name for t in SYSTEM_OF_RECORD]
    events = by_name["reporting_events"]
    assert events["rows"] == count(settings, "reporting_events") > 100
    assert manifest["event_store"]["events"] == events["rows"]
    with gzip.open(tmp_path / "b" / events["file"], "rb") as handle:
        assert handle.read().count(b"\n") == events["rows"]
    with connect(settings) as conn:
        assert manifest["migrations"] == applied_migrations(conn)
    (sequence,) = [s for s in manifest["sequences"] if s["table"] == "reporting_events"]
    assert sequence["last_value"] >= manifest["event_store"]["last_position"]
    assert "web_sessions" in manifest["not_included"]
    with pytest.raises(FileExistsError):
        backup(settings, tmp_path / "b")


def test_a_restore_loads_it_all_and_the_sequences_go_on(
    settings: Settings, postgres: LocalPostgres, base_settings: Settings, tmp_path: Path
) -> None:
    manifest = backup(settings, tmp_path / "b")
    target = new_database(postgres, base_settings)
    restore(target, tmp_path / "b", migration_sources())
    for table in SYSTEM_OF_RECORD:
        assert count(target, table.name) == count(settings, table.name), table.name
    with connect(target) as conn:
        assert applied_migrations(conn) == manifest["migrations"]
        row = conn.execute("SELECT nextval('reporting_events_notification_id_seq')").fetchone()
    assert row is not None
    assert int(row[0]) > manifest["event_store"]["last_position"]


def test_a_damaged_file_is_refused_before_anything_is_written(
    settings: Settings, postgres: LocalPostgres, base_settings: Settings, tmp_path: Path
) -> None:
    backup(settings, tmp_path / "b")
    damaged = tmp_path / "b" / "api_tokens.copy.gz"
    data = bytearray(damaged.read_bytes())
    data[-5] ^= 0xFF
    damaged.write_bytes(bytes(data))
    target = new_database(postgres, base_settings)
    with pytest.raises(RestoreRefused, match="does not match its hash"):
        restore(target, tmp_path / "b", migration_sources())
    with connect(target) as conn:
        assert applied_migrations(conn) == [], "not even the schema was created"


def test_rows_that_read_back_otherwise_roll_the_whole_restore_back(
    settings: Settings, postgres: LocalPostgres, base_settings: Settings, tmp_path: Path
) -> None:
    backup(settings, tmp_path / "b")
    path = tmp_path / "b" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["tables"][-2]["sha256"] = "0" * 64  # tlog_checkpoints: the last but one table loaded
    path.write_text(json.dumps(manifest))
    target = new_database(postgres, base_settings)
    with pytest.raises(RestoreRefused, match="nothing was restored"):
        restore(target, tmp_path / "b", migration_sources())
    assert count(target, "reporting_events") == 0, "the tables loaded before it are rolled back too"


def test_a_database_with_data_or_another_schema_is_refused(
    settings: Settings, empty_settings: Settings, tmp_path: Path
) -> None:
    backup(settings, tmp_path / "b")
    before = count(settings, "reporting_events")
    with pytest.raises(RestoreRefused, match="already holds data"):
        restore(settings, tmp_path / "b", migration_sources())
    assert count(settings, "reporting_events") == before
    path = tmp_path / "b" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["migrations"] = [*manifest["migrations"], "9999_from_a_later_release"]
    path.write_text(json.dumps(manifest))
    with pytest.raises(RestoreRefused, match="does not know"):
        restore(empty_settings, tmp_path / "b", migration_sources())
    manifest["migrations"] = manifest["migrations"][:3]
    path.write_text(json.dumps(manifest))
    with pytest.raises(RestoreRefused, match="migrations the backup had not"):
        restore(empty_settings, tmp_path / "b", migration_sources())
