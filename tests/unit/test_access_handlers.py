"""People's accounts and signing in, on the in-memory event store: every change an event, no secret in any."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from domain.access import Account, AccountExists, InvalidAccount, account_id
from domain.errors import InvalidTransition
from domain.identity import Principal, Role
from entrypoints.bootstrap import in_memory_write_side
from infra.memory_event_store import InMemoryEventStore
from infra.throttle import InMemoryThrottle
from services.ingest.application.access import (
    Person,
    SignInRefused,
    SignInThrottled,
    WeakPassword,
    WrongPassword,
    change_password,
    create_account,
    disable_account,
    enable_account,
    person,
    reset_password,
    set_roles,
    sign_in,
    sign_out_everywhere,
)
from services.ingest.application.commands import (
    ChangePassword,
    CreateAccount,
    DisableAccount,
    EnableAccount,
    ResetPassword,
    SetRoles,
)
from services.ingest.application.outcomes import AccountChanged
from services.ingest.application.seed import load_seed
from services.ingest.application.write_side import WriteSide

ADMIN = Principal("user:quantri", Role.ADMIN)
PASSWORD = "mật-khẩu-đủ-dài-2026"


class FastHasher:
    """A stand-in for argon2 in unit tests: same contract, no cost."""

    def hash(self, password: str) -> str:
        return "fast$" + password[::-1]

    def verify(self, password_hash: str | None, password: str) -> bool:
        return password_hash is not None and password_hash == self.hash(password)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def minutes() -> Clock:
    return Clock()


@pytest.fixture
def ws(minutes: Clock) -> WriteSide:
    seeded = in_memory_write_side()
    seeded.passwords = FastHasher()
    seeded.throttle = InMemoryThrottle(window=timedelta(minutes=15), limit=3, clock=minutes)
    load_seed(seeded)
    return seeded


def clerk(ws: WriteSide, username: str = "clerk.p01") -> AccountChanged:
    outcome = create_account(
        ws, ADMIN, CreateAccount(username, "Nguyễn Văn A", "P01", frozenset({Role.AGENCY_REPORTER}), PASSWORD)
    )
    assert isinstance(outcome, AccountChanged)
    return outcome


def stored(ws: WriteSide, username: str) -> list[Any]:
    assert isinstance(ws.store, InMemoryEventStore)
    return list(ws.store.application.events.get(account_id(username)))


def test_an_account_is_created_with_its_password_stored_beside_the_events(ws: WriteSide) -> None:
    outcome = clerk(ws)
    assert outcome.to_json()["roles"] == ["agency_reporter"]
    assert outcome.position is not None
    events = stored(ws, "clerk.p01")
    assert [type(e).__name__ for e in events] == ["Created", "PasswordSet"]
    assert ws.store.password_hash("clerk.p01") == FastHasher().hash(PASSWORD)
    for event in events:  # nothing of the password in any event
        assert PASSWORD not in repr(vars(event))
        assert "fast$" not in repr(vars(event))


def test_refusals_store_nothing(ws: WriteSide) -> None:
    clerk(ws)
    assert isinstance(ws.store, InMemoryEventStore)
    before = ws.store.event_count()
    with pytest.raises(AccountExists):
        clerk(ws)
    with pytest.raises(WeakPassword):
        create_account(ws, ADMIN, CreateAccount("other", "X", "P01", frozenset({Role.AGENCY_REPORTER}), "short"))
    with pytest.raises(InvalidAccount, match="does not exist"):
        create_account(ws, ADMIN, CreateAccount("other", "X", "ZZ99", frozenset({Role.AGENCY_REPORTER}), PASSWORD))
    with pytest.raises(InvalidAccount):
        create_account(ws, ADMIN, CreateAccount("other", "X", "P01", frozenset({Role.AUDITOR}), PASSWORD))
    assert ws.store.event_count() == before
    assert ws.store.password_hash("other") is None


def test_sign_in_gives_the_person_and_refuses_alike_whatever_is_wrong(ws: WriteSide) -> None:
    clerk(ws)
    found = sign_in(ws, " Clerk.P01 ", PASSWORD, "10.0.0.1")
    assert found == Person("clerk.p01", "Nguyễn Văn A", Principal("user:clerk.p01", Role.AGENCY_REPORTER, "P01"))
    wrong = [("clerk.p01", "not the password"), ("nobody", PASSWORD)]
    messages = set()
    for username, password in wrong:
        with pytest.raises(SignInRefused) as refused:
            sign_in(ws, username, password, f"10.0.0.{len(messages) + 2}")
        messages.add(str(refused.value))
    assert len(messages) == 1  # one message: it never says whether the username exists


def test_failed_sign_ins_are_throttled_per_username_and_per_address(ws: WriteSide, minutes: Clock) -> None:
    clerk(ws)
    for attempt in range(3):
        with pytest.raises(SignInRefused):
            sign_in(ws, "clerk.p01", f"wrong {attempt}", f"10.0.1.{attempt}")
    with pytest.raises(SignInThrottled) as throttled:  # even with the right password, from another address
        sign_in(ws, "clerk.p01", PASSWORD, "10.0.2.1")
    assert throttled.value.retry_after is not None
    assert throttled.value.retry_after > 0
    minutes.now += 15 * 60 + 1
    assert sign_in(ws, "clerk.p01", PASSWORD, "10.0.2.1").username == "clerk.p01"
    for attempt in range(3):  # one address guessing many names is throttled too
        with pytest.raises(SignInRefused):
            sign_in(ws, f"guess{attempt}", "x", "10.9.9.9")
    with pytest.raises(SignInThrottled):
        sign_in(ws, "clerk.p01", PASSWORD, "10.9.9.9")


def test_a_disabled_account_cannot_sign_in_and_has_no_person(ws: WriteSide) -> None:
    clerk(ws)
    disable_account(ws, ADMIN, DisableAccount("clerk.p01", "nghỉ việc"))
    assert person(ws, "clerk.p01") is None
    with pytest.raises(SignInRefused):
        sign_in(ws, "clerk.p01", PASSWORD, "10.0.3.1")
    enable_account(ws, ADMIN, EnableAccount("clerk.p01"))
    assert person(ws, "clerk.p01") is not None


def test_roles_change_at_once_for_the_person(ws: WriteSide) -> None:
    create_account(ws, ADMIN, CreateAccount("reviewer1", "Trần B", None, frozenset({Role.MINISTRY_REVIEWER}), PASSWORD))
    set_roles(ws, ADMIN, SetRoles("reviewer1", frozenset({Role.MINISTRY_REVIEWER, Role.AUDITOR})))
    found = person(ws, "reviewer1")
    assert found is not None
    assert found.principal.roles == {Role.MINISTRY_REVIEWER, Role.AUDITOR}
    names = [type(e).__name__ for e in stored(ws, "reviewer1")]
    assert names == ["Created", "PasswordSet", "RoleGranted"]


def test_a_person_changes_their_password_proving_the_current_one(ws: WriteSide) -> None:
    clerk(ws)
    me = sign_in(ws, "clerk.p01", PASSWORD, "10.0.4.1")
    with pytest.raises(WrongPassword):
        change_password(ws, me, ChangePassword("not it", "một-mật-khẩu-mới-dài"))
    change_password(ws, me, ChangePassword(PASSWORD, "một-mật-khẩu-mới-dài"))
    with pytest.raises(SignInRefused):
        sign_in(ws, "clerk.p01", PASSWORD, "10.0.4.2")
    assert sign_in(ws, "clerk.p01", "một-mật-khẩu-mới-dài", "10.0.4.2").username == "clerk.p01"
    last = stored(ws, "clerk.p01")[-1]
    assert isinstance(last, Account.PasswordSet)
    assert last.by_self


def test_an_administrator_resets_a_password_and_the_person_signs_out_everywhere(ws: WriteSide) -> None:
    clerk(ws)
    reset_password(ws, ADMIN, ResetPassword("clerk.p01", "mật-khẩu-quản-trị-đặt"))
    me = sign_in(ws, "clerk.p01", "mật-khẩu-quản-trị-đặt", "10.0.5.1")
    sign_out_everywhere(ws, me)
    names = [type(e).__name__ for e in stored(ws, "clerk.p01")]
    assert names == ["Created", "PasswordSet", "PasswordSet", "SignedOutEverywhere"]
    with pytest.raises(InvalidTransition):
        disable_account(ws, Principal("user:clerk.p01", Role.ADMIN), DisableAccount("clerk.p01"))
