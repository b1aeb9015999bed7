"""Kafka adapters: topic admin, the idempotent producer, partition-assigned consumers.

Partitions are assigned explicitly, never through a consumer group: positions
live in PostgreSQL (docs/DECISIONS.md), and group joins are slow on the local broker.
The same code runs against Apache Kafka and the local Tansu broker.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError, KafkaTimeoutError, TopicAlreadyExistsError, UnknownTopicOrPartitionError

from infra.integration_events import REQUEST_ID_FIELD
from infra.metrics import BROKER_ERRORS
from infra.settings import Settings

log = logging.getLogger("reporting.kafka")


@contextlib.contextmanager
def broker_errors(operation: str) -> Iterator[None]:
    """Count a Kafka error of `operation` (produce, consume, metadata, admin, connect) and let it go on."""
    try:
        yield
    except KafkaError:
        BROKER_ERRORS.labels(operation).inc()
        raise


# Retention forever: the topic is the published, replayable log (docs/DECISIONS.md, *Integration events*).
TOPIC_CONFIG = {"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete"}


@dataclass(frozen=True)
class TopicInfo:
    topic_id: str
    partitions: tuple[int, ...]


@contextlib.contextmanager
def admin_client(settings: Settings) -> Iterator[KafkaAdminClient]:
    with broker_errors("connect"):
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
    with admin_client(settings) as client, broker_errors("metadata"):
        if topic not in client.list_topics():
            return None
        (described,) = client.describe_topics([topic])
    if described.get("error_code", 0) != 0:
        return None
    partitions = tuple(sorted(p["partition_index"] for p in described["partitions"]))
    return TopicInfo(str(described.get("topic_id")), partitions)


ENSURE_ATTEMPTS = 5


def ensure_topic(settings: Settings, topic: str, partitions: int) -> TopicInfo:
    """Create the topic if it is missing (idempotent: concurrent creators are fine).

    A topic with another partition count that holds no message was created by accident: the
    local broker creates any topic a client merely asks metadata for (ignoring the client's
    `allow_auto_create_topics`), with its own default count. It is deleted and created right.
    One that holds messages is an operator's matter: keys map to partitions by count, so
    another count would break per-agency order.
    """
    for _attempt in range(ENSURE_ATTEMPTS):
        info = describe_topic(settings, topic)
        if info is None:
            with (
                admin_client(settings) as client,
                broker_errors("admin"),
                contextlib.suppress(TopicAlreadyExistsError),  # a concurrent creator won: no error
            ):
                client.create_topics(
                    [NewTopic(topic, num_partitions=partitions, replication_factor=1, topic_configs=TOPIC_CONFIG)]
                )
            continue
        if len(info.partitions) == partitions:
            return info
        if any(found is not None for found in read_at(settings, topic, dict.fromkeys(info.partitions, 0)).values()):
            raise RuntimeError(f"topic {topic} has {len(info.partitions)} partitions, expected {partitions}")
        log.warning("topic %s was auto-created with %d partitions; recreating it", topic, len(info.partitions))
        with (
            admin_client(settings) as client,
            broker_errors("admin"),
            contextlib.suppress(UnknownTopicOrPartitionError),
        ):
            client.delete_topics([topic])
    raise RuntimeError(f"topic {topic} could not be created with {partitions} partitions")


def idempotent_producer(settings: Settings) -> KafkaProducer:
    """acks=all + idempotence: a retried send is written once (docs/DECISIONS.md, *No dual writes*)."""
    with broker_errors("connect"):
        return _producer(settings)


def _producer(settings: Settings) -> KafkaProducer:
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
        allow_auto_create_topics=False,  # Apache Kafka honours it (compose disables auto-creation too)
    )


def wait_for_producer_id(producer: KafkaProducer, stop: threading.Event, timeout: float = 30.0) -> None:
    """Until the broker gave the idempotent producer its id (the producer asks for it at once).

    A producer id belongs to one life of the broker: a broker that restarts (and may have lost its
    log) refuses it, so a producer whose id came before a topic check cannot write into a log that
    was replaced after the check. kafka-python exposes no public call for this wait.
    """
    manager = producer._transaction_manager  # private: see above
    deadline = time.monotonic() + timeout
    with broker_errors("connect"):  # a broker that went away before giving it is an outage like any other
        while not manager.has_producer_id() and not stop.is_set():
            if time.monotonic() >= deadline:
                raise KafkaTimeoutError("no producer id from the broker")
            stop.wait(0.01)


def abandon(producer: KafkaProducer) -> None:
    """Close without sending what is still queued.

    After a failed send, records queued behind it must not reach the partition before it is
    republished (the producer may go on under a new epoch): a projector skips positions at or
    below the highest it applied, so an overtaking record would hide the failed one for good.
    """
    producer._sender.force_close()  # private: close(timeout=0) would flush first
    with contextlib.suppress(KafkaError):
        producer.close(timeout=0)


def assigned_consumer(
    settings: Settings, *, max_poll_records: int = 5000, fetch_max_wait_ms: int = 200
) -> KafkaConsumer:
    with broker_errors("connect"):
        return _consumer(settings, max_poll_records, fetch_max_wait_ms)


def _consumer(settings: Settings, max_poll_records: int, fetch_max_wait_ms: int) -> KafkaConsumer:
    return KafkaConsumer(
        fetch_max_wait_ms=fetch_max_wait_ms,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id="reporting-consumer",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        allow_auto_create_topics=False,
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


def request_ids_of(polled: Mapping[TopicPartition, Sequence[Any]]) -> dict[tuple[int, int], str]:
    """(partition, offset) -> the `request_id` header, of every polled record that has one."""
    found = {}
    for tp, records in polled.items():
        for record in records:
            value = header(record.headers, REQUEST_ID_FIELD)
            if value:
                found[tp.partition, record.offset] = value.decode(errors="replace")
    return found


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
        consumer.seek(tp, 0)  # not seek_to_beginning: the local broker's offset listing cannot be trusted
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
