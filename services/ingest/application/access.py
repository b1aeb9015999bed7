"""People: their accounts, their passwords and signing in.

Every change of access is an event of the person's `Account` (`domain.access`); a password's hash
is stored with the event that records the change, in the same transaction, never in an event.
Signing in is throttled per username tried and per client address, and its refusal never says
whether the username exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from domain.access import Account, AccountExists, InvalidAccount, PasswordHash, account_id, clean_username
from domain.agencies import Agency
from domain.errors import DomainError, ErrorKind, InvalidTransition, NotFound
from domain.identity import Principal, Role
from services.ingest.application.commands import (
    ChangePassword,
    CreateAccount,
    DisableAccount,
    EnableAccount,
    RenameAccount,
    ResetPassword,
    SetRoles,
)
from services.ingest.application.execute import execute
from services.ingest.application.idempotency import Idempotency
from services.ingest.application.outcomes import AccountChanged, Replayed
from services.ingest.application.reference import get
from services.ingest.application.write_side import WriteSide

MIN_PASSWORD = 10
MAX_PASSWORD = 200


class SignInRefused(DomainError):
    """The same refusal for an unknown username, a wrong password and a disabled account."""

    code = "sign-in-refused"
    kind = ErrorKind.UNAUTHENTICATED


class SignInThrottled(DomainError):
    code = "sign-in-throttled"
    kind = ErrorKind.RATE_LIMITED

    def __init__(self, wait_seconds: float) -> None:
        super().__init__(f"too many failed sign-ins: try again in {int(wait_seconds) + 1} s")
        self.wait_seconds = wait_seconds
        self.retry_after = int(wait_seconds) + 1


class WeakPassword(DomainError):
    code = "weak-password"


class WrongPassword(DomainError):
    """The current password given to change it is not the current password."""

    code = "wrong-password"


@dataclass(frozen=True)
class Person:
    """Someone signed in: who, under which name, acting with which roles."""

    username: str
    display_name: str
    principal: Principal

    @property
    def agency(self) -> str | None:
        return self.principal.agency

    def holds(self, role: Role) -> bool:
        return role in self.principal.roles


def check_password(password: str, username: str) -> None:
    """Long enough, not the username, not one character repeated (the rules people can follow)."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise WeakPassword(f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    if password.strip().lower() == username or len(set(password)) < 4:
        raise WeakPassword("a password is not the username and not a few characters repeated")


def _account(ws: WriteSide, username: str) -> Account:
    return get(ws.store, account_id(clean_username(username)), Account, f"account {username}")


def _changed(account: Account, _: object, positions: Sequence[int]) -> AccountChanged:
    return AccountChanged.of(account, positions=tuple(positions))


def known_agency(ws: WriteSide, code: str, refusal: type[DomainError]) -> Agency:
    """The agency of the registry; `refusal` when there is none.

    A closed (merged) agency still has its reports: its people and systems may still need to
    read and correct them, so closure alone refuses nothing here.
    """
    try:
        return ws.reference.agency(code)
    except NotFound:
        raise refusal(f"agency {code} does not exist") from None


def create_account(
    ws: WriteSide, principal: Principal, command: CreateAccount, *, idempotency: Idempotency | None = None
) -> AccountChanged | Replayed:
    """A new person with a first password (set by the administrator; the person may change it)."""
    username = clean_username(command.username)
    check_password(command.password, username)
    if command.agency is not None:
        known_agency(ws, command.agency, InvalidAccount)

    def load() -> Account:
        if ws.store.get(account_id(username), read_only=True) is not None:
            raise AccountExists(f"account {username} exists")
        account = Account.create(username, command.display_name, command.agency, command.roles, principal)
        account.password_set(principal)
        return account

    secret = PasswordHash(username, ws.passwords.hash(command.password))
    return execute(ws.store, load, lambda _: None, _changed, idempotency=idempotency, secrets=(secret,))


