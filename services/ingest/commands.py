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
from domain.errors import (
    Conflict,
    DomainError,
    InvalidAgencyChange,
    InvalidDefinition,
    InvalidReference,
    InvalidTemplateChange,
    InvalidTransition,
    NotFound,
)
from domain.identity import Principal
from domain.outliers import OutlierWarning, outlier_warnings
from domain.periods import InvalidPeriod, Period, PeriodKind, ReportingRegime, period_for_date
from domain.report_definitions import ReportDefinition, ReportSpec, report_definition_id
from domain.rules import Rule
from domain.submission import EntryResult, Submission, submission_id
from domain.templates import Form, Template, template_id
from domain.values import Value
from infra.event_store import IdempotencyRecord, ReportingApplication
from infra.integration_events import to_json
from services.ingest.history import SubmissionHistory
from services.ingest.idempotency import IdempotencyStore

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
MAX_ATTEMPTS = 20

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
        self.histories = SubmissionHistory(app, idempotency.pool)

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
        def change(submission: Submission) -> tuple[EntryResult, list[OutlierWarning]]:
            result = submission.enter_values(entries, self.submission_form(submission), principal, reason)
            # Warnings about this batch's values (computed before the save: the save only stores).
            batch = {code: submission.values[code].value for code, _ in entries}
            return result, outlier_warnings(batch, self.history(submission))

        def render(
            submission: Submission, outcome: tuple[EntryResult, list[OutlierWarning]], ids: Sequence[int]
        ) -> dict[str, Any]:
            result, warnings = outcome
            return {
                **submission.describe(),
                "submitted": result.submitted,
                "corrected": result.corrected,
                "unchanged": result.unchanged,
                "warnings": [warning.to_dict() for warning in warnings],
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

        def change(submission: Submission) -> list[dict[str, object]]:
            if action == "submit":
                submission.submit(self.submission_form(submission), self.regime, self.today(), principal)
                return self.warnings(submission)
            if action == "approve":
                submission.approve(principal, reason)
            elif action == "return":
                submission.return_for_revision(principal, reason)
            elif action == "reopen":
                submission.reopen(principal, reason)
            else:
                raise DomainError(f"unknown action {action!r}")
            return []

        def render(submission: Submission, warnings: list[dict[str, object]], ids: Sequence[int]) -> dict[str, Any]:
            body = {**submission.describe(), "position": max(ids) if ids else None}
            if action == "submit":
                body["warnings"] = warnings
            return body

        return self._execute(
            self._existing_submission(agency, period),
            change,
            render,
            idempotency=idempotency,
            expected_version=expected_version,
        )

    def history(self, submission: Submission) -> dict[str, list[Value]]:
        """The agency's values of its previous months, per indicator, from the event store (for outlier warnings)."""
        return self.histories.previous_values(submission.agency, Period.parse(submission.period))

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
        self,
        principal: Principal,
        indicators: Sequence[Indicator],
        rules: Sequence[Rule] = (),
        *,
        idempotency: Idempotency | None = None,
    ) -> CommandResult:
        def load() -> Catalogue:
            try:
                return self.catalogue()
            except NotFound:
                return Catalogue(actor=principal.subject)

        def change(catalogue: Catalogue) -> list[str]:
            changed = []
            try:
                for indicator in indicators:
                    if catalogue.define(indicator, principal.subject, principal.role):
                        changed.append(indicator.code)
                for rule in rules:
                    if catalogue.define_rule(rule, principal.subject, principal.role):
                        changed.append(rule.code)
            except ValueError as error:  # a changed value type, a rule on an unknown or non-numeric indicator
                raise InvalidDefinition(str(error)) from None
            return changed

        def render(catalogue: Catalogue, changed: list[str], ids: Sequence[int]) -> dict[str, Any]:
            return {
                "changed": changed,
                "indicators": len(catalogue.indicators),
                "rules": len(catalogue.rules),
                "position": max(ids) if ids else None,
            }

        return self._execute(load, change, render, idempotency=idempotency)

    def first_closed_month(self) -> Period:
        """The first month whose cut-off window has not started: what a new template version may change."""
        return period_for_date(self.today(), PeriodKind.MONTH).next()

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
        backfill: bool = False,
        idempotency: Idempotency | None = None,
    ) -> CommandResult:
        """Create a template with its first version, or publish its next version.

        A next version starts at a month not yet open for entry (`first_closed_month`),
        unless `backfill` (loading a regime's history into a new store, as the seed does).
        """

        def load() -> Template:
            try:
                return self.template(code)
            except NotFound:
                if not name_vi or not applies_to:
                    raise InvalidTemplateChange("a new template needs name_vi and applies_to") from None
                if base is not None:
                    if base == code:
                        raise InvalidReference("a template cannot extend itself") from None
                    try:
                        base_template = self.template(base)
                    except NotFound:
                        raise InvalidReference(f"base template {base} does not exist") from None
                    if base_template.base is not None:
                        raise InvalidReference(f"{base} extends {base_template.base}: bases do not chain") from None
                return Template.open(code, name_vi, name_en, applies_to, base, principal.subject, principal.role)

        def change(template: Template) -> int:
            return template.publish(
                effective_from,
                indicators,
                self.catalogue(),
                principal.subject,
                principal.role,
                not_before=None if backfill else self.first_closed_month(),
            ).version

        def render(template: Template, version: int, ids: Sequence[int]) -> dict[str, Any]:
            return {"template": template.code, "version": version, "position": max(ids) if ids else None}

        return self._execute(load, change, render, idempotency=idempotency, status_code=201)

    def _check_template(self, code: str) -> None:
        try:
            self.template(code)
        except NotFound:
            raise InvalidReference(f"template {code} does not exist") from None

    def _other_agency(self, code: str, role: str) -> Agency:
        try:
            return self.agency(code)
        except NotFound:
            raise InvalidReference(f"{role} {code} does not exist") from None

    def register_agency(
        self, principal: Principal, data: dict[str, Any], *, idempotency: Idempotency | None = None
    ) -> CommandResult:
        """Register an agency; posting an existing one applies its new renames, template and closure."""
        code = str(data["code"])
        if data.get("template"):
            self._check_template(str(data["template"]))
        if data.get("parent"):
            self._other_agency(str(data["parent"]), "parent")
        if data.get("merged_into") and not data.get("effective_to"):
            raise InvalidAgencyChange("merged_into needs effective_to, the last day before the merge")

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
                effective_to = date.fromisoformat(str(data["effective_to"]))
                if data.get("merged_into"):
                    successor = self._other_agency(str(data["merged_into"]), "successor")
                    agency.merge_into(successor, effective_to, principal.subject, principal.role)
                else:
                    agency.close(effective_to, None, principal.subject, principal.role)

        def render(agency: Agency, _: None, ids: Sequence[int]) -> dict[str, Any]:
            return {**agency.describe(), "position": max(ids) if ids else None}

        return self._execute(load, change, render, idempotency=idempotency, status_code=201)

    def _change_agency(
        self,
        code: str,
        change: Callable[[Agency], object],
        idempotency: Idempotency | None,
    ) -> CommandResult:
        def load() -> Agency:
            return self._get(agency_id(code), Agency, f"agency {code}")

        def render(agency: Agency, _: object, ids: Sequence[int]) -> dict[str, Any]:
            return {**agency.describe(), "position": max(ids) if ids else None}

        return self._execute(load, change, render, idempotency=idempotency)

    def rename_agency(
        self,
        principal: Principal,
        code: str,
        effective_from: date,
        name_vi: str,
        name_en: str = "",
        *,
        idempotency: Idempotency | None = None,
    ) -> CommandResult:
        """A new name from `effective_from`; earlier periods keep the names they were reported under."""
        return self._change_agency(
            code,
            lambda agency: agency.rename(effective_from, name_vi, name_en, principal.subject, principal.role),
            idempotency,
        )

    def close_agency(
        self,
        principal: Principal,
        code: str,
        effective_to: date,
        successor: str | None = None,
        *,
        idempotency: Idempotency | None = None,
    ) -> CommandResult:
        """The agency's last day; with a successor, a merge (the successor reports from the next day)."""
        heir = None if successor is None else self._other_agency(successor, "successor")

        def change(agency: Agency) -> None:
            if heir is None:
                agency.close(effective_to, None, principal.subject, principal.role)
            else:
                agency.merge_into(heir, effective_to, principal.subject, principal.role)

        return self._change_agency(code, change, idempotency)

    def assign_template(
        self, principal: Principal, code: str, template: str, *, idempotency: Idempotency | None = None
    ) -> CommandResult:
        """The template the agency fills for periods not opened yet (opened ones keep theirs)."""
        self._check_template(template)

        def change(agency: Agency) -> bool:
            if agency.effective_to is not None and agency.effective_to < self.today():
                raise InvalidTransition(f"agency {code} ended on {agency.effective_to}")
            return agency.assign_template(template, principal.subject, principal.role)

        return self._change_agency(code, change, idempotency)

    def define_report(
        self, principal: Principal, spec: ReportSpec, *, idempotency: Idempotency | None = None
    ) -> CommandResult:
        """Add or revise a derived report type (ministry reviewer or admin); no data entry follows from it."""
        spec.check_indicators(self.catalogue().indicators)

        def load() -> ReportDefinition:
            try:
                return self._get(report_definition_id(spec.code), ReportDefinition, f"report {spec.code}")
            except NotFound:
                return ReportDefinition.define(spec, principal.subject, principal.role)

        def render(definition: ReportDefinition, _: bool, ids: Sequence[int]) -> dict[str, Any]:
            return {**definition.spec.to_dict(), "revision": definition.version, "position": max(ids) if ids else None}

        return self._execute(
            load,
            lambda definition: definition.revise(spec, principal.subject, principal.role),
            render,
            idempotency=idempotency,
            status_code=201,
        )
