"""Accounts and API tokens: every grant, change and revoke is an event; secrets never are."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.access import Account, AccountExists, ApiToken, InvalidAccount, InvalidToken, check_roles, clean_username
from domain.errors import InvalidTransition
from domain.identity import Principal, Role

ADMIN = Principal("user:quantri", Role.ADMIN)


def names(aggregate: Account | ApiToken) -> list[str]:
    return [type(e).__name__ for e in aggregate.collect_events()]


def test_a_clerk_account_holds_the_agency_reporter_role_of_its_agency() -> None:
    account = Account.create(" NguyenVanA ", "Nguyễn Văn A", "P01", [Role.AGENCY_REPORTER], ADMIN)
    assert account.username == "nguyenvana"
    principal = account.principal()
    assert (principal.subject, principal.role, principal.agency) == ("user:nguyenvana", Role.AGENCY_REPORTER, "P01")
    assert names(account) == ["Created"]


@pytest.mark.parametrize(
    ("roles", "agency"),
    [
        ([Role.AGENCY_REPORTER], None),
        ([Role.MINISTRY_REVIEWER], "P01"),
        ([Role.AGENCY_REPORTER, Role.AUDITOR], "P01"),
        ([], None),
    ],
)
def test_roles_must_fit_the_account(roles: list[Role], agency: str | None) -> None:
    with pytest.raises(InvalidAccount):
        check_roles(roles, agency)


@pytest.mark.parametrize("username", ["ab", "a b", "Ánh", "x" * 65, "-lead", "a/b"])
def test_bad_usernames_are_refused(username: str) -> None:
    with pytest.raises(InvalidAccount):
        clean_username(username)


def test_roles_are_granted_and_withdrawn_one_event_each() -> None:
    account = Account.create("reviewer1", "Trần Thị B", None, [Role.MINISTRY_REVIEWER], ADMIN)
    account.collect_events()
    assert account.set_roles([Role.AUDITOR, Role.ADMIN], ADMIN)
    events = account.collect_events()
    assert [(type(e).__name__, getattr(e, "granted", getattr(e, "withdrawn", None))) for e in events] == [
        ("RoleGranted", "admin"),
        ("RoleGranted", "auditor"),
        ("RoleWithdrawn", "ministry_reviewer"),
    ]
    assert account.roles == {Role.AUDITOR, Role.ADMIN}
    assert not account.set_roles([Role.ADMIN, Role.AUDITOR], ADMIN)
    person = account.principal()
    assert person.roles == {Role.AUDITOR, Role.ADMIN}
    acting = person.acting_as([Role.ADMIN])
    assert acting is not None
    assert acting.role is Role.ADMIN
    assert person.acting_as([Role.MINISTRY_REVIEWER]) is None


def test_an_administrator_keeps_their_own_administrator_role_and_account() -> None:
    me = Account.create("quantri", "Quản trị", None, [Role.ADMIN], ADMIN)
    with pytest.raises(InvalidTransition):
        me.set_roles([Role.AUDITOR], ADMIN)
    with pytest.raises(InvalidTransition):
        me.disable(ADMIN)


def test_a_disabled_account_has_no_principal_until_enabled() -> None:
    account = Account.create("clerk2", "Lê C", "P02", [Role.AGENCY_REPORTER], ADMIN)
    assert account.disable(ADMIN, "nghỉ việc")
    assert not account.disable(ADMIN)
    with pytest.raises(InvalidTransition):
        account.principal()
    with pytest.raises(InvalidTransition):
        account.password_set(ADMIN)
    assert account.enable(ADMIN)
    assert account.principal().agency == "P02"
    assert names(account) == ["Created", "Disabled", "Enabled"]


def test_password_events_say_who_set_it_and_hold_no_secret() -> None:
    account = Account.create("clerk3", "Phạm D", "P03", [Role.AGENCY_REPORTER], ADMIN)
    account.password_set(ADMIN)
    account.password_set(account.principal())
    events = [e for e in account.collect_events() if isinstance(e, Account.PasswordSet)]
    assert [e.by_self for e in events] == [False, True]
    assert account.password_version == 2
    for event in events:
        assert set(vars(event)) >= {"username", "by_self", "actor", "role"}
        assert not {"password", "hash", "secret"} & set(vars(event))


def test_a_token_is_issued_and_revoked_once() -> None:
    expires = datetime(2027, 1, 1, tzinfo=UTC)
    token = ApiToken.issue("dhis2-p01", "DHIS2 của Sở", Role.AGENCY_REPORTER, "P01", expires, ADMIN)
    assert token.revoke(ADMIN, "lộ khoá")
    assert not token.revoke(ADMIN)
    assert names(token) == ["Issued", "Revoked"]
    with pytest.raises(InvalidToken):
        ApiToken.issue("bad", "x", Role.MINISTRY_REVIEWER, "P01", None, ADMIN)
    with pytest.raises(InvalidToken):
        ApiToken.issue("bad", "x", Role.AGENCY_REPORTER, None, None, ADMIN)
    with pytest.raises(InvalidToken, match="label"):
        ApiToken.issue("bad", "  ", Role.AUDITOR, None, None, ADMIN)


def test_account_exists_is_a_conflict() -> None:
    assert AccountExists.kind.value == "conflict"
