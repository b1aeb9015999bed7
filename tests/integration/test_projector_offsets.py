"""The projector's stored offsets after the topic was recreated (the broker lost its log).

Offsets of the old log mean nothing in the new one: a log with duplicates (the relay
delivers at least once) is longer than the same events republished once each. If the
projector kept the old log's offset as the new log's "next offset", a restart would seek
past events it never applied.
"""

from __future__ import annotations

from infra.db import connect
from infra.kafka import TopicInfo
from infra.settings import Settings
from services.projector.projections import all_projections
from services.projector.runner import Projector
from tests.helpers import store_events


def test_offsets_of_a_recreated_topic_restart_from_the_new_log(settings: Settings) -> None:
    events = store_events(settings)
    assert len(events) > 100, "the seed holds enough events"
    old_log = TopicInfo("old-topic-id", (0,))
    new_log = TopicInfo("new-topic-id", (0,))
    half = len(events) // 2
    applied, later = events[:half], events[half:]

    projector = Projector(settings, all_projections())
    with connect(settings) as conn:
        projector._load_positions(conn, old_log)
        # The old log: every event twice (a relay that crashed after the broker's ack republishes).
        doubled = [event for event in applied for _ in (0, 1)]
        projector.apply_batch(conn, old_log, [(0, offset, e) for offset, e in enumerate(doubled)])
        assert projector._start_offsets(old_log) == {0: len(doubled)}

        # The broker lost its log; the relay republished everything once, then the later events.
        # The projector reads the new log from 0 and applies a first batch (all already applied).
        projector._load_positions(conn, new_log)
        assert projector._start_offsets(new_log) == {0: 0}, "another log: read it from the start"
        first_batch = [(0, offset, e) for offset, e in enumerate(applied[:50])]
        assert projector.apply_batch(conn, new_log, first_batch) == 0, "nothing applied twice"

    # A restart: it must resume at offset 50 of the new log, not at the old log's offset.
    restarted = Projector(settings, all_projections())
    with connect(settings) as conn:
        restarted._load_positions(conn, new_log)
        assert restarted._start_offsets(new_log) == {0: 50}
        rest = [(0, offset, e) for offset, e in enumerate(applied + later) if offset >= 50]
        assert restarted.apply_batch(conn, new_log, rest) == len(later), "the later events, once each"
        row = conn.execute(
            "SELECT count(*) FROM rm_audit_trail"  # one row per event of the log (services/projector/audit_trail.py)
        ).fetchone()
    assert row is not None
    assert row[0] == len(events)
