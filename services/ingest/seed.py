"""Loads the seed catalogue, templates, rules and agencies through the service layer.

Seeding is ordinary administration: the same commands, the same events, the
same audit trail as an admin using the API. Running it twice changes nothing.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from domain.catalogue import Indicator
from domain.errors import NotFound
from domain.identity import Principal, Role
from domain.report_definitions import ReportSpec
from domain.rules import Rule
from services.ingest.commands import IngestService

SEED_ADMIN = Principal(subject="system:seed", role=Role.ADMIN)

PROVINCIAL_TEMPLATE = "UNIFIED-PROVINCIAL"
UNIT_BASE_TEMPLATE = "MINISTRY-UNIT-BASE"


def seed_file(name: str) -> Any:
    return json.loads(resources.files("infra.seed").joinpath(name).read_text("utf-8"))


def template_for(agency: dict[str, Any], template_codes: set[str]) -> str | None:
    """Provincial departments fill the unified template; a ministry unit its own, if it has one."""
    if agency["kind"] == "provincial_department":
        return PROVINCIAL_TEMPLATE
    if agency["kind"] == "ministry_unit":
        own = f"UNIT-{agency['code']}"
        return own if own in template_codes else UNIT_BASE_TEMPLATE
    return None


def load_seed(service: IngestService) -> dict[str, int]:
    """Load every seed file; returns counts of what is defined."""
    indicators = [Indicator.from_dict(item) for item in seed_file("indicators.json")]
    rules = [Rule.from_dict(item) for item in seed_file("rules.json")]
    service.define_indicators(SEED_ADMIN, indicators, rules)

    templates = seed_file("templates.json")
    # Base templates first: a unit template extends its base.
    templates.sort(key=lambda t: t.get("base") is not None)
    for template in templates:
        try:
            existing = len(service.template(template["code"]).versions)
        except NotFound:
            existing = 0
        for version in template["versions"][existing:]:
            service.publish_template(
                SEED_ADMIN,
                template["code"],
                version["effective_from"],
                version["indicators"],
                name_vi=template["name_vi"],
                name_en=template.get("name_en", ""),
                applies_to=template["applies_to"],
                base=template.get("base"),
                backfill=True,  # the regime's history: versions that started before today
            )

    template_codes = {t["code"] for t in templates}
    agencies = seed_file("agencies.json")
    # A merge names its successor, which must exist: agencies merged away come last.
    agencies.sort(key=lambda agency: agency.get("merged_into") is not None)
    for agency in agencies:
        service.register_agency(SEED_ADMIN, {**agency, "template": template_for(agency, template_codes)})

    # Derived report types are defined through the write side too: definitions are events.
    definitions = [ReportSpec.from_dict(item) for item in seed_file("report_definitions.json")]
    for definition in definitions:
        service.define_report(SEED_ADMIN, definition)
    return {
        "indicators": len(indicators),
        "rules": len(rules),
        "templates": len(templates),
        "agencies": len(agencies),
        "report definitions": len(definitions),
    }
