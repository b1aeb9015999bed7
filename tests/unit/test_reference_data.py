"""Templates, agencies (renames, the 2025 merges), rules and outlier warnings: pure domain, no server."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from importlib import resources
from typing import Any

import pytest

from domain.agencies import Agency, AgencyKind
from domain.catalogue import Catalogue, Indicator, IndicatorGroup
from domain.errors import DomainError, NotFound
from domain.outliers import outlier_warnings
from domain.periods import Period
from domain.rules import Expression, Rule
from domain.templates import Form, Template
from domain.values import Aggregation, ValueType

ADMIN = ("admin:a", "admin")


def catalogue_with(*codes: str) -> Catalogue:
    catalogue = Catalogue(actor="admin:a")
    for code in codes:
        catalogue.define(
            Indicator(
                code,
                f"Chỉ tiêu {code}",
                code,
                IndicatorGroup.POSTAL,
                "cái",
                ValueType.INTEGER,
                Aggregation.SUM,
                Aggregation.SUM,
            ),
            *ADMIN,
        )
    return catalogue


# ---- templates ------------------------------------------------------------------


def test_version_in_force_per_period_and_past_periods_keep_theirs() -> None:
    catalogue = catalogue_with("A", "B", "C")
    template = Template.open("T", "Biểu mẫu", "Form", "provincial_department", None, *ADMIN)
    v1 = template.publish("2024-01", ["A", "B"], catalogue, *ADMIN)
    assert template.version_for(Period.parse("2023-12")) is None
    assert template.version_for(Period.parse("2025-06")) == v1
    v2 = template.publish("2025-07", ["A", "C"], catalogue, *ADMIN)
    assert template.version_for(Period.parse("2025-06")) == v1, "publishing never changes a past period"
    assert template.version_for(Period.parse("2025-07")) == v2
    # A quarter is filled on the version in force for its first month.
    assert template.version_for(Period.parse("2025Q3")) == v2
    assert template.version_for(Period.parse("2025Q2")) == v1
    assert template.version_number(1) == v1


@pytest.mark.parametrize(
    ("start", "indicators", "error"),
    [
        ("2024-01", ["A"], DomainError),  # not after the latest version's start: would rewrite the past
        ("2023-06", ["A"], DomainError),
        ("2025Q1", ["A"], DomainError),  # versions start at a month
        ("2026-01", ["A", "Z"], NotFound),
        ("2026-01", ["A", "A"], DomainError),
    ],
)
def test_refused_versions(start: str, indicators: list[str], error: type[Exception]) -> None:
    catalogue = catalogue_with("A", "B")
    template = Template.open("T", "Biểu mẫu", "Form", "provincial_department", None, *ADMIN)
    template.publish("2024-01", ["A", "B"], catalogue, *ADMIN)
    template.collect_events()
    with pytest.raises(error):
        template.publish(start, indicators, catalogue, *ADMIN)
    assert template.collect_events() == []
    assert len(template.versions) == 1


def test_unit_template_extends_its_base_and_rules_follow_the_form() -> None:
    catalogue = catalogue_with("BASE1", "BASE2", "OWN")
    catalogue.define_rule(Rule("R1", "", "own <= base1", Expression(("OWN",)), "<=", Expression(("BASE1",))), *ADMIN)
    catalogue.define_rule(
        Rule("R2", "", "base2 <= 5", Expression(("BASE2",)), "<=", Expression(constant=Decimal(5))), *ADMIN
    )
    base = Template.open("BASE", "Cơ sở", "Base", "ministry_unit", None, *ADMIN)
    base_version = base.publish("2024-01", ["BASE1", "BASE2"], catalogue, *ADMIN)
    unit = Template.open("UNIT-X", "Đơn vị X", "Unit X", "X", "BASE", *ADMIN)
    unit_version = unit.publish("2024-01", ["OWN"], catalogue, *ADMIN)
    form = Form.build(unit, unit_version, catalogue, base_version.indicators)
    assert list(form.indicators) == ["BASE1", "BASE2", "OWN"]
    assert {rule.code for rule in form.rules} == {"R1", "R2"}
    base_only = Form.build(base, base_version, catalogue)
    assert {rule.code for rule in base_only.rules} == {"R2"}, "a rule naming an indicator off the form does not apply"


# ---- agencies: renames and the 2025 reorganisation -----------------------------------


def seed_agencies() -> dict[str, Agency]:
    data: list[dict[str, Any]] = json.loads(resources.files("infra.seed").joinpath("agencies.json").read_text("utf-8"))
    registry = {}
    for item in data:
        agency = Agency.register(
            item["code"],
            item["name_vi"],
            item.get("name_en") or "",
            AgencyKind(item["kind"]),
            item.get("parent"),
            item.get("region"),
            None,
            date.fromisoformat(item["effective_from"]),
            *ADMIN,
        )
        for rename in item.get("renames") or []:
            agency.rename(
                date.fromisoformat(rename["effective_from"]), rename["name_vi"], rename.get("name_en") or "", *ADMIN
            )
        if item.get("effective_to"):
            agency.close(date.fromisoformat(item["effective_to"]), item.get("merged_into"), *ADMIN)
        registry[agency.code] = agency
    return registry


def provincial(registry: dict[str, Agency], day: date) -> list[Agency]:
    return [a for a in registry.values() if a.kind is AgencyKind.PROVINCIAL_DEPARTMENT and a.active_on(day)]


def test_sixty_three_provinces_become_thirty_four() -> None:
    registry = seed_agencies()
    assert len(provincial(registry, date(2025, 6, 30))) == 63
    assert len(provincial(registry, date(2025, 7, 1))) == 34
    merged = [a for a in registry.values() if a.successor is not None]
    assert len(merged) == 29
    for agency in merged:
        successor = registry[agency.successor or ""]
        assert successor.active_on(date(2025, 7, 1)), f"{agency.code} merges into an agency in force"
        assert agency.active_on(date(2025, 6, 30))
        assert not agency.active_on(date(2025, 7, 1))


def test_names_in_force_on_a_date() -> None:
    hanoi = seed_agencies()["P01"]
    assert hanoi.name_on(date(2024, 12, 1)).name_vi == "Sở Thông tin và Truyền thông Hà Nội"
    assert hanoi.name_on(date(2025, 3, 1)).name_vi == "Sở Khoa học và Công nghệ Hà Nội"


def test_merge_rules() -> None:
    agency = Agency.register(
        "PX", "Sở X", "X", AgencyKind.PROVINCIAL_DEPARTMENT, "MIC", None, None, date(2020, 1, 1), *ADMIN
    )
    with pytest.raises(DomainError):
        agency.close(date(2019, 1, 1), "PY", *ADMIN)
    with pytest.raises(DomainError):
        agency.close(date(2025, 6, 30), "PX", *ADMIN)
    with pytest.raises(DomainError):
        agency.rename(date(2020, 1, 1), "Sở X mới", "", *ADMIN)
    agency.close(date(2025, 6, 30), "PY", *ADMIN)
    with pytest.raises(DomainError):
        agency.close(date(2025, 7, 30), "PZ", *ADMIN)
    assert agency.successor == "PY"


# ---- rules --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operator", "left", "right", "status"),
    [
        ("<=", 5, 5, "passed"),
        ("<=", 6, 5, "failed"),
        ("<", 5, 5, "failed"),
        ("<", 4, 5, "passed"),
        (">=", 5, 5, "passed"),
        (">=", 4, 5, "failed"),
        (">", 5, 5, "failed"),
        (">", 6, 5, "passed"),
        ("==", 5, 5, "passed"),
        ("==", 4, 5, "failed"),
        ("!=", 4, 5, "passed"),
        ("!=", 5, 5, "failed"),
    ],
)
def test_every_operator(operator: str, left: int, right: int, status: str) -> None:
    rule = Rule("R", "", "", Expression(("L",)), operator, Expression(("R",)))
    assert rule.check({"L": left, "R": right}).status == status


def test_sum_of_parts_equals_total_and_missing_values_skip() -> None:
    rule = Rule.from_dict({"code": "SUM", "left": {"sum": ["P1", "P2"]}, "operator": "==", "right": {"indicator": "T"}})
    assert rule.check({"P1": 2, "P2": Decimal("3.5"), "T": Decimal("5.5")}).status == "passed"
    assert rule.check({"P1": 2, "P2": 3, "T": 6}).status == "failed"
    assert rule.check({"P1": 2, "T": 6}).status == "skipped"
    assert Rule.from_dict(rule.to_dict()) == rule


# ---- outliers -----------------------------------------------------------------------


def test_outliers_against_the_agencys_own_history() -> None:
    history: dict[str, list[Any]] = {"A": [100, 110, 90, 105], "B": [100, 110, 90], "C": [0, 0, 0], "D": [1, 2]}
    warnings = outlier_warnings({"A": 400, "B": 120, "C": 5, "D": 1000, "E": 7, "F": True}, history)
    assert {w.indicator for w in warnings} == {"A", "C"}
    (a,) = [w for w in warnings if w.indicator == "A"]
    assert a.median == Decimal("102.5")
    assert a.to_dict()["reason"] == "outlier"
    assert outlier_warnings({"A": 30}, history)[0].indicator == "A", "far below is an outlier too"
    assert outlier_warnings({"A": 40}, history) == []
