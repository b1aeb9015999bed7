"""The compliance rows with recalls and reasons, and what the review queue and the home pages read from them.

Events are made by the write application (in memory, fake clock) and applied by the real projections
(reference data and compliance) to a fresh PostgreSQL database; the queries then answer as the pages
ask: the queue (submitted reports, longest waiting first, by month, region, kind), the counts per status,
one agency's months with the latest step and its reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from domain.identity import Principal, Role
from domain.periods import Period
from entrypoints.bootstrap import in_memory_write_side
from infra.db import connect, open_pool
from infra.integration_events import IntegrationEvent, from_domain_event
from infra.memory_event_store import InMemoryEventStore
from infra.settings import Settings
from services.ingest.application.commands import Action, ChangeStatus, EnterValues
from services.ingest.application.seed import load_seed, reporting_regime
from services.ingest.application.submissions import change_status, enter_values
from services.ingest.application.write_side import WriteSide
from services.readmodels.compliance.projection import ComplianceProjection
from services.readmodels.compliance.queries import BOARD_STATUSES, ComplianceQueries, QueueFilter
from services.readmodels.reference.projection import ReferenceProjection
from services.readmodels.reference.queries import ReferenceQueries

TODAY = date(2025, 8, 20)
OPEN, PAST = "2025-09", "2025-08"
REVIEWER = Principal("user:thamdinh", Role.MINISTRY_REVIEWER)


class Clock:
    def __init__(self) -> None:
        self.day = TODAY

    def today(self) -> date:
        return self.day


def agency(code: str) -> Principal:
    return Principal(f"user:canbo.{code.lower()}", Role.AGENCY_REPORTER, code)


def fill_and_submit(ws: WriteSide, code: str, period: str, reason: str | None = None) -> None:
    form = ws.reference.form("UNIFIED-PROVINCIAL", Period.parse(period))
    defaults: dict[str, object] = {"integer": 0, "decimal": "0", "percentage": "0", "boolean": False, "text": "-"}
    values = [(c, defaults[i.value_type]) for c, i in form.indicators.items() if i.required]
    enter_values(ws, agency(code), EnterValues.of(code, period, values))
    change_status(ws, agency(code), ChangeStatus(code, period, Action.SUBMIT, reason))


def published(ws: WriteSide) -> list[IntegrationEvent]:
    store = ws.store
    assert isinstance(store, InMemoryEventStore)
    app = store.application
    return [
        from_domain_event(app.mapper.to_domain_event(n), n.id) for n in app.recorder.select_notifications(0, 100_000)
    ]


@pytest.fixture
def queries(empty_settings: Settings) -> Iterator[ComplianceQueries]:
    clock = Clock()
    ws = in_memory_write_side(clock=clock)
    load_seed(ws)
    fill_and_submit(ws, "P01", OPEN, "số liệu chốt ngày 14")  # Hà Nội (red river delta): waiting longest
    fill_and_submit(ws, "P79", OPEN)  # Hồ Chí Minh city (southeast)
    fill_and_submit(ws, "P48", OPEN)  # Đà Nẵng
    change_status(ws, agency("P48"), ChangeStatus("P48", OPEN, Action.RECALL, "gửi nhầm"))
    fill_and_submit(ws, "P79", PAST)
    change_status(ws, REVIEWER, ChangeStatus("P79", PAST, Action.RETURN, "thiếu số liệu bưu chính"))
    clock.day = date(2025, 8, 25)
    change_status(ws, agency("P79"), ChangeStatus("P79", PAST, Action.SUBMIT))  # submitted again, later
    fill_and_submit(ws, "P01", PAST)
    change_status(ws, REVIEWER, ChangeStatus("P01", PAST, Action.APPROVE))
    events = published(ws)
    with connect(empty_settings) as conn, conn.transaction(), conn.cursor() as cur:
        for projection in (ReferenceProjection(), ComplianceProjection()):
            projection.apply(cur, events)
    pool = open_pool(empty_settings)
    pool.wait()
    yield ComplianceQueries(pool, ReferenceQueries(pool, empty_settings.kafka_topic), reporting_regime(), "t")
    pool.close()


def test_a_recall_and_a_return_keep_their_reasons(queries: ComplianceQueries) -> None:
    p48 = queries.agency_reports("P48", [Period.parse(OPEN)])[OPEN]
    assert (p48.status, p48.board_status, p48.step_reason, p48.step_actor) == (
        "recalled",
        "recalled",
        "gửi nhầm",
        "user:canbo.p48",
    )
    p79 = queries.agency_reports("P79", [Period.parse(OPEN), Period.parse(PAST)])
    again = p79[PAST]
    assert (again.status, again.times_submitted, again.step_reason) == ("submitted", 2, None)
    assert again.return_reason == "thiếu số liệu bưu chính", "the return's reason stays after a resubmission"
    p01 = queries.agency_reports("P01", [Period.parse(OPEN)])[OPEN]
    assert (p01.step_reason, p01.step_role) == ("số liệu chốt ngày 14", "agency_reporter")
    assert queries.agency_reports("P01", [Period.parse("2025-07")]) == {}


def test_the_queue_lists_submitted_reports_longest_waiting_first_and_filters(queries: ComplianceQueries) -> None:
    everything = queries.queue(QueueFilter(), 50)
    assert [(e.report.agency, e.report.period) for e in everything.entries] == [
        ("P01", OPEN),
        ("P79", OPEN),
        ("P79", PAST),
    ], "recalled and approved reports are not waiting; the resubmitted one waits since its last submission"
    assert everything.total == 3
    assert everything.per_period == {OPEN: 2, PAST: 1}
    first = everything.entries[0]
    assert first.name_vi is not None
    assert "Hà Nội" in first.name_vi
    assert first.region == "red_river_delta"
    assert [e.report.agency for e in queries.queue(QueueFilter(period=Period.parse(PAST)), 50).entries] == ["P79"]
    assert [e.report.agency for e in queries.queue(QueueFilter(region="southeast"), 50).entries] == ["P79", "P79"]
    assert queries.queue(QueueFilter(kind="ministry_unit"), 50).entries == []
    paged = queries.queue(QueueFilter(), 1, offset=1)
    assert ([e.report.agency for e in paged.entries], paged.total) == (["P79"], 3)


def test_counts_per_month_cover_every_agency_that_had_to_report(queries: ComplianceQueries) -> None:
    counts = queries.counts([Period.parse(OPEN), Period.parse(PAST)])
    september, august = counts[OPEN], counts[PAST]
    assert set(september) == set(BOARD_STATUSES)
    assert (september["submitted_on_time"], september["recalled"], september["approved"]) == (2, 1, 0)
    assert (august["submitted_on_time"], august["submitted_late"], august["approved"]) == (0, 1, 1)
    expected = len(queries.reference.snapshot().expected_agencies(Period.parse(OPEN)))
    assert sum(september.values()) == expected
    assert september["not_started"] == expected - 3
