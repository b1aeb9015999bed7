"""Templates, agencies (renames, the 2025 merges) and rules: pure domain, no server."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from importlib import resources
from typing import Any

import pytest

from domain.agencies import Agency, AgencyKind, predecessors, reporting_unit_on
from domain.catalogue import Catalogue, Indicator, IndicatorGroup
from domain.errors import (
    DomainError,
    InvalidAgencyChange,
    InvalidReference,
    InvalidTemplateChange,
    InvalidTransition,
)
from domain.identity import Principal, Role
from domain.periods import Period
from domain.rules import Expression, Rule, Severity
from domain.submission import Submission, submission_id
from domain.templates import Form, Template, version_in_force
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
        ("2026-01", ["A", "Z"], InvalidReference),
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


def test_a_next_version_starts_at_a_month_not_yet_open() -> None:
    catalogue = catalogue_with("A", "B")
    template = Template.open("T", "Biểu mẫu", "Form", "provincial_department", None, *ADMIN)
    # The first version of a new template may start in the past: nobody filled it yet.
    template.publish("2024-01", ["A"], catalogue, *ADMIN, not_before=Period.parse("2026-12"))
    with pytest.raises(InvalidTemplateChange):
        template.publish("2026-11", ["A", "B"], catalogue, *ADMIN, not_before=Period.parse("2026-12"))
    assert len(template.versions) == 1
    v2 = template.publish("2026-12", ["A", "B"], catalogue, *ADMIN, not_before=Period.parse("2026-12"))
    assert v2.version == 2
    assert template.version_for(Period.parse("2026-11")) == template.versions[0]
    with pytest.raises(InvalidTemplateChange):
        template.publish("2027-01", [], catalogue, *ADMIN)


def test_a_new_version_never_changes_a_period_already_filled() -> None:
    catalogue = catalogue_with("A", "B", "C")
    template = Template.open("T", "Biểu mẫu", "Form", "provincial_department", None, *ADMIN)
    v1 = template.publish("2024-01", ["A", "B"], catalogue, *ADMIN)
    june = Period.parse("2025-06")
    agency = Principal("agency:P01:x", Role.AGENCY_REPORTER, "P01")
    submission = Submission.open("P01", june, Form.build(template, v1, catalogue), agency)
    submission.enter_values([("A", 1), ("B", 2)], Form.build(template, v1, catalogue), agency)
    template.publish("2025-07", ["A", "C"], catalogue, *ADMIN)
    # The submission pinned version 1 when it opened; June is still on version 1, July on 2.
    assert (submission.template, submission.template_version) == ("T", 1)
    pinned = Form.build(template, template.version_number(submission.template_version), catalogue)
    assert list(pinned.indicators) == ["A", "B"]
    assert template.version_for(june) == v1
    july = template.version_for(june.next())
    assert july is not None
    assert list(Form.build(template, july, catalogue).indicators) == ["A", "C"]


def test_unit_forms_follow_the_base_version_in_force_per_period() -> None:
    catalogue = catalogue_with("BASE1", "BASE2", "OWN", "OWN2")
    base = Template.open("BASE", "Cơ sở", "Base", "ministry_unit", None, *ADMIN)
    base.publish("2024-01", ["BASE1"], catalogue, *ADMIN)
    base.publish("2025-03", ["BASE1", "BASE2"], catalogue, *ADMIN)
    unit = Template.open("UNIT-X", "Đơn vị X", "Unit X", "X", "BASE", *ADMIN)
    unit.publish("2024-01", ["OWN", "BASE1"], catalogue, *ADMIN)  # naming a base indicator again: listed once
    unit.publish("2025-07", ["OWN", "OWN2"], catalogue, *ADMIN)

    def form(period: str) -> list[str]:
        month = Period.parse(period)
        unit_version = unit.version_for(month)
        base_version = base.version_for(month)
        assert unit_version is not None
        assert base_version is not None
        return list(Form.build(unit, unit_version, catalogue, base_version.indicators).indicators)

    assert form("2025-02") == ["BASE1", "OWN"]
    assert form("2025-03") == ["BASE1", "BASE2", "OWN"]
    assert form("2025-07") == ["BASE1", "BASE2", "OWN", "OWN2"]
    assert form("2025Q3") == form("2025-07"), "a quarter takes the version in force for its first month"


def test_version_in_force_before_the_first_version_is_none() -> None:
    catalogue = catalogue_with("A")
    template = Template.open("T", "Biểu mẫu", "Form", "provincial_department", None, *ADMIN)
    template.publish("2024-03", ["A"], catalogue, *ADMIN)
    assert version_in_force(template.versions, Period.parse("2024-02")) is None
    assert version_in_force(template.versions, Period.parse("2024Q1")) is None, "the quarter starts in January"
    assert version_in_force(template.versions, Period.parse("2024Q2")) == template.versions[0]
    assert version_in_force([], Period.parse("2024-03")) is None


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


def test_many_to_one_merges_of_2025_07_01() -> None:
    registry = seed_agencies()
    # Ho Chi Minh City, Binh Duong and Ba Ria - Vung Tau became one province.
    assert predecessors(registry.values(), "P79") == ["P74", "P77"]
    assert [code for code in registry if len(predecessors(registry.values(), code)) >= 2] == [
        "P25",
        "P37",
        "P68",
        "P79",
        "P86",
        "P92",
    ]
    for code in ("P74", "P77"):
        agency = registry[code]
        assert (agency.effective_to, agency.successor) == (date(2025, 6, 30), "P79")
        assert reporting_unit_on(registry, code, date(2025, 6, 30)) is agency, "itself until its last day"
        assert reporting_unit_on(registry, code, date(2025, 7, 1)) is registry["P79"], "its successor from the merge"
        # Its name on each date: renamed on 2025-03-01 with every department, never renamed after the merge.
        assert agency.name_on(date(2025, 2, 28)).name_vi.startswith("Sở Thông tin và Truyền thông")
        assert agency.name_on(date(2025, 8, 1)).name_vi.startswith("Sở Khoa học và Công nghệ")
    assert reporting_unit_on(registry, "P79", date(2025, 7, 1)) is registry["P79"]
    assert reporting_unit_on(registry, "P79", date(2007, 1, 1)) is None, "before it existed"
    assert reporting_unit_on(registry, "NOPE", date(2025, 7, 1)) is None


def test_past_submissions_stay_with_the_agency_that_reported_them() -> None:
    catalogue = catalogue_with("A")
    template = Template.open("T", "Biểu mẫu", "Form", "provincial_department", None, *ADMIN)
    form = Form.build(template, template.publish("2024-01", ["A"], catalogue, *ADMIN), catalogue)
    binh_duong = Principal("agency:P74:x", Role.AGENCY_REPORTER, "P74")
    may = Submission.open("P74", Period.parse("2025-05"), form, binh_duong)
    may.enter_values([("A", 42)], form, binh_duong)
    events = may.collect_events()

    registry = seed_agencies()  # the merges already took effect: P74 into P79 on 2025-07-01
    assert registry["P74"].active_on(Period.parse("2025-05").cutoff_window()[1])
    assert may.agency == "P74"
    (value,) = [e for e in events if isinstance(e, Submission.IndicatorValueSubmitted)]
    assert (value.agency, value.indicator, value.value) == ("P74", "A", 42)
    assert may.id == submission_id("P74", "2025-05") != submission_id("P79", "2025-05")
    # Reporting for its area after the merge is the successor's, under the successor's own submissions.
    assert reporting_unit_on(registry, "P74", date(2025, 8, 1)) is registry["P79"]


def test_merge_into_checks_the_successor() -> None:
    def agency(code: str, start: date = date(2020, 1, 1)) -> Agency:
        return Agency.register(
            code, f"Sở {code}", code, AgencyKind.PROVINCIAL_DEPARTMENT, "MIC", None, None, start, *ADMIN
        )

    merged, heir, late, gone = agency("PA"), agency("PB"), agency("PC", date(2026, 1, 1)), agency("PD")
    gone.close(date(2025, 6, 30), None, *ADMIN)
    for successor, error in ((merged, InvalidReference), (late, InvalidReference), (gone, InvalidReference)):
        with pytest.raises(error):
            merged.merge_into(successor, date(2025, 6, 30), *ADMIN)
    assert merged.collect_events()[1:] == []
    merged.merge_into(heir, date(2025, 6, 30), *ADMIN)
    assert (merged.effective_to, merged.successor) == (date(2025, 6, 30), "PB")
    with pytest.raises(InvalidTransition):
        merged.merge_into(heir, date(2025, 7, 31), *ADMIN)
    with pytest.raises(InvalidAgencyChange):
        merged.rename(date(2025, 7, 1), "Sở sau sáp nhập", "", *ADMIN)
    with pytest.raises(InvalidAgencyChange):
        heir.rename(date(2025, 7, 1), "   ", "", *ADMIN)
    with pytest.raises(InvalidAgencyChange):
        Agency.register("P 1", "Sở", "", AgencyKind.PROVINCIAL_DEPARTMENT, None, None, None, date(2020, 1, 1), *ADMIN)


def test_a_rename_is_dated_and_keeps_every_earlier_name() -> None:
    agency = Agency.register(
        "PX",
        "Sở Thông tin và Truyền thông X",
        "X",
        AgencyKind.PROVINCIAL_DEPARTMENT,
        "MIC",
        None,
        None,
        date(2008, 1, 1),
        *ADMIN,
    )
    assert agency.rename(date(2025, 3, 1), "Sở Khoa học và Công nghệ X", "X DOST", *ADMIN)
    assert not agency.rename(date(2025, 4, 1), "Sở Khoa học và Công nghệ X", "X DOST", *ADMIN), "same name: no event"
    assert agency.name_on(date(2007, 1, 1)).name_vi == "Sở Thông tin và Truyền thông X", "before it existed: first"
    assert agency.name_on(date(2025, 2, 28)).name_vi == "Sở Thông tin và Truyền thông X"
    assert agency.name_on(date(2025, 3, 1)).name_vi == "Sở Khoa học và Công nghệ X"
    assert [n["name_vi"] for n in agency.describe()["names"]] == [
        "Sở Thông tin và Truyền thông X",
        "Sở Khoa học và Công nghệ X",
    ]
    assert agency.describe(date(2024, 1, 1))["name_vi"] == "Sở Thông tin và Truyền thông X"


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


@pytest.mark.parametrize(
    ("left", "operator", "right", "values", "status"),
    [
        # an indicator against a constant
        ({"indicator": "A"}, "<=", {"constant": 100}, {"A": 100}, "passed"),
        ({"indicator": "A"}, "<=", {"constant": "99.5"}, {"A": 100}, "failed"),
        # a constant on the left
        ({"constant": 0}, "<", {"indicator": "A"}, {"A": 1}, "passed"),
        ({"constant": 0}, "<", {"indicator": "A"}, {"A": 0}, "failed"),
        # a sum against an indicator, exact in decimals (0.1 + 0.2 == 0.3)
        (
            {"sum": ["A", "B"]},
            "==",
            {"indicator": "T"},
            {"A": Decimal("0.1"), "B": Decimal("0.2"), "T": Decimal("0.3")},
            "passed",
        ),
        # a sum plus a constant against a sum
        ({"sum": ["A", "B"], "constant": 10}, ">=", {"sum": ["T", "U"]}, {"A": 1, "B": 2, "T": 6, "U": 7}, "passed"),
        ({"sum": ["A", "B"], "constant": 10}, ">=", {"sum": ["T", "U"]}, {"A": 1, "B": 2, "T": 6, "U": 8}, "failed"),
        # an indicator plus a negative constant
        ({"indicator": "A", "constant": -5}, "!=", {"indicator": "B"}, {"A": 10, "B": 5}, "failed"),
        # skipped: a value missing on either side, or not a number (never 0 in its place)
        ({"sum": ["A", "B"]}, "<=", {"indicator": "T"}, {"A": 1, "T": 0}, "skipped"),
        ({"indicator": "A"}, "<=", {"indicator": "T"}, {"A": 1}, "skipped"),
        ({"indicator": "A"}, "==", {"constant": 1}, {"A": True}, "skipped"),
        ({"indicator": "A"}, "==", {"constant": 1}, {"A": "1"}, "skipped"),
    ],
)
def test_every_expression_kind(
    left: dict[str, Any], operator: str, right: dict[str, Any], values: dict[str, Any], status: str
) -> None:
    rule = Rule.from_dict({"code": "R", "left": left, "operator": operator, "right": right})
    outcome = rule.check(values)
    assert outcome.status == status
    assert (outcome.left is None or outcome.right is None) == (status == "skipped")
    assert Rule.from_dict(rule.to_dict()) == rule, "the stored form reads back the same rule"
    assert outcome.to_dict()["status"] == status


@pytest.mark.parametrize(
    "data",
    [
        {"code": "R", "left": {"indicator": "A"}, "operator": "=<", "right": {"constant": 1}},
        {"code": "R", "left": {"indicator": "A"}, "operator": "<=", "right": {}},
        {"code": "R", "left": {"sum": []}, "operator": "<=", "right": {"constant": 1}},
        {"code": "R", "left": {"indicator": "A", "sum": ["B"]}, "operator": "<=", "right": {"constant": 1}},
        {"code": "R", "left": {"indicator": "A"}, "operator": "<=", "right": {"constant": "NaN"}},
        {"code": "R", "left": {"indicator": "A"}, "operator": "<=", "right": {"constant": "abc"}},
        {"code": "R", "left": {"indicator": "A"}, "operator": "<=", "right": {"other": 1}},
        {"code": "R", "left": {"constant": 1}, "operator": "<=", "right": {"constant": 2}},  # applies to every form
        {"code": "R", "left": {"indicator": "A"}, "operator": "<=", "right": {"constant": 1}, "severity": "fatal"},
    ],
)
def test_malformed_rules_are_refused(data: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - every refusal of a definition is a ValueError
        Rule.from_dict(data)


def test_a_warning_rule_reports_but_an_error_rule_blocks() -> None:
    catalogue = catalogue_with("A", "B")
    warning = Rule.from_dict(
        {"code": "W", "left": {"indicator": "A"}, "operator": "<", "right": {"constant": 5}, "severity": "warning"}
    )
    assert warning.severity is Severity.WARNING
    assert catalogue.define_rule(warning, *ADMIN)
    assert not catalogue.define_rule(warning, *ADMIN), "the same definition again: no event"
    with pytest.raises(ValueError):  # noqa: PT011
        catalogue.define_rule(Rule("X", "", "", Expression(("A",)), "<=", Expression(("MISSING",))), *ADMIN)
    text = Indicator(
        "TXT", "Ghi chú", "Note", IndicatorGroup.POSTAL, "", ValueType.TEXT, Aggregation.LAST, Aggregation.NONE
    )
    catalogue.define(text, *ADMIN)
    with pytest.raises(ValueError):  # noqa: PT011
        catalogue.define_rule(Rule("Y", "", "", Expression(("TXT",)), "==", Expression(constant=Decimal(1))), *ADMIN)


def test_an_indicator_keeps_its_value_type_and_has_finite_bounds() -> None:
    catalogue = catalogue_with("A")
    changed = Indicator(
        "A", "Chỉ tiêu A", "A", IndicatorGroup.POSTAL, "cái", ValueType.DECIMAL, Aggregation.SUM, Aggregation.SUM
    )
    with pytest.raises(ValueError):  # noqa: PT011
        catalogue.define(changed, *ADMIN)
    for bound in ("NaN", "Infinity"):
        with pytest.raises(ValueError):  # noqa: PT011
            Indicator.from_dict({**catalogue.indicators["A"].to_dict(), "minimum": bound})
