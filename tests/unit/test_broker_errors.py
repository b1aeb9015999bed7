"""Every way a Kafka call fails is counted in `reporting_broker_errors_total`, by operation."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, cast

import pytest
from kafka import KafkaProducer
from kafka.errors import KafkaTimeoutError

from infra import metrics
from infra.kafka import wait_for_producer_id


@dataclass
class _NoId:
    def has_producer_id(self) -> bool:
        return False


@dataclass
class _Producer:
    """What `wait_for_producer_id` reads of a producer whose broker never answers."""

    _transaction_manager: Any


def _connect_errors() -> float:
    found = metrics.metrics_registry().get_sample_value("reporting_broker_errors_total", {"operation": "connect"})
    return found or 0.0


def test_a_producer_id_that_never_comes_is_a_counted_broker_error() -> None:
    before = _connect_errors()
    with pytest.raises(KafkaTimeoutError):
        wait_for_producer_id(cast(KafkaProducer, _Producer(_NoId())), threading.Event(), timeout=0.05)
    assert _connect_errors() == before + 1


def test_a_stop_while_waiting_is_no_error() -> None:
    before = _connect_errors()
    stop = threading.Event()
    stop.set()
    wait_for_producer_id(cast(KafkaProducer, _Producer(_NoId())), stop, timeout=0.05)
    assert _connect_errors() == before
