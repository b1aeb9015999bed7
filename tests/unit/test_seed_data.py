"""Checks of the seed catalogue in `infra/seed/*.json`.

The seed files are data that `reporting up` loads and that tests reuse, so their
shape, their references and the organisational history they encode (the 2025
mergers) are checked here without any server.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from importlib import resources
from typing import Any

import pytest

from domain.catalogue import Indicator
from domain.identifiers import parse_electronic_code
from domain.rules import Rule

SEED_FILES = (
    "agencies.json",
    "indicators.json",
    "rules.json",
    "templates.json",
    "report_definitions.json",
    "regime.json",
)

GROUPS = {
    "postal",
    "telecom_internet",
    "radio_frequency",
    "it_industry",
    "digital_transformation",
    "information_security",
    "press_broadcasting_einfo",
    "publishing_printing_distribution",
}
REGIONS = {
    "northern_midlands_mountains",
    "red_river_delta",
    "north_central_central_coast",
    "central_highlands",
    "southeast",
    "mekong_delta",
}
KINDS = {"ministry", "ministry_unit", "provincial_department"}
VALUE_TYPES = {"integer", "decimal", "percentage", "boolean", "text"}
NUMERIC_TYPES = {"integer", "decimal", "percentage"}
AGGREGATIONS = {"sum", "average", "last", "min", "max", "none"}
NUMERIC_AGGREGATIONS = {"sum", "average", "min", "max"}
OPERATORS = {"<=", "<", ">=", ">", "==", "!="}
SEVERITIES = {"error", "warning"}
PERIOD_KINDS = {"month", "quarter", "half_year", "year"}
SCOPES = {"agency", "region", "national"}

AGENCY_KEYS = {
    "electronic_code",
    "code",
    "name_vi",
    "name_en",
    "kind",
    "parent",
    "region",
    "effective_from",
    "effective_to",
    "renames",
    "merged_into",
}
INDICATOR_KEYS = {
    "code",
    "name_vi",
    "name_en",
    "group",
    "unit",
    "value_type",
    "aggregation_time",
    "aggregation_agencies",
    "min",
    "max",
    "required",
}

MINISTRY_SPLIT = date(2025, 3, 1)  # MIC merged into the Ministry of Science and Technology
LAST_DAY_63 = date(2025, 6, 30)
FIRST_DAY_34 = date(2025, 7, 1)

# Resolution 202/2025/QH15: the province that continues -> the provinces merged into it,
# by official two-digit administrative code (the continuing unit keeps its pre-2025 code).
MERGERS: dict[str, set[str]] = {
    "P08": {"P02"},  # Tuyên Quang <- Hà Giang
    "P10": {"P15"},  # Lào Cai <- Yên Bái
    "P19": {"P06"},  # Thái Nguyên <- Bắc Kạn
    "P25": {"P26", "P17"},  # Phú Thọ <- Vĩnh Phúc, Hòa Bình
    "P27": {"P24"},  # Bắc Ninh <- Bắc Giang
    "P33": {"P34"},  # Hưng Yên <- Thái Bình
    "P31": {"P30"},  # Hải Phòng <- Hải Dương
    "P37": {"P35", "P36"},  # Ninh Bình <- Hà Nam, Nam Định
    "P45": {"P44"},  # Quảng Trị <- Quảng Bình
    "P48": {"P49"},  # Đà Nẵng <- Quảng Nam
    "P51": {"P62"},  # Quảng Ngãi <- Kon Tum
    "P64": {"P52"},  # Gia Lai <- Bình Định
    "P56": {"P58"},  # Khánh Hòa <- Ninh Thuận
    "P68": {"P67", "P60"},  # Lâm Đồng <- Đắk Nông, Bình Thuận
    "P66": {"P54"},  # Đắk Lắk <- Phú Yên
    "P79": {"P74", "P77"},  # TP Hồ Chí Minh <- Bình Dương, Bà Rịa - Vũng Tàu
    "P75": {"P70"},  # Đồng Nai <- Bình Phước
    "P72": {"P80"},  # Tây Ninh <- Long An
    "P92": {"P94", "P93"},  # Cần Thơ <- Sóc Trăng, Hậu Giang
    "P86": {"P83", "P84"},  # Vĩnh Long <- Bến Tre, Trà Vinh
    "P87": {"P82"},  # Đồng Tháp <- Tiền Giang
    "P96": {"P95"},  # Cà Mau <- Bạc Liêu
    "P89": {"P91"},  # An Giang <- Kiên Giang
}
UNCHANGED = {
    "P01": "Hà Nội",
    "P46": "Huế",
    "P12": "Lai Châu",
    "P11": "Điện Biên",
    "P14": "Sơn La",
    "P20": "Lạng Sơn",
    "P22": "Quảng Ninh",
    "P38": "Thanh Hóa",
    "P40": "Nghệ An",
    "P42": "Hà Tĩnh",
    "P04": "Cao Bằng",
}

Json = Any


def load(name: str) -> Json:
    text = resources.files("infra.seed").joinpath(name).read_text(encoding="utf-8")
    return json.loads(text)


def strings(node: Json) -> Iterator[str]:
    """Every string in a JSON document, keys included."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


