"""Loads the seed catalogue, templates, rules, agencies and report definitions through the handlers.

Seeding is ordinary administration: the same commands, the same events, the same audit trail
as an admin using the API. Running it twice changes nothing.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from domain.errors import NotFound
from domain.identity import Principal, Role
from domain.periods import ReportingRegime
from domain.report_definitions import ReportSpec
from infra.seed import seed_file
from services.ingest.application.catalogue import define_indicators, define_report, publish_template
from services.ingest.application.commands import (
    DefineIndicators,
    DefineReport,
    PublishTemplate,
    RegisterAgency,
)
from services.ingest.application.registry import register_agency
from services.ingest.application.write_side import WriteSide

SEED_ADMIN = Principal(subject="system:seed", role=Role.ADMIN)

PROVINCIAL_TEMPLATE = "UNIFIED-PROVINCIAL"
UNIT_BASE_TEMPLATE = "MINISTRY-UNIT-BASE"


@cache
def reporting_regime() -> ReportingRegime:
    """Deadlines are data of the reporting regime (Circular 02/2023 by default: infra/seed/regime.json),
    read once per process."""
    return ReportingRegime.from_dict(seed_file("regime.json"))


def template_for(agency: dict[str, Any], template_codes: set[str]) -> str | None:
    """Provincial departments fill the unified template; a ministry unit its own, if it has one."""
    if agency["kind"] == "provincial_department":
        return PROVINCIAL_TEMPLATE
    if agency["kind"] == "ministry_unit":
        own = f"UNIT-{agency['code']}"
        return own if own in template_codes else UNIT_BASE_TEMPLATE
    return None


def load_seed(ws: WriteSide) -> dict[str, int]:
    """Load every seed file; returns counts of what is defined."""
    catalogue = DefineIndicators.from_dicts(seed_file("indicators.json"), seed_file("rules.json"))
    define_indicators(ws, SEED_ADMIN, catalogue)

    templates = seed_file("templates.json")
    # Base templates first: a unit template extends its base.
    templates.sort(key=lambda t: t.get("base") is not None)
    for template in templates:
        try:
            existing = len(ws.reference.template(template["code"]).versions)
        except NotFound:
            existing = 0
        for version in template["versions"][existing:]:
            command = PublishTemplate(
                template["code"],
                version["effective_from"],
                tuple(version["indicators"]),
                name_vi=template["name_vi"],
                name_en=template.get("name_en", ""),
                applies_to=template["applies_to"],
                base=template.get("base"),
                backfill=True,  # the regime's history: versions that started before today
            )
            publish_template(ws, SEED_ADMIN, command)

    template_codes = {t["code"] for t in templates}
    agencies = seed_file("agencies.json")
    # A merge names its successor, which must exist: agencies merged away come last.
    agencies.sort(key=lambda agency: agency.get("merged_into") is not None)
    for agency in agencies:
        register = RegisterAgency.from_dict({**agency, "template": template_for(agency, template_codes)})
        register_agency(ws, SEED_ADMIN, register)

    # Derived report types are defined through the write side too: definitions are events.
    definitions = [ReportSpec.from_dict(item) for item in seed_file("report_definitions.json")]
    for definition in definitions:
        define_report(ws, SEED_ADMIN, DefineReport(definition))
    return {
        "indicators": len(catalogue.indicators),
        "rules": len(catalogue.rules),
        "templates": len(templates),
        "agencies": len(agencies),
        "report definitions": len(definitions),
    }
