"""Who may do what: people's accounts and systems' API tokens, as aggregates.

Every grant, change and revoke of access is an event in the one event store, so who could do
what, and since when, is part of the audited, checkpointed history. Secrets never are: a
password's hash and a token's digest live beside the store (written in the same transaction as
the event that introduces them), never in an event.

An agency account holds the agency reporter role for its own agency and nothing else; a ministry
account (no agency) holds any of the ministry's roles: reviewer, auditor, administrator.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.errors import DomainError, ErrorKind, InvalidTransition
from domain.identity import Principal, Role
from domain.ids import aggregate_id
from domain.periods import VIETNAM
from domain.values import has_control_characters, nfc

USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{2,63}")
MAX_DISPLAY_NAME = 200
MAX_LABEL = 200
MINISTRY_ROLES = frozenset({Role.MINISTRY_REVIEWER, Role.AUDITOR, Role.ADMIN})
TOKEN_PREFIX = "rpt_"  # noqa: S105 - the public prefix of every token's secret
MAX_REASON = 2000


class InvalidAccount(DomainError):
    code = "invalid-account"


class AccountExists(DomainError):
    code = "account-exists"
    kind = ErrorKind.CONFLICT


class InvalidReason(DomainError):
    code = "invalid-reason"


class InvalidToken(DomainError):
    """A token the rules refuse: a role that does not fit its agency, no label, an expiry in the past."""

    code = "invalid-token"


@dataclass(frozen=True)
class PasswordHash:
    """A person's new password hash: stored with the event that records the change, never in it."""

    username: str
    password_hash: str

    def __repr__(self) -> str:  # never in a log
        return f"PasswordHash({self.username!r}, ...)"


def token_digest(secret: str) -> bytes:
    """What is stored of a token's secret: its SHA-256 (256 random bits need no slow hash)."""
    return hashlib.sha256(secret.encode()).digest()


@dataclass(frozen=True)
class TokenDigest:
    """A new token's row beside the store: what it may do and its secret's digest (never the secret)."""

    token: str
    digest: bytes
    role: Role
    agency: str | None
    label: str
    issued_at: datetime
    expires_at: datetime | None

    def __repr__(self) -> str:  # never in a log
        return f"TokenDigest({self.token!r}, ...)"


@dataclass(frozen=True)
class TokenRevocation:
    """The token's row marked revoked, in the transaction of the event that revokes it."""

    token: str
    revoked_at: datetime
    revoked_by: str


# What a save may store beside its events, in the same transaction: secrets and their digests.
Secret = PasswordHash | TokenDigest | TokenRevocation


def account_id(username: str) -> UUID:
    return aggregate_id("account", username)


def token_id(token: str) -> UUID:
    return aggregate_id("api-token", token)


def clean_username(username: str) -> str:
    """Usernames are lower-case ASCII: one spelling per person, whatever the keyboard."""
    name = username.strip().lower()
    if not USERNAME.fullmatch(name):
        raise InvalidAccount(
            "a username has 3 to 64 characters: a-z, 0-9, '.', '_' or '-', starting with a letter or digit"
        )
    return name


def clean_display_name(name: str) -> str:
    text = nfc(name).strip()
    if not text or len(text) > MAX_DISPLAY_NAME or has_control_characters(text):
        raise InvalidAccount(f"a display name has 1 to {MAX_DISPLAY_NAME} printable characters")
    return text


def check_roles(roles: Iterable[Role], agency: str | None) -> frozenset[Role]:
    """The roles an account may hold: the agency reporter for an agency account, ministry roles otherwise."""
    chosen = frozenset(roles)
    if not chosen:
        raise InvalidAccount("an account holds at least one role")
    if agency is not None and chosen != {Role.AGENCY_REPORTER}:
        raise InvalidAccount("an agency account holds the agency reporter role only")
    if agency is None and not chosen <= MINISTRY_ROLES:
        raise InvalidAccount("a ministry account holds ministry roles only (reviewer, auditor, administrator)")
    return chosen


def clean_reason(reason: str | None) -> str | None:
    """A reason as recorded: NFC, trimmed, printable, at most MAX_REASON characters; None when empty."""
    if reason is None:
        return None
    text = nfc(reason).strip()
    if len(text) > MAX_REASON or has_control_characters(text):
        raise InvalidReason(f"a reason has at most {MAX_REASON} printable characters")
    return text or None


def _sorted(roles: Iterable[Role]) -> list[str]:
    return sorted(role.value for role in roles)


