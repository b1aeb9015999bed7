"""The national feed: packages built from the domain validate against their shipped schemas; figures read back."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from domain.periods import Period, PeriodKind, ReportingRegime
from domain.submission import Status
from services.interchange import qcvn125
from services.interchange.qcvn125 import (
    FIELD_NAMES,
    FeedError,
    FiguresReport,
    Package,
    StatusReport,
    encode,
    generated_schema,
    indicator_catalogue_package,
    read_report_figures,
    regime_package,
    report_figures_package,
    report_form_package,
    report_status_package,
    reporting_periods_package,
    schema_text,
    shipped_schema,
    validation_errors,
)
from services.interchange.rows import Row, SourceError, SourceValue
from tests.unit.interchange_support import ROOT, catalogue, fixture, form, indicators, seed, templates

CATALOGUE = indicators()
REGIME = ReportingRegime.from_dict(seed("regime.json"))
# Made-up electronic identifier codes for the tests (the seed agencies carry none).
ELECTRONIC_CODES = {"P01": "000.00.00.H26", "P04": "000.00.00.H12", "MIC-VNTA": "000.00.12.G22"}
AT = datetime(2026, 10, 12, 8, 0, tzinfo=UTC)
SCHEMAS = ROOT / "services" / "interchange" / "schemas" / "qcvn125"


def errors(rows: list[Row]) -> list[tuple[str, str]]:
    return [(r.location, r.code) for r in rows if isinstance(r, SourceError)]


def wire_names(document: Any) -> set[str]:
    if isinstance(document, dict):
        return set(document) | {name for value in document.values() for name in wire_names(value)}
    if isinstance(document, list):
        return {name for item in document for name in wire_names(item)}
    return set()


def all_packages() -> dict[Package, dict[str, Any]]:
    forms = [
        (templates()["UNIFIED-PROVINCIAL"], form("UNIFIED-PROVINCIAL", "2025-01")),
        (templates()["UNIFIED-PROVINCIAL"], form("UNIFIED-PROVINCIAL", "2026-10")),
        (templates()["UNIT-MIC-VNTA"], form("UNIT-MIC-VNTA", "2026-10")),
    ]
    year = Period.whole_year(2026)
    periods = [*year.months(), *(Period.quarter(2026, q) for q in range(1, 5)), Period.half_year(2026, 1), year]
    figures = [
        FiguresReport(
            "P01",
            "2026-10",
            "UNIFIED-PROVINCIAL",
            2,
            [
                SourceValue("", "P01", "2026-10", "TEL.MOBILE_SUBSCRIBERS", 8450123),
                SourceValue("", "P01", "2026-10", "TEL.REVENUE", Decimal("12345.67"), "Số liệu ước tính"),
                SourceValue("", "P01", "2026-10", "DX.HAS_APPROVED_PLAN", False),
                SourceValue("", "P01", "2026-10", "DX.NOTES", "Ghi chú"),
            ],
        )
    ]
    statuses = [
        StatusReport("P01", "2026-10", "UNIFIED-PROVINCIAL", 2, Status.SUBMITTED, date(2026, 10, 14)),
        StatusReport("P04", "2026-10", "UNIFIED-PROVINCIAL", 2, Status.DRAFT),
        StatusReport("MIC-VNTA", "2026Q3", "UNIT-MIC-VNTA", 2, Status.APPROVED, date(2026, 9, 20)),
    ]
    return {
        Package.REPORTING_REGIME: regime_package(REGIME, generated_at=AT, sender="000.00.00.G22"),
        Package.REPORT_FORM: report_form_package(forms, generated_at=AT),
        Package.REPORTING_PERIODS: reporting_periods_package(REGIME, periods, generated_at=AT),
        Package.INDICATOR_CATALOGUE: indicator_catalogue_package(catalogue().indicators.values(), generated_at=AT),
        Package.REPORT_FIGURES: report_figures_package(figures, ELECTRONIC_CODES, generated_at=AT),
        Package.REPORT_STATUS: report_status_package(
            statuses, REGIME, ELECTRONIC_CODES, as_of=date(2026, 10, 20), generated_at=AT
        ),
    }


# ---- schemas -------------------------------------------------------------------


@pytest.mark.parametrize("package", list(Package))
def test_shipped_schema_is_the_generated_one_and_a_valid_2020_12_schema(package: Package) -> None:
    path = SCHEMAS / f"{package}.schema.json"
    assert path.read_text("utf-8") == schema_text(package), "run: python -m services.interchange.qcvn125"
    schema = shipped_schema(package)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_exactly_one_schema_file_per_package() -> None:
    assert sorted(path.name for path in SCHEMAS.iterdir()) == sorted(f"{p}.schema.json" for p in Package)


@pytest.mark.parametrize("package", list(Package))
def test_built_packages_validate_against_their_schemas(package: Package) -> None:
    document = all_packages()[package]
    validator = Draft202012Validator(shipped_schema(package), format_checker=Draft202012Validator.FORMAT_CHECKER)
    assert [error.message for error in validator.iter_errors(json.loads(encode(document)))] == []
    assert document["package"] == str(package)
    assert document["version"] == 1
    # Every name on the wire comes from the one field table.
    assert wire_names(document) <= set(FIELD_NAMES.values())


@pytest.mark.parametrize(
    ("package", "change"),
    [
        (Package.INDICATOR_CATALOGUE, lambda d: d["indicators"][0].update(valueType="money")),
        (Package.REPORT_FIGURES, lambda d: d["reports"][0].update(agencyId="P01")),
        (Package.REPORT_FIGURES, lambda d: d["reports"][0]["figures"][1].update(value=12345.67)),
        (Package.REPORT_STATUS, lambda d: d["statuses"][0].update(deadline="15/10/2026")),
        (Package.REPORTING_PERIODS, lambda d: d["periods"][0].update(periodCode="202601")),
        (Package.REPORT_FORM, lambda d: d["forms"][0].update(formHash="abc")),
        (Package.REPORTING_REGIME, lambda d: d.update(surprise=True)),
        (Package.REPORTING_REGIME, lambda d: d.update(version=2)),
    ],
)
def test_schemas_catch_broken_packages(package: Package, change: Any) -> None:
    document = json.loads(encode(all_packages()[package]))
    change(document)
    assert validation_errors(document, package) != []


def test_a_replacement_field_table_changes_builders_and_schemas_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    conformant = {**FIELD_NAMES, "indicator.code": "maChiTieu", "indicators": "danhMucChiTieu"}
    monkeypatch.setattr(qcvn125, "FIELD_NAMES", conformant)
    document = indicator_catalogue_package(list(catalogue().indicators.values())[:2], generated_at=AT)
    assert document["danhMucChiTieu"][0]["maChiTieu"] == "POS.LICENSED_ENTERPRISES"
    schema = generated_schema(Package.INDICATOR_CATALOGUE)
    assert "maChiTieu" in schema["properties"]["danhMucChiTieu"]["items"]["required"]
    Draft202012Validator(schema).validate(document)


# ---- builders ------------------------------------------------------------------


def test_regime_and_periods_carry_deadlines_and_cutoff_windows() -> None:
    packages = all_packages()
    regime = packages[Package.REPORTING_REGIME]["regime"]
    assert regime["regimeCode"] == "TT02-2023"
    assert regime["deadlines"][0] == {"periodType": "month", "monthOffset": None, "day": 15}
    assert packages[Package.REPORTING_REGIME]["senderId"] == "000.00.00.G22"
    january = packages[Package.REPORTING_PERIODS]["periods"][0]
    assert january == {
        "periodCode": "2026-01",
        "periodType": "month",
        "dataFrom": "2025-12-15",
        "dataTo": "2026-01-14",
        "deadline": "2026-01-15",
    }


def test_forms_catalogue_figures_and_status() -> None:
    packages = all_packages()
    first_form = packages[Package.REPORT_FORM]["forms"][0]
    assert (first_form["formCode"], first_form["formVersion"], first_form["effectiveFrom"]) == (
        "UNIFIED-PROVINCIAL",
        1,
        "2024-01",
    )
    assert first_form["indicators"][0] == {"position": 1, "indicatorCode": "POS.LICENSED_ENTERPRISES", "required": True}
    unit_form = packages[Package.REPORT_FORM]["forms"][2]
    assert unit_form["indicators"][0]["indicatorCode"] == next(iter(form("UNIT-MIC-VNTA", "2026-10").indicators))
    indicator = next(
        i
        for i in packages[Package.INDICATOR_CATALOGUE]["indicators"]
        if i["indicatorCode"] == "TEL.HOUSEHOLDS_FIBRE_PCT"
    )
    assert (indicator["valueType"], indicator["minimum"], indicator["maximum"]) == ("percentage", "0", "100")
    figures = packages[Package.REPORT_FIGURES]["reports"][0]
    assert figures["agencyId"] == "000.00.00.H26"
    assert figures["figures"][1] == {"indicatorCode": "TEL.REVENUE", "value": "12345.67", "note": "Số liệu ước tính"}
    submitted, draft, approved = packages[Package.REPORT_STATUS]["statuses"]
    assert (submitted["deadline"], submitted["late"], submitted["daysLate"]) == ("2026-10-15", False, 0)
    assert (draft["submittedOn"], draft["late"], draft["daysLate"]) == (None, True, 5)  # as of 20 October
    assert (approved["periodCode"], approved["deadline"], approved["late"], approved["daysLate"]) == (
        "2026Q3",
        "2026-09-06",
        True,
        14,
    )


def test_builders_refuse_what_they_cannot_name() -> None:
    report = FiguresReport(
        "P96", "2026-10", "UNIFIED-PROVINCIAL", 2, [SourceValue("", "P96", "2026-10", "POS.ITEMS", 1)]
    )
    with pytest.raises(FeedError, match="P96 has no electronic identifier code"):
        report_figures_package([report], ELECTRONIC_CODES)
    with pytest.raises(ValueError, match="capitals"):
        report_figures_package([report], {"P96": "000.00.00.h96"})
    mixed = FiguresReport(
        "P01", "2026-10", "UNIFIED-PROVINCIAL", 2, [SourceValue("", "P04", "2026-10", "POS.ITEMS", 1)]
    )
    with pytest.raises(FeedError, match="in the report of P01"):
        report_figures_package([mixed], ELECTRONIC_CODES)
    with pytest.raises(FeedError, match="template"):
        report_form_package([(templates()["UNIT-MIC-VNTA"], form())])


# ---- reading report figures -------------------------------------------------------


def test_reads_report_figures() -> None:
    rows = list(read_report_figures(fixture("qcvn_figures.json"), CATALOGUE, ELECTRONIC_CODES))
    assert errors(rows) == []
    assert [
        (r.location, r.agency, r.period, r.indicator, r.value, r.comment) for r in rows if isinstance(r, SourceValue)
    ] == [
        ("reports[0].figures[0]", "P01", "2026-10", "TEL.MOBILE_SUBSCRIBERS", 8450123, None),
        (
            "reports[0].figures[1]",
            "P01",
            "2026-10",
            "TEL.REVENUE",
            Decimal("12345.67"),
            "Số liệu ước tính của doanh nghiệp",
        ),
        ("reports[0].figures[2]", "P01", "2026-10", "DX.HAS_APPROVED_PLAN", True, None),
        ("reports[0].figures[3]", "P01", "2026-10", "DX.NOTES", "Đã triển khai nền tảng dữ liệu dùng chung", None),
        ("reports[1].figures[0]", "P04", "2026-10", "TEL.MOBILE_SUBSCRIBERS", 512000, None),
    ]


def test_partly_invalid_figures() -> None:
    rows = list(read_report_figures(fixture("qcvn_figures_partly_invalid.json"), CATALOGUE, ELECTRONIC_CODES))
    assert errors(rows) == [
        ("reports[0].figures[1]", "invalid-value"),  # a decimal as a JSON number: decimals are strings
        ("reports[0].figures[2]", "missing-field"),
        ("reports[0].figures[3]", "out-of-range"),
        ("reports[1].figures[0]", "unmapped-agency"),
        ("reports[1].figures[1]", "unmapped-agency"),
        ("reports[2].figures[0]", "invalid-agency"),
    ]
    assert [(r.location, r.agency, r.value) for r in rows if isinstance(r, SourceValue)] == [
        ("reports[0].figures[0]", "P01", 8450123),
        ("reports[0].figures[4]", "P01", Decimal("250.5")),
        ("reports[3].figures[0]", "P04", 512000),
    ]


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (fixture("qcvn_wrong_package.json"), "wrong-package"),
        (fixture("qcvn_bad_envelope.json"), "invalid-package"),
        (b'{"package": "report-figures", "version": 2, "reports": []}', "unsupported-version"),
        (b'{"reports": []}', "not-a-package"),
        (b"[1, 2", "invalid-json"),
        ('{"package": "report-figures", "note": "Ghi chú"}'.encode("cp1258"), "invalid-encoding"),
    ],
)
def test_packages_refused_whole(data: bytes, code: str) -> None:
    rows = list(read_report_figures(data, CATALOGUE, ELECTRONIC_CODES))
    assert len(rows) == 1
    assert isinstance(rows[0], SourceError)
    assert (rows[0].location, rows[0].code, rows[0].fatal) == ("document", code, True)


def test_figures_round_trip() -> None:
    originals = [
        r
        for r in read_report_figures(fixture("qcvn_figures.json"), CATALOGUE, ELECTRONIC_CODES)
        if isinstance(r, SourceValue)
    ]
    reports = [
        FiguresReport(agency, "2026-10", "UNIFIED-PROVINCIAL", 2, [v for v in originals if v.agency == agency])
        for agency in ("P01", "P04")
    ]
    data = encode(report_figures_package(reports, ELECTRONIC_CODES, generated_at=AT))
    again = [r for r in read_report_figures(data, CATALOGUE, ELECTRONIC_CODES) if isinstance(r, SourceValue)]
    assert [(r.agency, r.period, r.indicator, r.value, r.comment) for r in again] == [
        (r.agency, r.period, r.indicator, r.value, r.comment) for r in originals
    ]


# ---- documentation ---------------------------------------------------------------


def generated_section(name: str) -> str:
    text = (ROOT / "docs" / "INTERCHANGE.md").read_text("utf-8")
    start, end = f"<!-- generated:{name}:start -->", f"<!-- generated:{name}:end -->"
    assert start in text, f"docs/INTERCHANGE.md lacks the {name} section"
    return text.split(start, 1)[1].split(end, 1)[0].strip()


def test_docs_hold_the_package_fields_of_this_module() -> None:
    assert generated_section("qcvn125-fields") == qcvn125.fields_markdown().strip()


def test_docs_hold_every_error_code() -> None:
    from services.interchange.rows import error_codes_markdown

    assert generated_section("error-codes") == error_codes_markdown().strip()


def test_period_kinds_are_the_domain_ones() -> None:
    schema = shipped_schema(Package.REPORTING_PERIODS)
    kinds = schema["properties"]["periods"]["items"]["properties"]["periodType"]["enum"]
    assert kinds == [str(kind) for kind in PeriodKind]


def test_schema_files_are_package_data() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text("utf-8")
    assert '"services.interchange" = ["schemas/**/*.json"]' in pyproject
