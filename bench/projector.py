"""Projector catch-up (full rebuild from Kafka) in events/s, against a raw-consume baseline.

    python -m bench.projector --agencies 200 --indicators 200

Fills the event store (Application.save, 200 values per submission), lets the
relay publish everything (timed, against a plain producer sending the same messages), then
measures in this process:
- baseline: a plain kafka-python consumer reading the whole topic (no parsing, no database);
- the projector applying the whole topic to every projection, from position 0;
- `reporting rebuild` of each projection alone, from Kafka into fresh tables (no swap),
  so the cost of each projection shows; then with `--workers 2` (forked processes sharing the
  partitions out) for each projection that allows it, and for every projection at once.
"""

from __future__ import annotations

import argparse
import threading
import time

from kafka import TopicPartition

from bench.environment import BENCH_TEMPLATE, agency_codes, bench_settings, indicator_codes, load_national_reference
from bench.report import record
from domain.identity import Principal, Role
from domain.periods import Period
from domain.submission import Submission
from entrypoints.bootstrap import postgres_store, write_side
from infra.db import connect
from infra.event_store import ReportingApplication
from infra.kafka import assigned_consumer, describe_topic, ensure_topic, idempotent_producer
from infra.runtime.ports import wait_until
from infra.settings import Settings
from services.ingest.relay import Relay
from services.projector.projections import all_projections
from services.projector.rebuild import Rebuild
from services.projector.runner import Projector


def fill_store(settings: Settings, agencies: list[str], codes: list[str], period: str) -> None:
    with postgres_store(settings) as store:
        form = write_side(store).reference.form(BENCH_TEMPLATE, Period.parse(period))
        for agency in agencies:
            principal = Principal(f"bench:{agency}", Role.AGENCY_REPORTER, agency)
            submission = Submission.open(agency, Period.parse(period), form, principal)
            submission.enter_values([(code, n) for n, code in enumerate(codes)], form, principal)
            store.app.save(submission)


def publish_all(settings: Settings) -> int:
    """Run the relay until it has published the whole store; returns the last position."""
    app = ReportingApplication(settings, cache_size=0)
    last = app.recorder.max_notification_id() or 0
    relay = Relay(settings, app)
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, args=(stop,))
    thread.start()
    try:
        wait_until(lambda: relay.cursor >= last, 600, interval=0.01, what="relay published the store")
    finally:
        stop.set()
        thread.join()
        app.close()
    return last


def raw_produce(settings: Settings, messages: list[tuple[bytes, bytes, list[tuple[str, bytes]]]]) -> float:
    """Seconds for the relay's kind of producer to publish ready-made messages onto a topic of its own."""
    topic = f"{settings.kafka_topic}-baseline"
    ensure_topic(settings, topic, settings.kafka_partitions)
    producer = idempotent_producer(settings)
    try:
        started = time.perf_counter()
        for n in range(0, len(messages), settings.relay_batch_size):  # acknowledged batch by batch, as the relay
            batch = messages[n : n + settings.relay_batch_size]
            futures = [producer.send(topic, key=k, value=v, headers=h) for k, v, h in batch]
            for future in futures:
                future.get(timeout=30)
        return time.perf_counter() - started
    finally:
        producer.close(timeout=5)


def raw_consume(settings: Settings, expected: int) -> tuple[float, list[tuple[bytes, bytes, list[tuple[str, bytes]]]]]:
    """Seconds to read the whole topic with a plain consumer, and its messages (key, value, headers)."""
    info = describe_topic(settings, settings.kafka_topic)
    assert info is not None
    consumer = assigned_consumer(settings)
    tps = [TopicPartition(settings.kafka_topic, p) for p in info.partitions]
    consumer.assign(tps)
    for tp in tps:
        consumer.seek(tp, 0)
    messages: list[tuple[bytes, bytes, list[tuple[str, bytes]]]] = []
    started = time.perf_counter()
    while len(messages) < expected:
        messages += [(r.key, r.value, r.headers) for records in consumer.poll(timeout_ms=200).values() for r in records]
    elapsed = time.perf_counter() - started
    consumer.close()
    return elapsed, messages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agencies", type=int, default=200)
    parser.add_argument("--indicators", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2, help="processes of the shared-out rebuilds")
    args = parser.parse_args()
    with bench_settings() as settings:
        load_national_reference(settings, args.agencies, args.indicators)
        fill_store(settings, agency_codes(args.agencies), indicator_codes(args.indicators), "2025-01")
        started = time.perf_counter()
        publish_all(settings)  # from a standing start: the producer's id and the topic check included
        relay_seconds = time.perf_counter() - started
        with connect(settings) as conn:
            row = conn.execute("SELECT count(*) FROM reporting_events").fetchone()
        events = int(row[0]) if row else 0
        consume_seconds, messages = raw_consume(settings, events)
        produce_seconds = raw_produce(settings, messages)
        projector = Projector(settings, all_projections())
        started = time.perf_counter()
        projector.run(threading.Event(), until_caught_up=True)
        project_seconds = time.perf_counter() - started
        alone: dict[tuple[str, int], float] = {}
        for workers in (1, args.workers):
            for projection in all_projections():
                if workers > 1 and not projection.key_local:
                    continue
                rebuild = Rebuild(settings, [projection.name], progress=None, workers=workers)
                summary = rebuild.run(threading.Event(), swap=False)
                alone[projection.name, workers] = summary.events / summary.seconds
        # Every projection: the key-local ones shared out between the workers, the roll-ups in one more.
        summary = Rebuild(settings, progress=None, workers=args.workers).run(threading.Event(), swap=False)
        every = summary.events / summary.seconds
    print(f"events on the topic: {events}")
    print(f"baseline raw produce     {events / produce_seconds:10,.0f} events/s (ready-made messages, no database)")
    print(
        f"relay, store -> topic    {events / relay_seconds:10,.0f} events/s (= {produce_seconds / relay_seconds:.2f}x)"
    )
    record("baseline raw kafka-python produce of the same messages", events / produce_seconds, "events/s")
    record("relay: the whole store published", events / relay_seconds, "events/s")
    record("relay / raw produce", produce_seconds / relay_seconds, "x")
    print(f"baseline raw consume     {events / consume_seconds:10,.0f} events/s")
    record("baseline raw kafka-python consume of the topic", events / consume_seconds, "events/s")
    print(
        f"projector catch-up       {events / project_seconds:10,.0f} events/s "
        f"({len(all_projections())} projections; = {consume_seconds / project_seconds:.2f}x raw consume)"
    )
    record("projector catch-up from Kafka, every projection", events / project_seconds, "events/s", target=30_000)
    record("projector catch-up / raw consume", consume_seconds / project_seconds, "x")
    print(f"rebuild of every projection {every:10,.0f} events/s, {args.workers} workers (and one for the roll-ups)")
    record(f"rebuild of every projection from Kafka, {args.workers} workers", every, "events/s", target=30_000)
    for (name, workers), rate in alone.items():
        how = f", {workers} workers" if workers > 1 else ""
        print(
            f"rebuild of {name:<15}{rate:10,.0f} events/s{how} (= {rate * consume_seconds / events:.2f}x raw consume)"
        )
        record(f"rebuild of {name} alone from Kafka{how}", rate, "events/s", target=30_000)


if __name__ == "__main__":
    main()
