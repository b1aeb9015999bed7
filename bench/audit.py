"""Audit verification of the whole log in events/s (target >= 200,000), against in-process baselines.

    python -m bench.audit --agencies 1000 --indicators 200

Fills the event store (Application.save, one submission of `indicators` values per agency),
builds the transparency log and signs a checkpoint (the checkpointer's code, in this process),
lets the relay publish everything, then measures:
- baseline: RootAccumulator over the same leaves' bytes (hashing + tree only, no reading);
- `audit verify --from-store` (read the store, canonical bytes, hash, tree, compare with tlog);
- `audit verify` from Kafka (read the topic, hash, tree, compare with tlog);
- baseline: kafka-python reading the same topic with the verifier's consumer, records only counted
  (the ceiling of reading the topic with the services' client), and its ratio to the verifier's read.
"""

from __future__ import annotations

import argparse
import io
import threading
import time
from dataclasses import replace
from pathlib import Path
from tempfile import TemporaryDirectory

from bench.environment import agency_codes, bench_settings, indicator_codes, load_national_reference
from bench.projector import fill_store, publish_all
from bench.report import record
from domain.merkle import RootAccumulator
from infra.canonical import CanonicalMapper, read_store
from infra.db import connect
from infra.event_store import ReportingApplication
from infra.settings import Settings
from services.audit.checkpointer import Checkpointer, signing_key
from services.audit.verify import Options, _consume, print_report, verify


def build_log(settings: Settings) -> int:
    app = ReportingApplication(settings, cache_size=0)
    try:
        checkpointer = Checkpointer(settings, signing_key(settings), app)
        with connect(settings) as conn:
            checkpointer.register_key(conn)
            started = time.perf_counter()
            checkpointer.catch_up(conn)
            size = checkpointer.appender(conn).size
            rate = size / (time.perf_counter() - started)
            print(f"checkpointer appended {size:,} leaves at {rate:,.0f}/s")
            record("checkpointer catch-up, leaves appended", rate, "leaves/s")
            checkpointer.sign(conn, "bench")
            stop = threading.Event()
            thread = threading.Thread(target=checkpointer.run, args=(stop,))  # publishes the checkpoint
            thread.start()
            time.sleep(3)
            stop.set()
            thread.join()
        return size
    finally:
        app.close()


def baseline(settings: Settings) -> float:
    """Hash and accumulate the canonical bytes, already in memory: the tree's own speed."""
    with connect(settings) as conn:
        mapper = CanonicalMapper(None)
        data = [leaf.canonical or b"" for rows in read_store(conn) for leaf in map(mapper.leaf, rows)]
    accumulator = RootAccumulator()
    started = time.perf_counter()
    for item in data:
        accumulator.append(item)
    accumulator.root()
    return len(data) / (time.perf_counter() - started)


def raw_consume(settings: Settings, expected: int) -> float:
    """Seconds for kafka-python to hand over `expected` records of the topic, read as the verifier reads it."""
    seen = [0]  # read by `enough` while the loop counts
    started = time.perf_counter()
    finished = started
    for _ in _consume(settings, settings.kafka_topic, idle=1.0, enough=lambda: seen[0] >= expected):
        seen[0] += 1
        if seen[0] == expected:
            finished = time.perf_counter()
    assert seen[0] >= expected, f"the topic holds {seen[0]} of {expected} events"
    return finished - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agencies", type=int, default=1000)
    parser.add_argument("--indicators", type=int, default=200)
    args = parser.parse_args()
    with bench_settings() as base, TemporaryDirectory() as keys:
        settings = replace(base, audit_key_path=str(Path(keys) / "checkpoint.key"))
        load_national_reference(settings, args.agencies, args.indicators)
        fill_store(settings, agency_codes(args.agencies), indicator_codes(args.indicators), "2025-01")
        publish_all(settings)  # the checkpointer follows the relay
        size = build_log(settings)
        key = signing_key(settings).verifier
        tree = baseline(settings)
        print(f"baseline RootAccumulator (bytes in memory) {tree:12,.0f} leaves/s")
        record("baseline RootAccumulator over the bytes in memory", tree, "leaves/s")
        for label, options, target in (
            ("verify --from-store -w1", Options(from_store=True, workers=1), 200_000),
            ("verify --from-store", Options(from_store=True), 200_000),
            ("verify (Kafka)", Options(idle_seconds=1.0), None),
        ):
            out = io.StringIO()
            started = time.perf_counter()
            report = verify(settings, key, options)
            elapsed = time.perf_counter() - started
            print_report(report, out)
            assert report.ok, out.getvalue()
            print(f"{label:<24} {size / elapsed:12,.0f} events/s end to end ({size:,} events, {elapsed:.2f} s)")
            record(f"audit {label}, end to end", size / elapsed, "events/s", target=target)
            print("    " + out.getvalue().strip().replace("\n", "\n    "))
            if not options.from_store:
                raw = raw_consume(settings, size)
                print(
                    f"baseline raw consume     {size / raw:12,.0f} events/s (kafka-python, records only);"
                    f" verify's read = {raw / report.read_seconds:.2f}x raw consume"
                )
                record("baseline raw kafka-python consume of the topic", size / raw, "events/s")
                record("audit verify (Kafka), its read / raw consume", raw / report.read_seconds, "x")


if __name__ == "__main__":
    main()
