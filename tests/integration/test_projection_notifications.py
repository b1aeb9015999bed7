"""The projector announces each projection's advance after its batch commits; one listener hears it."""

from __future__ import annotations

import threading

from infra.db import connect
from infra.kafka import TopicInfo
from infra.notifications import CHANNEL, ProjectionListener
from infra.runtime.ports import wait_until
from infra.settings import Settings
from services.projector.projections import select_projections
from services.projector.runner import Projector
from tests.helpers import store_events

RESYNC = ("resync", -1)


class Heard:
    """What the listener reported, with the positions the database showed when it did."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.lock = threading.Lock()
        self.advances: list[tuple[str, int]] = []
        self.committed: dict[str, int] = {}

    def advance(self, projection: str, position: int) -> None:
        with connect(self.settings) as conn:
            row = conn.execute(
                "SELECT max(position) FROM projector_positions WHERE topic = %s AND projection = %s",
                (self.settings.kafka_topic, projection),
            ).fetchone()
        with self.lock:
            self.advances.append((projection, position))
            self.committed[projection] = int(row[0]) if row and row[0] is not None else 0

    def resync(self) -> None:
        with self.lock:
            self.advances.append(RESYNC)

    def count(self, item: tuple[str, int]) -> int:
        with self.lock:
            return self.advances.count(item)


def test_each_advanced_projection_is_announced_once_committed(settings: Settings) -> None:
    events = store_events(settings)[:60]
    heard = Heard(settings)
    listener = ProjectionListener(settings, heard.advance, heard.resync)
    listener.start()
    try:
        wait_until(lambda: heard.count(RESYNC) == 1, 10, what="the listener listens")
        projector = Projector(settings, select_projections(["reference", "compliance"]))
        log = TopicInfo("topic-id", (0,))
        with connect(settings) as conn:
            projector._load_positions(conn, log)
            projector.apply_batch(conn, log, [(0, offset, event) for offset, event in enumerate(events)])
            last = events[-1].position
            wait_until(
                lambda: heard.count(("reference", last)) == 1 and heard.count(("compliance", last)) == 1,
                10,
                what="both advances heard",
            )
            # Redelivered events change nothing: nothing is announced for them.
            projector.apply_batch(conn, log, [(0, offset, event) for offset, event in enumerate(events)])
            conn.execute("SELECT pg_notify(%s, 'not a payload of ours')", (CHANNEL,))
            conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, '{"projection": "rollups", "position": 1}'))
            wait_until(lambda: heard.count(("rollups", 1)) == 1, 10, what="a later announcement")
        with heard.lock:
            assert heard.advances[0] == RESYNC
            assert sorted(heard.advances[1:3]) == [("compliance", last), ("reference", last)]
            assert heard.advances[3:] == [("rollups", 1)], "nothing for the redelivery or a foreign payload"
            # When the listener heard of an advance, the database already showed it.
            assert heard.committed["reference"] == last
            assert heard.committed["compliance"] == last
    finally:
        listener.stop()


def test_the_listener_reconnects_and_resyncs_after_losing_its_connection(settings: Settings) -> None:
    heard = Heard(settings)
    listener = ProjectionListener(settings, heard.advance, heard.resync, retry_seconds=0.1)
    listener.start()
    try:
        wait_until(lambda: heard.count(RESYNC) == 1, 10, what="the listener listens")
        with connect(settings) as conn:
            ended = conn.execute(
                "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND query LIKE 'LISTEN %%') AS t"
            ).fetchone()
            assert ended == (1,), "one listening connection"
            wait_until(lambda: heard.count(RESYNC) == 2, 10, what="reconnected, every page told to read again")
            conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, '{"projection": "compliance", "position": 7}'))
            wait_until(lambda: heard.count(("compliance", 7)) == 1, 10, what="heard on the new connection")
    finally:
        listener.stop()
    assert not listener.connected.is_set()
