"""The write side's service layer: load an aggregate, apply a command, save its events.

Each command runs in `_execute`, which gives every command the same guarantees:
one atomic save (events and Idempotency-Key record together), optimistic
concurrency (a version clash is retried on fresh state, or is a 409 when the
client named the version it expects), and nothing stored when the domain refuses.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

import orjson
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from domain.agencies import Agency, AgencyKind, agency_id
from domain.catalogue import CATALOGUE_ID, Catalogue, Indicator
from domain.errors import Conflict, DomainError, NotFound
from domain.identity import Principal
from domain.outliers import outlier_warnings
from domain.periods import InvalidPeriod, Period, PeriodKind, ReportingRegime
from domain.rules import Rule
from domain.submission import Submission, submission_id
from domain.templates import Form, Template, template_id
from domain.values import Value
from infra.event_store import IdempotencyRecord, ReportingApplication
from infra.integration_events import to_json
from services.ingest.idempotency import IdempotencyStore

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
MAX_ATTEMPTS = 20
HISTORY_MONTHS = 6

A = TypeVar("A", bound=Aggregate)
R = TypeVar("R")


class PeriodNotOpen(DomainError):
    code = "period-not-open"


class InvalidPeriodError(DomainError):
    code = "invalid-period"


class IdempotencyKeyReused(DomainError):
    code = "idempotency-key-reused"


@dataclass(frozen=True)
class Idempotency:
    subject: str
    key: str
    fingerprint: bytes


@dataclass(frozen=True)
class CommandResult:
    """The response body, exactly as stored for Idempotency-Key replays."""

    status_code: int
    body: bytes


def vietnam_today() -> date:
    """Deadlines are calendar dates in Vietnam, whatever the server's time zone."""
    return datetime.now(VIETNAM).date()


