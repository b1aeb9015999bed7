"""Handlers of the definitions (admin role; the seed goes through them too): indicators and rules,
template versions, and derived report types (ministry reviewers too)."""

from __future__ import annotations

from collections.abc import Sequence

from domain.catalogue import CATALOGUE_ID, Catalogue
from domain.errors import InvalidDefinition, InvalidReference, InvalidTemplateChange, NotFound
from domain.identity import Principal
from domain.periods import Period, PeriodKind, period_for_date
from domain.report_definitions import ReportDefinition, ReportExists, report_definition_id
from domain.templates import Template, template_id
from services.ingest.application.commands import DefineIndicators, DefineReport, PublishTemplate
from services.ingest.application.execute import execute
from services.ingest.application.idempotency import Idempotency
from services.ingest.application.outcomes import IndicatorsDefined, Replayed, ReportDefined, TemplatePublished
from services.ingest.application.reference import get
from services.ingest.application.write_side import WriteSide


def define_indicators(
    ws: WriteSide, principal: Principal, command: DefineIndicators, idempotency: Idempotency | None = None
) -> IndicatorsDefined | Replayed:
    """Add or revise indicators and rules; an unchanged definition stores nothing."""

    def load() -> Catalogue:
        try:
            return get(ws.store, CATALOGUE_ID, Catalogue, "the catalogue")
        except NotFound:
            return Catalogue(actor=principal.subject)

    def change(catalogue: Catalogue) -> list[str]:
        changed = []
        try:
            for indicator in command.indicators:
                if catalogue.define(indicator, principal.subject, principal.role):
                    changed.append(indicator.code)
            for rule in command.rules:
                if catalogue.define_rule(rule, principal.subject, principal.role):
                    changed.append(rule.code)
        except ValueError as error:  # a changed value type, a rule on an unknown or non-numeric indicator
            raise InvalidDefinition(str(error)) from None
        return changed

    def outcome(catalogue: Catalogue, changed: list[str], positions: Sequence[int]) -> IndicatorsDefined:
        return IndicatorsDefined(
            tuple(changed), len(catalogue.indicators), len(catalogue.rules), positions=tuple(positions)
        )

    return execute(ws.store, load, change, outcome, idempotency=idempotency)


def first_closed_month(ws: WriteSide) -> Period:
    """The first month whose cut-off window has not started: what a new template version may change."""
    return period_for_date(ws.clock.today(), PeriodKind.MONTH).next()


def publish_template(
    ws: WriteSide, principal: Principal, command: PublishTemplate, idempotency: Idempotency | None = None
) -> TemplatePublished | Replayed:
    """Create a template with its first version, or publish its next version (from a month not yet open)."""

    def load() -> Template:
        try:
            return get(ws.store, template_id(command.code), Template, f"template {command.code}")
        except NotFound:
            if not command.name_vi or not command.applies_to:
                raise InvalidTemplateChange("a new template needs name_vi and applies_to") from None
            if command.base is not None:
                if command.base == command.code:
                    raise InvalidReference("a template cannot extend itself") from None
                try:
                    base = ws.reference.template(command.base)
                except NotFound:
                    raise InvalidReference(f"base template {command.base} does not exist") from None
                if base.base is not None:
                    raise InvalidReference(f"{command.base} extends {base.base}: bases do not chain") from None
            return Template.open(
                command.code,
                command.name_vi,
                command.name_en,
                command.applies_to,
                command.base,
                principal.subject,
                principal.role,
            )

    def change(template: Template) -> int:
        return template.publish(
            command.effective_from,
            command.indicators,
            ws.reference.catalogue(),
            principal.subject,
            principal.role,
            not_before=None if command.backfill else first_closed_month(ws),
        ).version

    def outcome(template: Template, version: int, positions: Sequence[int]) -> TemplatePublished:
        return TemplatePublished(template.code, version, positions=tuple(positions))

    return execute(ws.store, load, change, outcome, idempotency=idempotency)


def define_report(
    ws: WriteSide, principal: Principal, command: DefineReport, idempotency: Idempotency | None = None
) -> ReportDefined | Replayed:
    """Add or revise a derived report type; no data entry follows from it."""
    spec = command.spec

    def load() -> ReportDefinition:
        spec.check_indicators(ws.reference.catalogue().indicators)
        try:
            found = get(ws.store, report_definition_id(spec.code), ReportDefinition, f"report {spec.code}")
        except NotFound:
            return ReportDefinition.define(spec, principal.subject, principal.role)
        if command.new_only:
            raise ReportExists(f"a report type {spec.code} exists already")
        return found

    def outcome(definition: ReportDefinition, _: bool, positions: Sequence[int]) -> ReportDefined:
        return ReportDefined(definition.spec, definition.version, positions=tuple(positions))

    return execute(
        ws.store,
        load,
        lambda definition: definition.revise(spec, principal.subject, principal.role),
        outcome,
        idempotency=idempotency,
    )
