"""API tokens through the write application, on the in-memory event store: every issue and revoke an
event, the token's row stored in the same save, the secret in the first answer only."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import orjson
import pytest

from domain.access import ApiToken, InvalidToken, TokenDigest, token_digest, token_id
from domain.errors import Forbidden, NotFound
from domain.identity import Principal, Role
from domain.periods import VIETNAM
from entrypoints.bootstrap import in_memory_write_side
from infra.memory_event_store import InMemoryEventStore
from services.ingest.application.commands import IssueToken, RevokeToken
from services.ingest.application.idempotency import Idempotency
from services.ingest.application.outcomes import Replayed, TokenChanged, TokenIssued
from services.ingest.application.seed import load_seed
from services.ingest.application.tokens import issue_token, revoke_token
from services.ingest.application.write_side import WriteSide

ADMIN = Principal("user:quantri", Role.ADMIN)
TODAY = date(2026, 11, 20)


class FixedClock:
    def today(self) -> date:
        return TODAY


@pytest.fixture
def ws() -> WriteSide:
    seeded = in_memory_write_side(clock=FixedClock())
    load_seed(seeded)
    return seeded


def memory(ws: WriteSide) -> InMemoryEventStore:
    assert isinstance(ws.store, InMemoryEventStore)
    return ws.store


def issue(ws: WriteSide, command: IssueToken, key: str | None = None) -> TokenIssued | Replayed:
    idempotency = None if key is None else Idempotency.of(ADMIN.subject, key, "POST", "/admin/tokens", {"k": key})
    return issue_token(ws, ADMIN, command, idempotency=idempotency)


def test_a_token_is_an_event_and_its_row_is_stored_with_it(ws: WriteSide) -> None:
    outcome = issue(ws, IssueToken(Role.AGENCY_REPORTER, "P01", "DHIS2 của Sở", date(2026, 12, 31)))
    assert isinstance(outcome, TokenIssued)
    assert outcome.secret.startswith("rpt_")
    assert outcome.token.startswith("agency_reporter:P01:")
    assert outcome.expires_at == datetime(2027, 1, 1, tzinfo=VIETNAM), "valid through the last day, in Vietnam"
    events = list(memory(ws).application.events.get(token_id(outcome.token)))
    assert [type(e).__name__ for e in events] == ["Issued"]
    assert events[0].actor == ADMIN.subject
    row = memory(ws).recorder.tokens[outcome.token].row
    assert row == TokenDigest(
        outcome.token,
        token_digest(outcome.secret),
        Role.AGENCY_REPORTER,
        "P01",
        "DHIS2 của Sở",
        events[0].timestamp,
        outcome.expires_at,
    )
    assert outcome.secret not in repr(vars(events[0]))
    assert outcome.secret not in repr(row)
    assert orjson.loads(outcome.response_body())["secret"] == outcome.secret


def test_the_stored_answer_never_holds_the_secret(ws: WriteSide) -> None:
    command = IssueToken(Role.AUDITOR, None, "Cổng dữ liệu quốc gia")
    first = issue(ws, command, key="k1")
    assert isinstance(first, TokenIssued)
    stored = b"".join(answer.body for answer in memory(ws).recorder.answers.values())
    assert first.secret.encode() not in stored
    again = issue(ws, command, key="k1")
    assert isinstance(again, Replayed)
    replay = orjson.loads(again.response_body())
    assert replay["subject"] == first.token
    assert replay["secret"] is None
    assert "shown once" in replay["secret_note"]
    assert len(memory(ws).recorder.tokens) == 1, "a retry issues nothing"


def test_refusals_issue_nothing(ws: WriteSide) -> None:
    before = memory(ws).event_count()
    refused = [
        IssueToken(Role.AGENCY_REPORTER, "ZZ99", "x"),  # no such agency
        IssueToken(Role.AUDITOR, "P01", "x"),  # an agency's token reports for it, nothing else
        IssueToken(Role.AGENCY_REPORTER, None, "x"),  # an agency reporter's token names its agency
        IssueToken(Role.AUDITOR, None, " "),  # which system holds it
        IssueToken(Role.AUDITOR, None, "x", TODAY - timedelta(days=1)),  # expired already
        IssueToken(Role.AUDITOR, None, "x", date.max),  # an end beyond any plan (and any calendar)
    ]
    messages = []
    for command in refused:
        with pytest.raises(InvalidToken) as error:
            issue(ws, command)
        messages.append(error.value.detail)
    assert messages[0] == "agency ZZ99 does not exist"
    with pytest.raises(Forbidden):
        issue_token(ws, Principal("user:thamdinh", Role.MINISTRY_REVIEWER), IssueToken(Role.AUDITOR, None, "x"))
    assert memory(ws).event_count() == before
    assert memory(ws).recorder.tokens == {}


def test_revoking_is_an_event_and_marks_the_row_in_the_same_save(ws: WriteSide) -> None:
    issued = issue(ws, IssueToken(Role.AUDITOR, None, "Thanh tra"))
    assert isinstance(issued, TokenIssued)
    revoked = revoke_token(ws, ADMIN, RevokeToken(issued.token, "  lộ khoá  "))
    assert isinstance(revoked, TokenChanged)
    assert revoked.position is not None
    assert (revoked.revoked_by, revoked.revoke_reason) == (ADMIN.subject, "lộ khoá")
    events = list(memory(ws).application.events.get(token_id(issued.token)))
    assert [type(e).__name__ for e in events] == ["Issued", "Revoked"]
    revocation = memory(ws).recorder.tokens[issued.token].revocation
    assert revocation is not None
    assert (revocation.revoked_at, revocation.revoked_by) == (events[1].timestamp, ADMIN.subject)

    twice = revoke_token(ws, ADMIN, RevokeToken(issued.token, "lần nữa"))
    assert isinstance(twice, TokenChanged)
    assert twice.position is None, "nothing recorded"
    assert (twice.revoked_at, twice.revoke_reason) == (revoked.revoked_at, "lộ khoá"), "the first revocation stays"
    aggregate = ws.store.get(token_id(issued.token))
    assert isinstance(aggregate, ApiToken)
    assert aggregate.version == 2
    with pytest.raises(NotFound):
        revoke_token(ws, ADMIN, RevokeToken("auditor:no-such-token"))
