"""Kafka adapters: topic admin, the idempotent producer, partition-assigned consumers.

Partitions are assigned explicitly, never through a consumer group: positions
live in PostgreSQL (decision 5), and group joins are slow on the local broker.
The same code runs against Apache Kafka and the local Tansu broker.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from infra.settings import Settings

# Retention forever: the topic is the published, replayable log (decision 4).
TOPIC_CONFIG = {"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete"}


@dataclass(frozen=True)
class TopicInfo:
    topic_id: str
    partitions: tuple[int, ...]


@contextlib.contextmanager
def admin_client(settings: Settings) -> Iterator[KafkaAdminClient]:
    client = KafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id="reporting-admin",
        request_timeout_ms=10_000,
    )
    try:
        yield client
    finally:
        client.close()


def describe_topic(settings: Settings, topic: str) -> TopicInfo | None:
    """The topic's id and partitions; None when it does not exist."""
    with admin_client(settings) as client:
        if topic not in client.list_topics():
            return None
        (described,) = client.describe_topics([topic])
    if described.get("error_code", 0) != 0:
        return None
    partitions = tuple(sorted(p["partition_index"] for p in described["partitions"]))
    return TopicInfo(str(described.get("topic_id")), partitions)


def ensure_topic(settings: Settings, topic: str, partitions: int) -> TopicInfo:
    """Create the topic if it is missing (idempotent: concurrent creators are fine)."""
    info = describe_topic(settings, topic)
    if info is None:
        with admin_client(settings) as client, contextlib.suppress(TopicAlreadyExistsError):
            client.create_topics(
                [NewTopic(topic, num_partitions=partitions, replication_factor=1, topic_configs=TOPIC_CONFIG)]
            )
        info = describe_topic(settings, topic)
    if info is None:
        raise RuntimeError(f"topic {topic} could not be created")
    if len(info.partitions) != partitions:
        # Keys map to partitions by count: a different count would break per-agency order.
        raise RuntimeError(f"topic {topic} has {len(info.partitions)} partitions, expected {partitions}")
    return info


def idempotent_producer(settings: Settings) -> KafkaProducer:
    """acks=all + idempotence: a retried send is written once (decision 3)."""
    return KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id="reporting-relay",
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        batch_size=256 * 1024,
        max_in_flight_requests_per_connection=5,
        request_timeout_ms=15_000,
        delivery_timeout_ms=30_000,
    )


def assigned_consumer(
    settings: Settings, *, max_poll_records: int = 5000, fetch_max_wait_ms: int = 200
) -> KafkaConsumer:
    return KafkaConsumer(
        fetch_max_wait_ms=fetch_max_wait_ms,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id="reporting-consumer",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=max_poll_records,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=16 * 1024 * 1024,
        request_timeout_ms=30_000,
    )


def header(headers: list[tuple[str, bytes]] | None, name: str) -> bytes | None:
    for key, value in headers or []:
        if key == name:
            return value
    return None


def read_at(settings: Settings, topic: str, offsets: dict[int, int], *, patience: float = 2.0) -> dict[int, int | None]:
    """The notification id of the message at each partition's offset; None where the log has no such message.

    End offsets cannot be trusted on every broker (the local one under-reports
    them), so we look for the messages themselves: found, or not found after
    `patience` seconds of empty fetches or a fetch that skips past them.
    """
    found: dict[int, int | None] = {}
    if not offsets:
        return found
    consumer = assigned_consumer(settings, fetch_max_wait_ms=100)
    try:
        tps = {partition: TopicPartition(topic, partition) for partition in offsets}
        consumer.assign(list(tps.values()))
        for partition, offset in offsets.items():
            consumer.seek(tps[partition], offset)
        deadline = time.monotonic() + patience
        while len(found) < len(offsets) and time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=100).items():
                wanted = offsets[tp.partition]
                for record in records:
                    if tp.partition in found:
                        break
                    if record.offset == wanted:
                        raw = header(record.headers, "notification_id")
                        found[tp.partition] = int(raw) if raw else None
                    elif record.offset > wanted:
                        found[tp.partition] = None
                if tp.partition in found:
                    consumer.pause(tp)
        return {partition: found.get(partition) for partition in offsets}
    finally:
        consumer.close()


def scan_max_position(settings: Settings, topic: str, partition: int, *, quiet: float = 1.0) -> int:
    """The highest notification id in a partition, reading it to its end (0 when empty)."""
    consumer = assigned_consumer(settings, fetch_max_wait_ms=100)
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        highest = 0
        quiet_until = time.monotonic() + quiet
        while time.monotonic() < quiet_until:
            records = consumer.poll(timeout_ms=100).get(tp, [])
            if records:
                quiet_until = time.monotonic() + quiet
            for record in records:
                raw = header(record.headers, "notification_id")
                highest = max(highest, int(raw) if raw else 0)
        return highest
    finally:
        consumer.close()
