"""Backup and restore of the system of record in events/s, against a raw COPY of the events table.

    python -m bench.backup --agencies 1000 --indicators 200

Fills the event store (Application.save, one submission of `indicators` values per agency) and its
transparency log, then measures, on the same server:
- baseline: `COPY reporting_events TO STDOUT`, read and thrown away (PostgreSQL's own read speed);
- `reporting backup` (every table of the system of record, one snapshot, gzip, SHA-256);
- `reporting restore` into a new database of the same cluster (load, read back, compare, commit).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from bench.audit import build_log
from bench.environment import agency_codes, bench_settings, indicator_codes, load_national_reference
from bench.projector import fill_store, publish_all
from bench.report import record
from entrypoints.bootstrap import migration_sources
from infra.backup import backup, restore
from infra.db import connect
from infra.settings import Settings


def raw_copy(settings: Settings) -> float:
    """Seconds to read the whole events table with a plain COPY."""
    started = time.perf_counter()
    with connect(settings) as conn, conn.cursor() as cur, cur.copy("COPY reporting_events TO STDOUT") as copy:
        for _ in copy:
            pass
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agencies", type=int, default=1000)
    parser.add_argument("--indicators", type=int, default=200)
    args = parser.parse_args()
    with bench_settings() as base, tempfile.TemporaryDirectory() as scratch:
        settings = replace(base, audit_key_path=str(Path(scratch) / "checkpoint.key"))
        load_national_reference(settings, args.agencies, args.indicators)
        fill_store(settings, agency_codes(args.agencies), indicator_codes(args.indicators), "2025-01")
        publish_all(settings)  # the transparency log covers published events only
        build_log(settings)
        with connect(settings) as conn:
            row = conn.execute("SELECT count(*), pg_total_relation_size('reporting_events') FROM reporting_events")
            events, table_bytes = row.fetchone() or (0, 0)
            conn.execute("CREATE DATABASE restored")
        baseline = raw_copy(settings)
        target = Path(scratch) / "backup"
        started = time.perf_counter()
        backup(settings, target)
        backed_up = time.perf_counter() - started
        size = sum(path.stat().st_size for path in target.iterdir())
        started = time.perf_counter()
        restore(replace(settings, postgres_dbname="restored"), target, migration_sources())
        restored = time.perf_counter() - started
        print(f"{events:,} events ({table_bytes / 1e6:,.0f} MB in PostgreSQL); backup {size / 1e6:,.1f} MB")
        record("backup size / events table size in PostgreSQL", size / table_bytes, "x")
        print(f"baseline COPY out          {events / baseline:12,.0f} events/s ({baseline:.2f} s)")
        record("baseline COPY of the events table out", events / baseline, "events/s")
        print(
            f"reporting backup           {events / backed_up:12,.0f} events/s ({backed_up:.2f} s,"
            f" {baseline / backed_up:.2f}x the baseline)"
        )
        record("reporting backup", events / backed_up, "events/s")
        record("reporting backup / COPY out", baseline / backed_up, "x")
        print(f"reporting restore          {events / restored:12,.0f} events/s ({restored:.2f} s)")
        record("reporting restore", events / restored, "events/s")


if __name__ == "__main__":
    main()