class Account(Aggregate):
    """A person who signs in."""

    class Created(Aggregate.Created):
        username: str
        display_name: str
        agency: str | None
        roles: list[str]
        actor: str
        role: str

    class RoleGranted(Aggregate.Event):
        username: str
        agency: str | None
        granted: str
        actor: str
        role: str

        def apply(self, aggregate: Account) -> None:
            aggregate.roles = aggregate.roles | {Role(self.granted)}

    class RoleWithdrawn(Aggregate.Event):
        username: str
        agency: str | None
        withdrawn: str
        actor: str
        role: str

        def apply(self, aggregate: Account) -> None:
            aggregate.roles = aggregate.roles - {Role(self.withdrawn)}

    class DisplayNameChanged(Aggregate.Event):
        username: str
        agency: str | None
        display_name: str
        actor: str
        role: str

        def apply(self, aggregate: Account) -> None:
            aggregate.display_name = self.display_name

    class Disabled(Aggregate.Event):
        username: str
        agency: str | None
        reason: str | None
        actor: str
        role: str

        def apply(self, aggregate: Account) -> None:
            aggregate.disabled = True

    class Enabled(Aggregate.Event):
        username: str
        agency: str | None
        reason: str | None
        actor: str
        role: str

        def apply(self, aggregate: Account) -> None:
            aggregate.disabled = False

    class PasswordSet(Aggregate.Event):
        """The password was set or changed (the fact and by whom; never the password nor its hash)."""

        username: str
        agency: str | None
        by_self: bool
        actor: str
        role: str

        def apply(self, aggregate: Account) -> None:
            aggregate.password_version += 1

    class SignedOutEverywhere(Aggregate.Event):
        username: str
        agency: str | None
        actor: str
        role: str

    def __init__(
        self, username: str, display_name: str, agency: str | None, roles: list[str], actor: str, role: str
    ) -> None:
        self.username = username
        self.display_name = display_name
        self.agency = agency
        self.roles = frozenset(Role(r) for r in roles)
        self.disabled = False
        self.password_version = 0

    @staticmethod
    def create_id(username: str) -> UUID:
        return account_id(username)

    @classmethod
    def create(
        cls, username: str, display_name: str, agency: str | None, roles: Iterable[Role], by: Principal
    ) -> Account:
        name = clean_username(username)
        return cls(
            username=name,
            display_name=clean_display_name(display_name),
            agency=agency,
            roles=_sorted(check_roles(roles, agency)),
            actor=by.subject,
            role=str(by.role),
        )

    def _who(self, by: Principal) -> dict[str, str | None]:
        return {"username": self.username, "agency": self.agency, "actor": by.subject, "role": str(by.role)}

    def set_roles(self, roles: Iterable[Role], by: Principal) -> bool:
        """Grant and withdraw so that the account holds exactly `roles`; False if it already did."""
        wanted = check_roles(roles, self.agency)
        if by.subject == self.subject_of_self and Role.ADMIN in self.roles and Role.ADMIN not in wanted:
            raise InvalidTransition("an administrator cannot withdraw their own administrator role")
        for granted in _sorted(wanted - self.roles):
            self.trigger_event(self.RoleGranted, granted=granted, **self._who(by))
        for withdrawn in _sorted(self.roles - wanted):
            self.trigger_event(self.RoleWithdrawn, withdrawn=withdrawn, **self._who(by))
        return bool(self.pending_events)

    def rename(self, display_name: str, by: Principal) -> bool:
        name = clean_display_name(display_name)
        if name == self.display_name:
            return False
        self.trigger_event(self.DisplayNameChanged, display_name=name, **self._who(by))
        return True

    def disable(self, by: Principal, reason: str | None = None) -> bool:
        if by.subject == self.subject_of_self:
            raise InvalidTransition("nobody disables their own account")
        reason = clean_reason(reason)
        if self.disabled:
            return False
        self.trigger_event(self.Disabled, reason=reason, **self._who(by))
        return True

    def enable(self, by: Principal, reason: str | None = None) -> bool:
        reason = clean_reason(reason)
        if not self.disabled:
            return False
        self.trigger_event(self.Enabled, reason=reason, **self._who(by))
        return True

    def password_set(self, by: Principal) -> None:
        """Record that the password was (re)set; the caller stores its hash in the same transaction."""
        if self.disabled:
            raise InvalidTransition(f"account {self.username} is disabled")
        self.trigger_event(self.PasswordSet, by_self=by.subject == self.subject_of_self, **self._who(by))

    def sign_out_everywhere(self, by: Principal) -> None:
        self.trigger_event(self.SignedOutEverywhere, **self._who(by))

    @property
    def subject_of_self(self) -> str:
        """The subject this person acts under (what events record as `actor`)."""
        return f"user:{self.username}"

    def principal(self) -> Principal:
        """Who this person is when signed in (a disabled account has none)."""
        if self.disabled:
            raise InvalidTransition(f"account {self.username} is disabled")
        return Principal.of_roles(self.subject_of_self, self.roles, self.agency)