class IngestService:
    def __init__(
        self,
        app: ReportingApplication,
        idempotency: IdempotencyStore,
        regime: ReportingRegime,
        today: Callable[[], date] = vietnam_today,
    ) -> None:
        self.app = app
        self.idempotency = idempotency
        self.regime = regime
        self.today = today
        self._forms: dict[tuple[object, ...], Form] = {}

    # ---- the one way commands are executed ---------------------------------

    def _execute(
        self,
        load: Callable[[], A],
        change: Callable[[A], R],
        render: Callable[[A, R, Sequence[int]], dict[str, Any]],
        *,
        idempotency: Idempotency | None = None,
        expected_version: int | None = None,
        status_code: int = 200,
    ) -> CommandResult:
        for _attempt in range(MAX_ATTEMPTS):
            aggregate = load()
            if expected_version is not None and aggregate.version != expected_version:
                raise Conflict(
                    f"the version is {aggregate.version}, not {expected_version}",
                    aggregate.version,
                )
            outcome = change(aggregate)
            if not aggregate.pending_events:
                body = orjson.dumps(render(aggregate, outcome, []))
                if idempotency is not None:
                    self.idempotency.save_alone(
                        idempotency.subject, idempotency.key, idempotency.fingerprint, status_code, body
                    )
                    return self._replayed(idempotency) or CommandResult(status_code, body)
                return CommandResult(status_code, body)
            record = None
            if idempotency is not None:
                record = IdempotencyRecord(
                    idempotency.subject,
                    idempotency.key,
                    idempotency.fingerprint,
                    status_code,
                    lambda ids, a=aggregate, o=outcome: orjson.dumps(render(a, o, ids)),  # type: ignore[misc]
                )
            try:
                recordings = self.app.save(aggregate, idempotency=record)
            except IntegrityError:
                # Either another request with the same key won, or another writer
                # changed the aggregate: replay the first, retry or refuse the second.
                if idempotency is not None and (replayed := self._replayed(idempotency)):
                    return replayed
                if expected_version is not None:
                    current = load().version
                    raise Conflict(f"the version is now {current}", current) from None
                continue
            ids = [recording.notification.id for recording in recordings]
            return CommandResult(status_code, orjson.dumps(render(aggregate, outcome, ids)))
        raise Conflict("too many concurrent writers; retry", load().version)

    def _replayed(self, idempotency: Idempotency) -> CommandResult | None:
        stored = self.idempotency.find(idempotency.subject, idempotency.key)
        if stored is None:
            return None
        if stored.fingerprint != idempotency.fingerprint:
            raise IdempotencyKeyReused("this Idempotency-Key was already used with a different request")
        return CommandResult(stored.status_code, stored.body)

    def _get(self, aggregate_id: UUID, kind: type[A], what: str, *, read_only: bool = False) -> A:
        """The current aggregate; `read_only` skips the copy of the cached object (never mutate it)."""
        try:
            aggregate: object = self.app.repository.get(aggregate_id, deepcopy_from_cache=not read_only)
        except AggregateNotFoundError:
            raise NotFound(f"{what} not found") from None
        if not isinstance(aggregate, kind):
            raise NotFound(f"{what} not found")
        return aggregate

    # ---- reference data -------------------------------------------------------

    # Reference data is read on every command: read-only access to the cached
    # aggregates (fast-forwarded to their latest version), and forms are memoised.

    def catalogue(self) -> Catalogue:
        return self._get(CATALOGUE_ID, Catalogue, "the catalogue", read_only=True)

    def agency(self, code: str) -> Agency:
        return self._get(agency_id(code), Agency, f"agency {code}", read_only=True)

    def template(self, code: str) -> Template:
        return self._get(template_id(code), Template, f"template {code}", read_only=True)

    def form(self, template_code: str, period: Period, version: int | None = None) -> Form:
        """The form of a template for a period: base template's indicators first."""
        template = self.template(template_code)
        catalogue = self.catalogue()
        chosen = template.version_for(period) if version is None else template.version_number(version)
        if chosen is None:
            raise PeriodNotOpen(f"template {template_code} has no version in force for {period}")
        base = self.template(template.base) if template.base is not None else None
        base_version = base.version_for(period) if base is not None else None
        # Aggregate versions identify the definitions a form was built from.
        key = (template.id, chosen.version, catalogue.version, base.version if base else 0, period.months()[0])
        form = self._forms.get(key)
        if form is None:
            base_indicators = base_version.indicators if base_version is not None else ()
            form = Form.build(template, chosen, catalogue, base_indicators)
            if len(self._forms) > 1000:
                self._forms.clear()
            self._forms[key] = form
        return form

    # ---- submissions ---------------------------------------------------------

    def _entry_period(self, agency: Agency, period_code: str) -> Period:
        try:
            period = Period.parse(period_code)
        except InvalidPeriod as error:
            raise InvalidPeriodError(str(error)) from None
        if period.kind is not PeriodKind.MONTH:
            raise InvalidPeriodError("data is entered per month (YYYY-MM); other periods are derived")
        start, end = period.cutoff_window()
        if start > self.today():
            raise PeriodNotOpen(f"{period} opens on {start.isoformat()}")
        if end < agency.effective_from or (agency.effective_to is not None and start > agency.effective_to):
            raise PeriodNotOpen(f"agency {agency.code} did not exist in {period}")
        return period

    def _load_submission(self, principal: Principal, agency_code: str, period_code: str) -> Callable[[], Submission]:
        agency = self.agency(agency_code)
        period = self._entry_period(agency, period_code)

        def load() -> Submission:
            try:
                return self._get(submission_id(agency_code, period.code), Submission, "submission")
            except NotFound:
                if agency.template is None:
                    raise PeriodNotOpen(f"agency {agency_code} has no template assigned") from None
                return Submission.open(agency_code, period, self.form(agency.template, period), principal)

        return load

    def _existing_submission(self, agency_code: str, period_code: str) -> Callable[[], Submission]:
        try:
            period = Period.parse(period_code)
        except InvalidPeriod as error:
            raise InvalidPeriodError(str(error)) from None
        return lambda: self._get(
            submission_id(agency_code, period.code), Submission, f"submission {agency_code} {period}"
        )

    def submission_form(self, submission: Submission) -> Form:
        return self.form(submission.template, Period.parse(submission.period), submission.template_version)

    def enter_values(
        self,
        principal: Principal,
        agency: str,
        period: str,
        entries: Sequence[tuple[str, object]],
        reason: str | None = None,
        *,
        idempotency: Idempotency | None = None,
        expected_version: int | None = None,
    ) -> CommandResult:
        def change(submission: Submission) -> Any:
            return submission.enter_values(entries, self.submission_form(submission), principal, reason)

        def render(submission: Submission, result: Any, ids: Sequence[int]) -> dict[str, Any]:
            return {
                **submission.describe(),
                "submitted": result.submitted,
                "corrected": result.corrected,
                "unchanged": result.unchanged,
                "position": max(ids) if ids else None,
            }

        return self._execute(
            self._load_submission(principal, agency, period),
            change,
            render,
            idempotency=idempotency,
            expected_version=expected_version,
        )

    def change_status(
        self,
        principal: Principal,
        agency: str,
        period: str,
        action: str,
        reason: str | None = None,
        *,
        idempotency: Idempotency | None = None,
        expected_version: int | None = None,
    ) -> CommandResult:
        """submit / approve / return / reopen one period's report."""

        def change(submission: Submission) -> None:
            if action == "submit":
                submission.submit(self.submission_form(submission), self.regime, self.today(), principal)
            elif action == "approve":
                submission.approve(principal, reason)
            elif action == "return":
                submission.return_for_revision(principal, reason)
            elif action == "reopen":
                submission.reopen(principal, reason)
            else:
                raise DomainError(f"unknown action {action!r}")

        def render(submission: Submission, _: None, ids: Sequence[int]) -> dict[str, Any]:
            body = {**submission.describe(), "position": max(ids) if ids else None}
            if action == "submit":
                body["warnings"] = self.warnings(submission)
            return body

        return self._execute(
            self._existing_submission(agency, period),
            change,
            render,
            idempotency=idempotency,
            expected_version=expected_version,
        )

    def history(self, submission: Submission, months: int = HISTORY_MONTHS) -> dict[str, list[Value]]:
        """The agency's values of the previous months, per indicator (for outlier warnings)."""
        history: dict[str, list[Value]] = {}
        period = Period.parse(submission.period)
        for _ in range(months):
            period = period.previous()
            try:
                past = self._get(submission_id(submission.agency, period.code), Submission, "past", read_only=True)
            except NotFound:
                continue
            for code, entry in past.values.items():
                history.setdefault(code, []).append(entry.value)
        return history

    def warnings(self, submission: Submission) -> list[dict[str, object]]:
        current = {code: entry.value for code, entry in submission.values.items()}
        return [w.to_dict() for w in outlier_warnings(current, self.history(submission))]

    def read_submission(self, agency: str, period: str) -> dict[str, Any]:
        """Strongly consistent: straight from the aggregate, not a read model."""
        submission = self._existing_submission(agency, period)()
        missing, outcomes = submission.check(self.submission_form(submission))
        return {
            "warnings": self.warnings(submission),
            **submission.describe(),
            "values": [
                {"indicator": code, "value": to_json(entry.value), "actor": entry.actor, "version": entry.version}
                for code, entry in submission.values.items()
            ],
            "missing_required": missing,
            "rules": [outcome.to_dict() for outcome in outcomes],
        }

    # ---- administration (admin role; seed data goes through here too) -------

    def define_indicators(
        self, principal: Principal, indicators: Sequence[Indicator], rules: Sequence[Rule] = ()
    ) -> CommandResult:
        def load() -> Catalogue:
            try:
                return self.catalogue()
            except NotFound:
                return Catalogue(actor=principal.subject)

        def change(catalogue: Catalogue) -> list[str]:
            changed = [i.code for i in indicators if catalogue.define(i, principal.subject, principal.role)]
            for rule in rules:
                try:
                    if catalogue.define_rule(rule, principal.subject, principal.role):
                        changed.append(rule.code)
                except ValueError as error:
                    raise DomainError(str(error)) from None
            return changed

        def render(catalogue: Catalogue, changed: list[str], ids: Sequence[int]) -> dict[str, Any]:
            return {
                "changed": changed,
                "indicators": len(catalogue.indicators),
                "rules": len(catalogue.rules),
                "position": max(ids) if ids else None,
            }

        return self._execute(load, change, render)

    def publish_template(
        self,
        principal: Principal,
        code: str,
        effective_from: str,
        indicators: Sequence[str],
        *,
        name_vi: str = "",
        name_en: str = "",
        applies_to: str = "",
        base: str | None = None,
    ) -> CommandResult:
        def load() -> Template:
            try:
                return self.template(code)
            except NotFound:
                if not name_vi or not applies_to:
                    raise DomainError("a new template needs name_vi and applies_to") from None
                return Template.open(code, name_vi, name_en, applies_to, base, principal.subject, principal.role)

        def change(template: Template) -> int:
            return template.publish(
                effective_from, indicators, self.catalogue(), principal.subject, principal.role
            ).version

        def render(template: Template, version: int, ids: Sequence[int]) -> dict[str, Any]:
            return {"template": template.code, "version": version, "position": max(ids) if ids else None}

        return self._execute(load, change, render, status_code=201)

    def register_agency(self, principal: Principal, data: dict[str, Any]) -> CommandResult:
        code = str(data["code"])

        def load() -> Agency:
            try:
                return self.agency(code)
            except NotFound:
                return Agency.register(
                    code=code,
                    name_vi=str(data["name_vi"]),
                    name_en=str(data.get("name_en") or ""),
                    kind=AgencyKind(data["kind"]),
                    parent=data.get("parent"),
                    region=data.get("region"),
                    template=data.get("template"),
                    effective_from=date.fromisoformat(str(data["effective_from"])),
                    actor=principal.subject,
                    role=principal.role,
                )

        def change(agency: Agency) -> None:
            for rename in data.get("renames") or []:
                effective = date.fromisoformat(rename["effective_from"])
                if effective > agency.names[-1].effective_from:
                    agency.rename(
                        effective, rename["name_vi"], rename.get("name_en") or "", principal.subject, principal.role
                    )
            if data.get("template"):
                agency.assign_template(str(data["template"]), principal.subject, principal.role)
            if data.get("effective_to") and agency.effective_to is None:
                agency.close(
                    date.fromisoformat(str(data["effective_to"])),
                    data.get("merged_into"),
                    principal.subject,
                    principal.role,
                )

        def render(agency: Agency, _: None, ids: Sequence[int]) -> dict[str, Any]:
            return {**agency.describe(), "position": max(ids) if ids else None}

        return self._execute(load, change, render, status_code=201)
