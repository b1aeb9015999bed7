"""What a command did, typed; `to_json()` is the answer's body (the same for a replay of it).

`positions` are the positions of the events the command stored (none when nothing changed):
a reader passes `position` as `min_position` to the reports API to read its own write.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Self

import orjson

from domain.access import Account, ApiToken
from domain.outliers import OutlierWarning
from domain.report_definitions import ReportSpec
from domain.rules import RuleOutcome
from domain.submission import CurrentValue, Status, Submission
from domain.values import value_to_json
from services.ingest.application.commands import Action


class Outcome:
    """Base of every answer of the write application."""

    def to_json(self) -> dict[str, Any]:
        raise NotImplementedError

    def body(self) -> bytes:
        """The answer as stored for Idempotency-Key replays, byte for byte."""
        return orjson.dumps(self.to_json())

    def response_body(self) -> bytes:
        """The first answer's body: the stored one, plus what is shown once only (a token's secret)."""
        return self.body()


@dataclass(frozen=True)
class Replayed(Outcome):
    """The first answer to an Idempotency-Key, given again to a retry of the same request."""

    answer: bytes

    def to_json(self) -> dict[str, Any]:
        parsed: dict[str, Any] = orjson.loads(self.answer)
        return parsed

    def body(self) -> bytes:
        return self.answer


@dataclass(frozen=True)
class Stored(Outcome):
    """An outcome that may have stored events."""

    positions: tuple[int, ...] = field(default=(), kw_only=True)

    @property
    def position(self) -> int | None:
        """The position of the last event stored; None when nothing changed."""
        return max(self.positions) if self.positions else None


@dataclass(frozen=True)
class SubmissionState:
    """A submission as it is after the command (its values apart)."""

    agency: str
    period: str
    status: Status
    version: int
    template: str
    template_version: int
    times_submitted: int

    @classmethod
    def of(cls, submission: Submission) -> SubmissionState:
        return cls(
            submission.agency,
            submission.period,
            submission.status,
            submission.version,
            submission.template,
            submission.template_version,
            submission.times_submitted,
        )

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "status": str(self.status)}


@dataclass(frozen=True)
class ValuesEntered(Stored):
    """Which values were new, corrected or unchanged (batch order), and the warnings about them."""

    submission: SubmissionState
    submitted: tuple[str, ...]
    corrected: tuple[str, ...]
    unchanged: tuple[str, ...]
    warnings: tuple[OutlierWarning, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            **self.submission.to_json(),
            "submitted": list(self.submitted),
            "corrected": list(self.corrected),
            "unchanged": list(self.unchanged),
            "warnings": [warning.to_dict() for warning in self.warnings],
            "position": self.position,
        }


@dataclass(frozen=True)
class StatusChanged(Stored):
    """A lifecycle step taken; a submission also answers the outlier warnings of the report's values."""

    submission: SubmissionState
    action: Action
    warnings: tuple[OutlierWarning, ...] = ()

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {**self.submission.to_json(), "position": self.position}
        if self.action is Action.SUBMIT:
            body["warnings"] = [warning.to_dict() for warning in self.warnings]
        return body


@dataclass(frozen=True)
class SubmissionRead(Outcome):
    """A submission as stored now, with its checks: what the agency sees before submitting."""

    submission: SubmissionState
    values: Mapping[str, CurrentValue]
    warnings: tuple[OutlierWarning, ...]
    missing_required: tuple[str, ...]
    rules: tuple[RuleOutcome, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "warnings": [warning.to_dict() for warning in self.warnings],
            **self.submission.to_json(),
            "values": [
                {"indicator": code, "value": value_to_json(entry.value), "actor": entry.actor, "version": entry.version}
                for code, entry in self.values.items()
            ],
            "missing_required": list(self.missing_required),
            "rules": [outcome.to_dict() for outcome in self.rules],
        }


@dataclass(frozen=True)
class IndicatorsDefined(Stored):
    """The codes of the indicators and rules that changed; how many the catalogue holds."""

    changed: tuple[str, ...]
    indicators: int
    rules: int

    def to_json(self) -> dict[str, Any]:
        return {
            "changed": list(self.changed),
            "indicators": self.indicators,
            "rules": self.rules,
            "position": self.position,
        }


@dataclass(frozen=True)
class TemplatePublished(Stored):
    template: str
    version: int

    def to_json(self) -> dict[str, Any]:
        return {"template": self.template, "version": self.version, "position": self.position}


@dataclass(frozen=True)
class AgencyChanged(Stored):
    """The agency after the change, in the registry's form (every name, the template, the end)."""

    agency: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {**self.agency, "position": self.position}


@dataclass(frozen=True)
class ReportDefined(Stored):
    spec: ReportSpec
    revision: int

    def to_json(self) -> dict[str, Any]:
        return {**self.spec.to_dict(), "revision": self.revision, "position": self.position}


@dataclass(frozen=True)
class AccountChanged(Stored):
    """A person's account after the change (never a password or its hash)."""

    username: str
    display_name: str
    agency: str | None
    roles: tuple[str, ...]
    disabled: bool

    @classmethod
    def of(cls, account: Account, *, positions: tuple[int, ...]) -> AccountChanged:
        return cls(
            account.username,
            account.display_name,
            account.agency,
            tuple(sorted(role.value for role in account.roles)),
            account.disabled,
            positions=positions,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "display_name": self.display_name,
            "agency": self.agency,
            "roles": list(self.roles),
            "disabled": self.disabled,
            "position": self.position,
        }


@dataclass(frozen=True)
class TokenChanged(Stored):
    """A system's token after the change (never its secret nor its digest)."""

    token: str
    role: str
    agency: str | None
    label: str
    issued_at: datetime
    issued_by: str
    expires_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None
    revoke_reason: str | None

    @classmethod
    def of(cls, token: ApiToken, *, positions: tuple[int, ...]) -> Self:
        return cls(
            token.token,
            token.token_role.value,
            token.agency,
            token.label,
            token.created_on,
            token.issued_by,
            token.expires_at,
            token.revoked_at,
            token.revoked_by,
            token.revoke_reason,
            positions=positions,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "subject": self.token,
            "role": self.role,
            "agency": self.agency,
            "label": self.label,
            "created_at": self.issued_at,
            "issued_by": self.issued_by,
            "expires_at": self.expires_at,
            "revoked_at": self.revoked_at,
            "revoked_by": self.revoked_by,
            "revoke_reason": self.revoke_reason,
            "position": self.position,
        }


SECRET_NOT_SHOWN_AGAIN = "shown once, in the first answer: if it was lost, revoke the token and issue another"  # noqa: S105


@dataclass(frozen=True)
class TokenIssued(TokenChanged):
    """A new token, with its secret: in the first answer only, never stored (a replay says so instead)."""

    secret: str = field(default="", repr=False, kw_only=True)

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "secret": None, "secret_note": SECRET_NOT_SHOWN_AGAIN}

    def response_body(self) -> bytes:
        return orjson.dumps({**super().to_json(), "secret": self.secret, "secret_note": None})