class ApiToken(Aggregate):
    """A system's credential; its secret's digest is kept beside the store."""

    class Issued(Aggregate.Created):
        token: str
        label: str
        token_role: str
        agency: str | None
        expires_at: datetime | None
        actor: str
        role: str

    class Revoked(Aggregate.Event):
        token: str
        agency: str | None
        reason: str | None
        actor: str
        role: str

        def apply(self, aggregate: ApiToken) -> None:
            aggregate.revoked = True
            aggregate.revoked_at = self.timestamp
            aggregate.revoked_by = self.actor
            aggregate.revoke_reason = self.reason

    def __init__(
        self,
        token: str,
        label: str,
        token_role: str,
        agency: str | None,
        expires_at: datetime | None,
        actor: str,
        role: str,
    ) -> None:
        self.token = token
        self.label = label
        self.token_role = Role(token_role)
        self.agency = agency
        self.expires_at = expires_at
        self.issued_by = actor
        self.revoked = False
        self.revoked_at: datetime | None = None
        self.revoked_by: str | None = None
        self.revoke_reason: str | None = None

    @staticmethod
    def create_id(token: str) -> UUID:
        return token_id(token)

    @classmethod
    def issue(
        cls,
        token: str,
        label: str,
        role: Role,
        agency: str | None,
        expires_at: datetime | None,
        by: Principal,
    ) -> ApiToken:
        """`token` is the token's public name (its subject), never its secret."""
        check_token_role(role, agency)
        text = clean_label(label)
        if expires_at is not None and expires_at.tzinfo is None:
            raise InvalidToken("a token's expiry is an instant with its time zone")
        return cls(
            token=token,
            label=text,
            token_role=role.value,
            agency=agency,
            expires_at=expires_at,
            actor=by.subject,
            role=str(by.role),
        )

    def revoke(self, by: Principal, reason: str | None = None) -> bool:
        """Refuse the token from now on; False (nothing recorded) if it already was."""
        reason = clean_reason(reason)
        if self.revoked:
            return False
        self.trigger_event(
            self.Revoked, token=self.token, agency=self.agency, reason=reason, actor=by.subject, role=str(by.role)
        )
        return True

    def digest_row(self, secret: str) -> TokenDigest:
        """The row to store with the Issued event: the secret's digest, never the secret."""
        return TokenDigest(
            self.token,
            token_digest(secret),
            self.token_role,
            self.agency,
            self.label,
            self.created_on,
            self.expires_at,
        )

    def revocation_row(self) -> TokenRevocation:
        """The row change to store with the Revoked event (the same moment and revoker as the event)."""
        if self.revoked_at is None or self.revoked_by is None:
            raise InvalidTransition(f"token {self.token} is not revoked")
        return TokenRevocation(self.token, self.revoked_at, self.revoked_by)


def check_token_role(role: Role, agency: str | None) -> None:
    """An agency's token reports for that agency; a ministry token holds one ministry role."""
    if agency is not None and role is not Role.AGENCY_REPORTER:
        raise InvalidToken("an agency's token holds the agency reporter role only")
    if agency is None and role is Role.AGENCY_REPORTER:
        raise InvalidToken("an agency reporter's token names its agency")


def expiry_after(last_day: date) -> datetime:
    """When a token valid through `last_day` (a Vietnamese calendar day) stops working: the next midnight there."""
    return datetime.combine(last_day + timedelta(days=1), time(0), VIETNAM)


def clean_label(label: str) -> str:
    """A token's label says which system holds it: 1 to MAX_LABEL printable characters."""
    text = nfc(label).strip()
    if not text or len(text) > MAX_LABEL or has_control_characters(text):
        raise InvalidToken(f"a token's label (which system holds it) has 1 to {MAX_LABEL} printable characters")
    return text