def is_ascii_code(code: object) -> bool:
    return isinstance(code, str) and bool(code) and code.isascii() and " " not in code and "/" not in code


def day(text: str) -> date:
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", text), text
    return date.fromisoformat(text)


def month_code(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d{4})-(\d{2})", text)
    assert match, f"not a monthly period code: {text!r}"
    year, month = int(match[1]), int(match[2])
    assert 1 <= month <= 12, text
    return year, month


def active_on(agency: dict[str, Any], on: date) -> bool:
    end = agency["effective_to"]
    return day(agency["effective_from"]) <= on and (end is None or on <= day(end))


def name_on(agency: dict[str, Any], on: date) -> str:
    name: str = agency["name_vi"]
    for rename in agency["renames"]:
        if day(rename["effective_from"]) <= on:
            name = rename["name_vi"]
    return name


def expression_codes(expression: dict[str, Any]) -> list[str]:
    if "indicator" in expression:
        return [expression["indicator"]]
    if "sum" in expression:
        return list(expression["sum"])
    return []


@pytest.fixture(scope="module")
def agencies() -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = load("agencies.json")
    return data


@pytest.fixture(scope="module")
def agency_by_code(agencies: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {agency["code"]: agency for agency in agencies}


@pytest.fixture(scope="module")
def provinces(agencies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [agency for agency in agencies if agency["kind"] == "provincial_department"]


@pytest.fixture(scope="module")
def indicators() -> dict[str, dict[str, Any]]:
    data: list[dict[str, Any]] = load("indicators.json")
    return {indicator["code"]: indicator for indicator in data}


@pytest.fixture(scope="module")
def rules() -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = load("rules.json")
    return data


@pytest.fixture(scope="module")
def templates() -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = load("templates.json")
    return data


@pytest.fixture(scope="module")
def report_definitions() -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = load("report_definitions.json")
    return data


# --------------------------------------------------------------------- all files


@pytest.mark.parametrize("name", SEED_FILES)
def test_file_is_utf8_and_every_string_is_nfc(name: str) -> None:
    raw = resources.files("infra.seed").joinpath(name).read_bytes()
    text = raw.decode("utf-8")  # raises on anything but UTF-8
    assert not text.startswith("\ufeff"), "no byte-order mark"
    assert unicodedata.is_normalized("NFC", text)
    for value in strings(json.loads(text)):
        assert unicodedata.is_normalized("NFC", value), value


@pytest.mark.parametrize(
    "name", ["agencies.json", "indicators.json", "rules.json", "templates.json", "report_definitions.json"]
)
def test_codes_are_unique_ascii(name: str) -> None:
    codes = [item["code"] for item in load(name)]
    duplicates = [code for code, count in Counter(codes).items() if count > 1]
    assert not duplicates
    assert all(is_ascii_code(code) for code in codes), [c for c in codes if not is_ascii_code(c)]


def test_vietnamese_names_carry_diacritics(agencies: list[dict[str, Any]]) -> None:
    # A seed typed without diacritics would still be NFC: make sure real Vietnamese is there.
    assert any("Thông tin và Truyền thông" in agency["name_vi"] for agency in agencies)
    assert all(not agency["name_vi"].isascii() for agency in agencies)


# ------------------------------------------------------------------------ agencies


def test_agency_shape(agencies: list[dict[str, Any]]) -> None:
    for agency in agencies:
        assert set(agency) == AGENCY_KEYS, agency["code"]
        assert agency["kind"] in KINDS
        assert agency["name_vi"], agency["code"]
        assert agency["name_en"], agency["code"]
        assert agency["name_en"].isascii(), agency["name_en"]
        day(agency["effective_from"])
        if agency["effective_to"] is not None:
            assert day(agency["effective_to"]) >= day(agency["effective_from"])
        for rename in agency["renames"]:
            assert set(rename) == {"effective_from", "name_vi", "name_en"}
        starts = [day(agency["effective_from"])] + [day(r["effective_from"]) for r in agency["renames"]]
        assert starts == sorted(starts), agency["code"]
        assert len(set(starts)) == len(starts), agency["code"]


def test_every_agency_has_its_own_valid_electronic_code(agencies: list[dict[str, Any]]) -> None:
    """Made-up codes in the QCVN 102:2016 shape: the ministry's G22, its units', the provinces' H01..H63."""
    codes = [parse_electronic_code(agency["electronic_code"]) for agency in agencies]
    assert len(set(codes)) == len(codes)
    provinces = sorted(a["electronic_code"] for a in agencies if a["kind"] == "provincial_department")
    assert provinces == [f"000.00.00.H{n:02d}" for n in range(1, 64)]


def test_ministry_and_units(agencies: list[dict[str, Any]], agency_by_code: dict[str, dict[str, Any]]) -> None:
    ministries = [agency for agency in agencies if agency["kind"] == "ministry"]
    assert [ministry["code"] for ministry in ministries] == ["MIC"]
    mic = agency_by_code["MIC"]
    assert mic["name_vi"] == "Bộ Thông tin và Truyền thông"
    assert mic["parent"] is None
    assert mic["region"] is None
    assert mic["effective_to"] is None
    assert name_on(mic, MINISTRY_SPLIT - timedelta(days=1)) == "Bộ Thông tin và Truyền thông"
    assert name_on(mic, MINISTRY_SPLIT) == "Bộ Khoa học và Công nghệ"

    units = [agency for agency in agencies if agency["kind"] == "ministry_unit"]
    assert 25 <= len(units) <= 40
    names = {unit["name_vi"] for unit in units}
    for expected in (
        "Cục Viễn thông",
        "Cục Tần số vô tuyến điện",
        "Cục An toàn thông tin",
        "Cục Báo chí",
        "Cục Xuất bản, In và Phát hành",
        "Cục Chuyển đổi số quốc gia",
        "Trung tâm Internet Việt Nam",
        "Vụ Kế hoạch - Tài chính",
    ):
        assert expected in names
    for unit in units:
        assert unit["code"].startswith("MIC-")
        assert unit["region"] is None


def test_references_resolve(agencies: list[dict[str, Any]], agency_by_code: dict[str, dict[str, Any]]) -> None:
    for agency in agencies:
        if agency["kind"] == "ministry":
            continue
        parent = agency_by_code.get(agency["parent"])
        assert parent is not None, agency["code"]
        assert parent["kind"] == "ministry", agency["code"]
        target = agency["merged_into"]
        assert (target is None) or (agency["effective_to"] is not None), agency["code"]
        if target is not None:
            successor = agency_by_code[target]
            assert successor["code"] != agency["code"]
            assert successor["kind"] == agency["kind"]
            takeover = day(agency["effective_to"]) + timedelta(days=1)
            assert active_on(successor, takeover), f"{agency['code']} -> {target}"
            assert successor["merged_into"] is None, "no merge chains"


def test_provincial_departments(provinces: list[dict[str, Any]]) -> None:
    assert len(provinces) == 63
    for province in provinces:
        assert re.fullmatch(r"P\d{2}", province["code"]), province["code"]
        assert province["region"] in REGIONS, province["code"]
        assert day(province["effective_from"]) < MINISTRY_SPLIT
        before = name_on(province, MINISTRY_SPLIT - timedelta(days=1))
        after = name_on(province, MINISTRY_SPLIT)
        assert before.startswith("Sở Thông tin và Truyền thông "), before
        assert after.startswith("Sở Khoa học và Công nghệ "), after
        assert after.removeprefix("Sở Khoa học và Công nghệ ") == before.removeprefix("Sở Thông tin và Truyền thông ")
    regions = Counter(province["region"] for province in provinces)
    assert set(regions) == REGIONS
    assert regions == {
        "northern_midlands_mountains": 14,
        "red_river_delta": 11,
        "north_central_central_coast": 14,
        "central_highlands": 5,
        "southeast": 6,
        "mekong_delta": 13,
    }


def test_63_provinces_become_34(provinces: list[dict[str, Any]]) -> None:
    before = [p for p in provinces if active_on(p, LAST_DAY_63)]
    after = [p for p in provinces if active_on(p, FIRST_DAY_34)]
    assert len(before) == 63
    assert len(after) == 34
    for province in provinces:
        if province["effective_to"] is not None:
            assert province["effective_to"] == "2025-06-30"
            assert province["merged_into"] is not None
        if day(province["effective_from"]) >= FIRST_DAY_34:
            assert province["effective_from"] == "2025-07-01"
    names_after = [name_on(p, FIRST_DAY_34) for p in after]
    assert len(set(names_after)) == 34


def test_mergers_follow_resolution_202(
    provinces: list[dict[str, Any]], agency_by_code: dict[str, dict[str, Any]]
) -> None:
    absorbed: dict[str, set[str]] = {}
    for province in provinces:
        if province["merged_into"] is not None:
            absorbed.setdefault(province["merged_into"], set()).add(province["code"])
    assert absorbed == MERGERS
    survivors = {p["code"] for p in provinces if active_on(p, FIRST_DAY_34)}
    assert survivors == set(MERGERS) | set(UNCHANGED)
    assert len(MERGERS) == 23
    assert len(UNCHANGED) == 11
    for code, province_name in UNCHANGED.items():
        assert name_on(agency_by_code[code], FIRST_DAY_34) == f"Sở Khoa học và Công nghệ {province_name}"


# ---------------------------------------------------------------------- indicators


def test_indicator_counts_and_groups(indicators: dict[str, dict[str, Any]]) -> None:
    assert len(indicators) >= 60
    groups = Counter(indicator["group"] for indicator in indicators.values())
    assert set(groups) == GROUPS
    assert min(groups.values()) >= 5


def test_indicator_shape_and_semantics(indicators: dict[str, dict[str, Any]]) -> None:
    for code, indicator in indicators.items():
        assert set(indicator) == INDICATOR_KEYS, code
        assert indicator["group"] in GROUPS, code
        assert indicator["name_vi"], code
        assert indicator["name_en"], code
        assert indicator["unit"], code
        assert isinstance(indicator["required"], bool), code
        value_type = indicator["value_type"]
        assert value_type in VALUE_TYPES, code
        assert indicator["aggregation_time"] in AGGREGATIONS, code
        assert indicator["aggregation_agencies"] in AGGREGATIONS, code
        low, high = indicator["min"], indicator["max"]
        for bound in (low, high):
            assert bound is None or (isinstance(bound, int | float) and not isinstance(bound, bool))
        if low is not None and high is not None:
            assert low <= high, code
        if value_type not in NUMERIC_TYPES:
            # No sum, average, min or max over booleans or text.
            assert indicator["aggregation_time"] not in NUMERIC_AGGREGATIONS, code
            assert indicator["aggregation_agencies"] not in NUMERIC_AGGREGATIONS, code
            assert low is None, code
            assert high is None, code
        if value_type == "percentage":
            assert (low, high) == (0, 100), code
            assert indicator["aggregation_time"] == "average", code
            assert indicator["aggregation_agencies"] == "average", code
            assert indicator["unit"] == "%", code
        if value_type == "boolean":
            assert (indicator["aggregation_time"], indicator["aggregation_agencies"]) == ("last", "none")
        if value_type == "text":
            assert (indicator["aggregation_time"], indicator["aggregation_agencies"]) == ("none", "none")
            assert indicator["required"] is False, code
        if indicator["unit"] in {"triệu đồng", "triệu USD"}:  # money is a flow
            assert (indicator["aggregation_time"], indicator["aggregation_agencies"]) == ("sum", "sum")
        if indicator["unit"] == "thuê bao":  # subscribers are a stock
            assert (indicator["aggregation_time"], indicator["aggregation_agencies"]) == ("last", "sum")


def test_every_value_type_is_used(indicators: dict[str, dict[str, Any]]) -> None:
    assert {indicator["value_type"] for indicator in indicators.values()} == VALUE_TYPES


def test_domain_accepts_indicators(indicators: dict[str, dict[str, Any]]) -> None:
    for data in indicators.values():
        Indicator.from_dict(data)


# --------------------------------------------------------------------------- rules


def test_rules(rules: list[dict[str, Any]], indicators: dict[str, dict[str, Any]]) -> None:
    assert len(rules) >= 8
    for rule in rules:
        assert set(rule) == {
            "code",
            "description_vi",
            "description_en",
            "left",
            "operator",
            "right",
            "severity",
        }
        assert rule["operator"] in OPERATORS
        assert rule["severity"] in SEVERITIES
        codes = []
        for side in (rule["left"], rule["right"]):
            assert len(side) == 1, rule["code"]
            assert next(iter(side)) in {"indicator", "sum", "constant"}, rule["code"]
            if "constant" in side:
                assert isinstance(side["constant"], int | float)
            if "sum" in side:
                assert len(side["sum"]) >= 2
            codes += expression_codes(side)
        assert codes, f"{rule['code']} names no indicator"
        for code in codes:
            assert code in indicators, f"{rule['code']}: unknown {code}"
            assert indicators[code]["value_type"] in NUMERIC_TYPES, f"{rule['code']}: {code}"
        Rule.from_dict(rule)


def test_rules_apply_to_some_form(rules: list[dict[str, Any]], templates: list[dict[str, Any]]) -> None:
    """A rule applies where all its indicators are on one form (base included)."""
    by_code = {template["code"]: template for template in templates}
    forms: list[set[str]] = []
    for template in templates:
        base = by_code.get(template["base"]) if template["base"] else None
        base_codes = {c for v in base["versions"] for c in v["indicators"]} if base else set()
        for version in template["versions"]:
            forms.append(set(version["indicators"]) | base_codes)
    for rule in rules:
        needed = set(expression_codes(rule["left"]) + expression_codes(rule["right"]))
        assert any(needed <= form for form in forms), rule["code"]


# ----------------------------------------------------------------------- templates


def test_templates(
    templates: list[dict[str, Any]],
    indicators: dict[str, dict[str, Any]],
    agency_by_code: dict[str, dict[str, Any]],
) -> None:
    by_code = {template["code"]: template for template in templates}
    assert {"UNIFIED-PROVINCIAL", "MINISTRY-UNIT-BASE"} <= set(by_code)
    for template in templates:
        code = template["code"]
        assert template["name_vi"], code
        assert template["name_en"], code
        assert template["versions"], code
        assert [v["version"] for v in template["versions"]] == list(range(1, len(template["versions"]) + 1)), code
        starts = [month_code(v["effective_from"]) for v in template["versions"]]
        assert starts == sorted(starts), code
        assert len(set(starts)) == len(starts), code
        for version in template["versions"]:
            listed = version["indicators"]
            assert listed, code
            assert len(set(listed)) == len(listed), f"{code} v{version['version']} repeats"
            unknown = [c for c in listed if c not in indicators]
            assert not unknown, f"{code}: {unknown}"
        applies_to = template["applies_to"]
        if applies_to in KINDS:
            assert template.get("base") is None, code
        else:
            assert agency_by_code[applies_to]["kind"] == "ministry_unit", code
            assert code == f"UNIT-{applies_to}"
            assert template["base"] == "MINISTRY-UNIT-BASE"
            base = by_code[template["base"]]
            base_codes = {c for v in base["versions"] for c in v["indicators"]}
            for version in template["versions"]:
                assert not base_codes & set(version["indicators"]), f"{code} repeats its base"


def test_unified_provincial_template(templates: list[dict[str, Any]], indicators: dict[str, dict[str, Any]]) -> None:
    template = next(t for t in templates if t["code"] == "UNIFIED-PROVINCIAL")
    assert template["applies_to"] == "provincial_department"
    v1, v2 = template["versions"][:2]
    assert v1["effective_from"] == "2024-01"
    assert v2["effective_from"] == "2025-07"
    assert len(v1["indicators"]) >= 60
    assert set(v1["indicators"]) - set(v2["indicators"]), "v2 drops something"
    assert set(v2["indicators"]) - set(v1["indicators"]), "v2 adds something"
    for version in (v1, v2):
        groups = {indicators[c]["group"] for c in version["indicators"]}
        assert groups == GROUPS
    required = {code for code, ind in indicators.items() if ind["required"]}
    assert required & set(v1["indicators"])


def test_ministry_unit_templates(templates: list[dict[str, Any]]) -> None:
    base = next(t for t in templates if t["code"] == "MINISTRY-UNIT-BASE")
    assert base["applies_to"] == "ministry_unit"
    per_unit = [t for t in templates if t.get("base") == "MINISTRY-UNIT-BASE"]
    assert len(per_unit) >= 3


# -------------------------------------------------------------- report definitions


def test_report_definitions(
    report_definitions: list[dict[str, Any]],
    indicators: dict[str, dict[str, Any]],
    templates: list[dict[str, Any]],
) -> None:
    assert len(report_definitions) >= 10
    collected = {c for t in templates for v in t["versions"] for c in v["indicators"]}
    for definition in report_definitions:
        code = definition["code"]
        assert set(definition) == {"code", "name_vi", "name_en", "period_kind", "scope", "indicators"}
        assert definition["period_kind"] in PERIOD_KINDS, code
        assert definition["scope"] in SCOPES, code
        listed = definition["indicators"]
        assert listed, code
        assert len(set(listed)) == len(listed), code
        for indicator in listed:
            assert indicator in indicators, f"{code}: unknown {indicator}"
            assert indicator in collected, f"{code}: {indicator} is on no template"
    assert {d["period_kind"] for d in report_definitions} == PERIOD_KINDS
    assert {d["scope"] for d in report_definitions} == SCOPES
    covered = {indicators[c]["group"] for d in report_definitions for c in d["indicators"]}
    assert covered == GROUPS


# -------------------------------------------------------------------------- regime


def test_regime() -> None:
    regime = load("regime.json")
    assert regime["code"] == "TT02-2023"
    assert regime["name_vi"]
    assert regime["name_en"]
    assert regime["deadlines"] == {
        "month": {"day": 15},
        "quarter": {"day": 6},
        "half_year": {"month": 6, "day": 6},
        "year": {"month": 11, "day": 25},
    }
