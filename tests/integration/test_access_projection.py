"""The access read model from real account and token events (made by the handlers on the in-memory
store), applied in batches of any size: the same rows, and the queries' search and filters."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import pytest

from domain.identity import Principal, Role
from entrypoints.bootstrap import in_memory_write_side, write_side
from infra.clock import vietnam_today
from infra.db import connect, open_pool
from infra.integration_events import IntegrationEvent, from_domain_event
from infra.memory_event_store import InMemoryEventStore
from infra.settings import Settings
from services.ingest.application.access import create_account, disable_account, rename_account, set_roles
from services.ingest.application.commands import (
    CreateAccount,
    DisableAccount,
    IssueToken,
    RenameAccount,
    RevokeToken,
    SetRoles,
)
from services.ingest.application.outcomes import TokenIssued
from services.ingest.application.seed import load_seed
from services.ingest.application.tokens import issue_token, revoke_token
from services.readmodels.access.projection import AccessProjection, search_key
from services.readmodels.access.queries import AccessQueries, TokenStatus

ADMIN = Principal("user:quantri", Role.ADMIN)
PASSWORD = "mật-khẩu-đủ-dài-2026"


class TwoDaysAgo:
    def today(self) -> date:
        return vietnam_today() - timedelta(days=2)


def access_events() -> tuple[list[IntegrationEvent], dict[str, str]]:
    """Accounts and tokens changed in every way the handlers allow; their events in store order."""
    ws = in_memory_write_side()
    load_seed(ws)
    people = [
        ("canbo.p01", "Nguyễn Thị Lan", "P01", {Role.AGENCY_REPORTER}),
        ("canbo.p79", "Đặng Văn Đức", "P79", {Role.AGENCY_REPORTER}),
        ("thamdinh", "Trần Văn Minh", None, {Role.MINISTRY_REVIEWER}),
        ("kiemtoan", "Lê Thu Hà", None, {Role.AUDITOR}),
    ]
    for username, name, agency, roles in people:
        create_account(ws, ADMIN, CreateAccount(username, name, agency, frozenset(roles), PASSWORD))
    set_roles(ws, ADMIN, SetRoles("thamdinh", frozenset({Role.MINISTRY_REVIEWER, Role.AUDITOR})))
    rename_account(ws, ADMIN, RenameAccount("canbo.p01", "Nguyễn Thị Lan Anh"))
    disable_account(ws, ADMIN, DisableAccount("kiemtoan", "nghỉ hưu"))
    names = {}
    for key, command in (
        ("dhis2", IssueToken(Role.AGENCY_REPORTER, "P01", "DHIS2 của Sở")),
        ("portal", IssueToken(Role.AUDITOR, None, "Cổng dữ liệu")),
    ):
        issued = issue_token(ws, ADMIN, command)
        assert isinstance(issued, TokenIssued)
        names[key] = issued.token
    # Issued two days ago, valid through that day: expired since.
    then = write_side(ws.store, clock=TwoDaysAgo(), passwords=ws.passwords, throttle=ws.throttle)
    expired = issue_token(then, ADMIN, IssueToken(Role.AUDITOR, None, "Hết hạn", TwoDaysAgo().today()))
    assert isinstance(expired, TokenIssued)
    names["expired"] = expired.token
    revoke_token(ws, ADMIN, RevokeToken(names["portal"], "đổi cổng"))
    assert isinstance(ws.store, InMemoryEventStore)
    app = ws.store.application
    events = [
        from_domain_event(app.mapper.to_domain_event(n), n.id)
        for n in app.recorder.select_notifications(start=1, limit=100_000)
    ]
    return [e for e in events if e.aggregate in ("account", "api_token")], names


def project(settings: Settings, events: Sequence[IntegrationEvent], batch: int) -> list[tuple[object, ...]]:
    projection = AccessProjection()
    with connect(settings) as conn:
        conn.execute("TRUNCATE rm_access_people, rm_access_tokens")
        for start in range(0, len(events), batch):
            with conn.transaction(), conn.cursor() as cur:
                projection.apply(cur, events[start : start + batch])
        people = conn.execute("SELECT * FROM rm_access_people ORDER BY username").fetchall()
        tokens = conn.execute("SELECT * FROM rm_access_tokens ORDER BY token").fetchall()
    return [*people, *tokens]


def test_batches_of_any_size_give_the_same_rows(empty_settings: Settings) -> None:
    events, _ = access_events()
    once = project(empty_settings, events, len(events))
    assert project(empty_settings, events, 1) == once
    assert project(empty_settings, events, 3) == once
    assert len(once) == 4 + 3


@pytest.fixture
def queries(empty_settings: Settings) -> tuple[AccessQueries, dict[str, str]]:
    events, names = access_events()
    project(empty_settings, events, 5)
    pool = open_pool(empty_settings, max_size=1)
    pool.wait()
    return AccessQueries(pool, empty_settings.kafka_topic), names


def test_people_as_the_administrators_see_them(queries: tuple[AccessQueries, dict[str, str]]) -> None:
    access, _ = queries
    clerk = access.person("canbo.p01")
    assert (clerk.display_name, clerk.agency, clerk.roles, clerk.enabled) == (
        "Nguyễn Thị Lan Anh",
        "P01",
        ("agency_reporter",),
        True,
    )
    assert (clerk.created_by, clerk.changed_by, clerk.last_change) == (ADMIN.subject, ADMIN.subject, "AccountRenamed")
    assert clerk.password_set_at is not None
    retired = access.person("kiemtoan")
    assert (retired.enabled, retired.disabled_reason) == (False, "nghỉ hưu")
    assert access.person("thamdinh").roles == ("auditor", "ministry_reviewer")

    def names(**filters: object) -> list[str]:
        return [p.username for p in access.people(**filters).rows]  # type: ignore[arg-type]

    assert names() == ["canbo.p01", "canbo.p79", "kiemtoan", "thamdinh"]
    assert names(search="nguyen thi") == ["canbo.p01"], "diacritics ignored"
    assert names(search="ĐẶNG") == ["canbo.p79"]
    assert names(search="100%_") == []
    assert names(ministry=True) == ["kiemtoan", "thamdinh"]
    assert names(agency="P79") == ["canbo.p79"]
    assert names(role="auditor") == ["kiemtoan", "thamdinh"]
    assert names(enabled=False) == ["kiemtoan"]
    first = access.people(limit=3)
    assert first.next_after == "kiemtoan"
    assert [p.username for p in access.people(after=first.next_after, limit=3).rows] == ["thamdinh"]
    assert access.people(after="kiemtoan", limit=3).next_after is None


def test_tokens_as_the_administrators_see_them(queries: tuple[AccessQueries, dict[str, str]]) -> None:
    access, names = queries
    portal = access.token(names["portal"])
    assert (portal.status, portal.revoked_by, portal.revoke_reason) == (TokenStatus.REVOKED, ADMIN.subject, "đổi cổng")
    assert access.token(names["dhis2"]).status is TokenStatus.ACTIVE
    assert access.token(names["expired"]).status is TokenStatus.EXPIRED
    assert [t.token for t in access.tokens(status=TokenStatus.ACTIVE).rows] == [names["dhis2"]]
    assert [t.token for t in access.tokens(search="cong du lieu").rows] == [names["portal"]]
    assert [t.token for t in access.tokens(agency="P01").rows] == [names["dhis2"]]
    counts = access.counts()
    assert (counts.people, counts.disabled) == (4, 1)
    assert (counts.tokens_active, counts.tokens_expired, counts.tokens_revoked) == (1, 1, 1)


def test_search_key() -> None:
    assert search_key("Đặng Văn Đức") == "dang van duc"
    assert search_key("NGUYỄN") == "nguyen"