def set_roles(
    ws: WriteSide, principal: Principal, command: SetRoles, *, idempotency: Idempotency | None = None
) -> AccountChanged | Replayed:
    return execute(
        ws.store,
        lambda: _account(ws, command.username),
        lambda a: a.set_roles(command.roles, principal),
        _changed,
        idempotency=idempotency,
    )


def rename_account(
    ws: WriteSide, principal: Principal, command: RenameAccount, *, idempotency: Idempotency | None = None
) -> AccountChanged | Replayed:
    return execute(
        ws.store,
        lambda: _account(ws, command.username),
        lambda a: a.rename(command.display_name, principal),
        _changed,
        idempotency=idempotency,
    )


def disable_account(
    ws: WriteSide, principal: Principal, command: DisableAccount, *, idempotency: Idempotency | None = None
) -> AccountChanged | Replayed:
    """The person can no longer sign in; their open sessions end at their next request."""
    return execute(
        ws.store,
        lambda: _account(ws, command.username),
        lambda a: a.disable(principal, command.reason),
        _changed,
        idempotency=idempotency,
    )


def enable_account(
    ws: WriteSide, principal: Principal, command: EnableAccount, *, idempotency: Idempotency | None = None
) -> AccountChanged | Replayed:
    return execute(
        ws.store,
        lambda: _account(ws, command.username),
        lambda a: a.enable(principal, command.reason),
        _changed,
        idempotency=idempotency,
    )


def reset_password(ws: WriteSide, principal: Principal, command: ResetPassword) -> AccountChanged | Replayed:
    username = clean_username(command.username)
    check_password(command.password, username)
    secret = PasswordHash(username, ws.passwords.hash(command.password))
    return execute(
        ws.store, lambda: _account(ws, username), lambda a: a.password_set(principal), _changed, secrets=(secret,)
    )


def change_password(ws: WriteSide, person: Person, command: ChangePassword) -> AccountChanged | Replayed:
    """A person's own change: the current password must be right (a stolen session is not enough), and
    wrong guesses are throttled like failed sign-ins."""
    keys = [f"password-change:{person.username}"]
    wait = ws.throttle.wait_seconds(keys)
    if wait > 0:
        raise SignInThrottled(wait)
    if not ws.passwords.verify(ws.store.password_hash(person.username), command.current):
        ws.throttle.failed(keys)
        raise WrongPassword("the current password is not right")
    ws.throttle.succeeded(keys)
    check_password(command.new, person.username)
    secret = PasswordHash(person.username, ws.passwords.hash(command.new))
    return execute(
        ws.store,
        lambda: _account(ws, person.username),
        lambda a: a.password_set(person.principal),
        _changed,
        secrets=(secret,),
    )


def sign_out_everywhere(ws: WriteSide, person: Person) -> AccountChanged | Replayed:
    """Record that every session of the person ends (the caller ends them in the session store)."""
    return execute(
        ws.store, lambda: _account(ws, person.username), lambda a: a.sign_out_everywhere(person.principal), _changed
    )


def person(ws: WriteSide, username: str) -> Person | None:
    """The person of an enabled account, as the event store holds it now; None when unknown or disabled."""
    try:
        account = get(ws.store, account_id(clean_username(username)), Account, "account", read_only=True)
    except (NotFound, InvalidAccount):
        return None
    try:
        return Person(account.username, account.display_name, account.principal())
    except InvalidTransition:
        return None


def sign_in(ws: WriteSide, username: str, password: str, client: str) -> Person:
    """The person whose password this is; refused alike for an unknown name, a wrong password, a disabled account."""
    name = username.strip().lower()
    keys = [f"user:{name}", f"address:{client}"]
    wait = ws.throttle.wait_seconds(keys)
    if wait > 0:
        raise SignInThrottled(wait)
    found = person(ws, name)
    # Always one verification, so that an unknown name takes as long as a wrong password.
    valid = ws.passwords.verify(ws.store.password_hash(name) if found else None, password)
    if found is None or not valid:
        ws.throttle.failed(keys)
        raise SignInRefused("the username or the password is wrong")
    ws.throttle.succeeded([f"user:{name}"])
    return found
