"""Shared by the interchange tests: the seed catalogue and forms, built in memory (no database)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from domain.catalogue import Catalogue, Indicator
from domain.periods import Period
from domain.rules import Rule
from domain.templates import Form, Template

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "interchange"
SEED = ROOT / "infra" / "seed"


def seed(name: str) -> Any:
    return json.loads((SEED / name).read_text("utf-8"))


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@cache
def catalogue() -> Catalogue:
    result = Catalogue(actor="test")
    for item in seed("indicators.json"):
        result.define(Indicator.from_dict(item), "test", "admin")
    for item in seed("rules.json"):
        result.define_rule(Rule.from_dict(item), "test", "admin")
    return result


@cache
def templates() -> dict[str, Template]:
    result: dict[str, Template] = {}
    for item in seed("templates.json"):
        template = Template.open(
            item["code"], item["name_vi"], item["name_en"], item["applies_to"], item.get("base"), "test", "admin"
        )
        for version in item["versions"]:
            template.publish(version["effective_from"], version["indicators"], catalogue(), "test", "admin")
        result[template.code] = template
    return result


def form(code: str = "UNIFIED-PROVINCIAL", period: str = "2026-10") -> Form:
    """The form `code` is filled on for `period` (a unit template extends its base)."""
    template = templates()[code]
    version = template.version_for(Period.parse(period))
    assert version is not None
    base: tuple[str, ...] = ()
    if template.base is not None:
        base_version = templates()[template.base].version_for(Period.parse(period))
        assert base_version is not None
        base = base_version.indicators
    return Form.build(template, version, catalogue(), base)


def indicators() -> dict[str, Indicator]:
    return dict(catalogue().indicators)
