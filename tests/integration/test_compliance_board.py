"""The compliance board's statuses (a recalled report too) and its rates nationally, by region and by kind."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from domain.periods import Period
from domain.scope import Dimension, Scope
from entrypoints.bootstrap import read_side
from infra.db import connect, open_pool
from infra.integration_events import EventType, IntegrationEvent
from infra.kafka import TopicInfo
from infra.settings import Settings
from services.projector.projections import select_projections
from services.projector.runner import Projector
from services.readmodels.compliance.queries import rates_by_scope
from tests.helpers import store_events

PERIOD = Period.parse("2025-03")
DEADLINE = date(2025, 3, 15)


def _event(position: int, kind: EventType, agency: str, **fields: Any) -> IntegrationEvent:
    data = fields.pop("data", {})
    return IntegrationEvent(
        event_id=uuid.uuid4(),
        position=position,
        event_type=kind,
        aggregate="submission",
        aggregate_id=uuid.uuid5(uuid.NAMESPACE_URL, agency),
        aggregate_version=position,
        agency=agency,
        period=PERIOD.code,
        actor=f"canbo.{agency.lower()}",
        role="agency_reporter",
        occurred_at=fields.pop("at", datetime(2025, 3, 10, 3, tzinfo=UTC)),
        data=data,
        **fields,
    )


def _submitted(position: int, agency: str, days_late: int) -> IntegrationEvent:
    data = {"deadline": DEADLINE.isoformat(), "late": days_late > 0, "days_late": days_late}
    return _event(position, EventType.REPORT_SUBMITTED, agency, data=data)


def test_statuses_and_rates_of_one_month(settings: Settings) -> None:
    seed = store_events(settings)
    start = seed[-1].position
    opened = {"template": "UNIFIED-PROVINCIAL", "template_version": 1}
    lifecycle = [
        _event(start + 1, EventType.SUBMISSION_OPENED, "P01", data=opened),
        _submitted(start + 2, "P01", 0),
        _event(start + 3, EventType.REPORT_RECALLED, "P01", reason="sửa số thuê bao"),
        _event(start + 4, EventType.SUBMISSION_OPENED, "P79", data=opened),
        _submitted(start + 5, "P79", 3),
        _event(start + 6, EventType.SUBMISSION_OPENED, "P48", data=opened),
    ]
    projector = Projector(settings, select_projections(["reference", "compliance"]))
    log = TopicInfo("topic-id", (0,))
    with connect(settings) as conn:
        projector._load_positions(conn, log)
        projector.apply_batch(conn, log, [(0, n, e) for n, e in enumerate(seed + lifecycle)])

    pool = open_pool(settings, max_size=2)
    try:
        read = read_side(settings, pool)
        board = read.compliance.board([PERIOD], Scope.NATIONAL, date(2025, 3, 20))
        ref = read.reference.snapshot()
    finally:
        pool.close()
    rows = {row.agency: row for row in board.agencies}
    assert rows["P01"].status == "recalled"
    assert rows["P01"].status_label == "Đã thu hồi để sửa"
    assert rows["P01"].on_time is True, "timeliness is judged on the first submission"
    assert rows["P79"].status == "submitted_late"
    assert rows["P79"].days_late == 3
    assert rows["P48"].status == "draft"
    assert rows["P48"].days_late == 5, "overdue: the days since the deadline"
    untouched = [row for row in board.agencies if row.agency not in {"P01", "P79", "P48"}]
    assert {row.status for row in untouched} == {"not_started"}

    expected = len(ref.expected_agencies(PERIOD))
    national, *within = rates_by_scope(board)
    assert national.scope == Scope.NATIONAL
    assert (national.total.expected, national.total.reported, national.total.on_time) == (expected, 2, 1)
    assert national.periods[0] == board.rates[0]
    assert national.total.reporting_rate == round(2 / expected, 4)
    by_region = {s.scope.value: s for s in within if s.scope.dimension is Dimension.REGION}
    by_kind = {s.scope.value: s for s in within if s.scope.dimension is Dimension.KIND}
    assert [s.scope.dimension for s in within] == [Dimension.REGION] * len(by_region) + [Dimension.KIND] * len(by_kind)
    assert sum(s.total.expected for s in by_kind.values()) == expected
    assert sum(s.total.reported for s in by_kind.values()) == 2
    hanoi = ref.agencies["P01"].region
    hcmc = ref.agencies["P79"].region
    assert hanoi is not None
    assert hcmc is not None
    assert (by_region[hanoi].total.reported, by_region[hanoi].total.on_time) == (1, 1)
    assert (by_region[hcmc].total.reported, by_region[hcmc].total.on_time) == (1, 0)
    regional = sum(1 for a in ref.expected_agencies(PERIOD) if a.region)
    assert sum(s.total.expected for s in by_region.values()) == regional
