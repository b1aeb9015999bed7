"""The feed to the national reporting system, shaped on the package set of QCVN 125:2021/BTTTT.

QCVN 125:2021/BTTTT sets the packages that reporting systems exchange with the national
reporting information system: the reporting regime, report forms, the reporting-period
catalogue, the indicator catalogue, report figures and report status. Its official field tables
are not available to this project, so the packages here are this system's own, documented and
versioned: every package is a JSON object `{"package": "<name>", "version": 1, ...}`.

Every field name of the feed lives in `FIELD_NAMES` below (this module's key -> the name on the
wire), and nowhere else: builders, the reader, the shipped JSON Schemas
(`schemas/qcvn125/<package>.schema.json`, generated from `PACKAGES`) and the field tables of
docs/INTERCHANGE.md all come from it, so a conformant mapping can later replace it in one place.

Agencies are named in the feed by their electronic identifier code (QCVN 102:2016), given by
the caller as a mapping of agency code -> electronic code. Values are written as the integration
events write them: integers and booleans as JSON, decimals as strings (exact), text as strings.

Regenerate the schemas after changing a field: `python -m services.interchange.qcvn125`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Container, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from functools import cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from domain.catalogue import Indicator, IndicatorGroup
from domain.identifiers import MAX_LENGTH as ELECTRONIC_CODE_LENGTH
from domain.identifiers import parse_electronic_code
from domain.periods import Period, PeriodKind, ReportingRegime
from domain.rules import Severity
from domain.submission import Status
from domain.templates import Form, Template
from domain.values import Aggregation, ValueType, normalize_decimal, value_to_json
from services.interchange.cells import ValueReader, from_json, printable, shown
from services.interchange.rows import ReportedValue, Row, SourceError, error_codes_markdown
from services.interchange.textio import Source, binary_stream
from services.interchange.workbook import form_hash

PACKAGE_VERSION = 1
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


class Package(StrEnum):
    REPORTING_REGIME = "reporting-regime"
    REPORT_FORM = "report-form"
    REPORTING_PERIODS = "reporting-period-catalogue"
    INDICATOR_CATALOGUE = "indicator-catalogue"
    REPORT_FIGURES = "report-figures"
    REPORT_STATUS = "report-status"


# This module's key -> the field's name on the wire. The one place a field name is written.
FIELD_NAMES: Mapping[str, str] = MappingProxyType(
    {
        # every package
        "package": "package",
        "version": "version",
        "generated_at": "generatedAt",
        "sender": "senderId",
        # reporting-regime
        "regime": "regime",
        "regime.code": "regimeCode",
        "regime.name_vi": "nameVi",
        "regime.name_en": "nameEn",
        "regime.deadlines": "deadlines",
        "deadline.period_type": "periodType",
        "deadline.month": "monthOffset",
        "deadline.day": "day",
        # report-form
        "forms": "forms",
        "form.code": "formCode",
        "form.version": "formVersion",
        "form.name_vi": "nameVi",
        "form.name_en": "nameEn",
        "form.applies_to": "appliesTo",
        "form.effective_from": "effectiveFrom",
        "form.hash": "formHash",
        "form.indicators": "indicators",
        "form_indicator.position": "position",
        "form_indicator.code": "indicatorCode",
        "form_indicator.required": "required",
        "form.rules": "rules",
        "rule.code": "ruleCode",
        "rule.description_vi": "descriptionVi",
        "rule.severity": "severity",
        # reporting-period-catalogue
        "periods.regime": "regimeCode",
        "periods": "periods",
        "period.code": "periodCode",
        "period.type": "periodType",
        "period.data_from": "dataFrom",
        "period.data_to": "dataTo",
        "period.deadline": "deadline",
        # indicator-catalogue
        "indicators": "indicators",
        "indicator.code": "indicatorCode",
        "indicator.name_vi": "nameVi",
        "indicator.name_en": "nameEn",
        "indicator.group": "group",
        "indicator.unit": "unit",
        "indicator.value_type": "valueType",
        "indicator.minimum": "minimum",
        "indicator.maximum": "maximum",
        "indicator.aggregation_time": "aggregationOverTime",
        "indicator.aggregation_agencies": "aggregationOverAgencies",
        "indicator.required": "required",
        # report-figures
        "reports": "reports",
        "report.agency_id": "agencyId",
        "report.period": "periodCode",
        "report.form_code": "formCode",
        "report.form_version": "formVersion",
        "report.figures": "figures",
        "figure.indicator": "indicatorCode",
        "figure.value": "value",
        "figure.note": "note",
        # report-status
        "statuses": "statuses",
        "status.agency_id": "agencyId",
        "status.period": "periodCode",
        "status.form_code": "formCode",
        "status.form_version": "formVersion",
        "status.status": "status",
        "status.deadline": "deadline",
        "status.submitted_on": "submittedOn",
        "status.late": "late",
        "status.days_late": "daysLate",
    }
)


def _n(key: str) -> str:
    return FIELD_NAMES[key]


# ---- field specifications (the schemas and the docs are generated from these) ----


@dataclass(frozen=True)
class Field:
    key: str  # a key of FIELD_NAMES
    schema: Mapping[str, Any] | Object
    description: str
    required: bool = True


@dataclass(frozen=True)
class Object:
    title: str
    fields: tuple[Field, ...]
    many: bool = False  # an array of these objects

    def schema(self) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        for field in self.fields:
            value = field.schema.schema() if isinstance(field.schema, Object) else dict(field.schema)
            properties[_n(field.key)] = {"description": field.description, **value}
        item = {
            "type": "object",
            "title": self.title,
            "additionalProperties": False,
            "required": [_n(field.key) for field in self.fields if field.required],
            "properties": properties,
        }
        return {"type": "array", "items": item} if self.many else item


def _enum(values: Iterable[str]) -> dict[str, Any]:
    return {"type": "string", "enum": list(values)}


CODE = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[!-.0-~]+$"}  # printable ASCII, no space or /
ELECTRONIC_CODE = {
    "type": "string",
    "maxLength": ELECTRONIC_CODE_LENGTH,
    "pattern": "^[0-9A-Z]+(\\.[0-9A-Z]+)+$",
}
PERIOD_CODE = {"type": "string", "pattern": "^[0-9]{4}(-(0[1-9]|1[0-2])|Q[1-4]|S[12])?$"}
MONTH_CODE = {"type": "string", "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])$"}
DATE = {"type": "string", "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
DATE_TIME = {
    "type": "string",
    "format": "date-time",
    "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}",
}
TEXT = {"type": "string"}
POSITIVE = {"type": "integer", "minimum": 1}
DECIMAL_TEXT = {"type": ["string", "null"], "pattern": "^-?[0-9]+(\\.[0-9]+)?$"}
PERIOD_TYPE = _enum(PeriodKind)

_ENVELOPE = (
    Field("package", {}, "The package's name (the same as the schema's)."),
    Field("version", {}, "The package format's version."),
    Field("generated_at", DATE_TIME, "When the package was made (UTC)."),
    Field("sender", ELECTRONIC_CODE, "Electronic identifier code of the sending agency.", required=False),
)

_DEADLINE = Object(
    "Deadline rule",
    (
        Field("deadline.period_type", PERIOD_TYPE, "The kind of period the rule is for."),
        Field(
            "deadline.month",
            {"type": ["integer", "null"], "minimum": 1, "maximum": 24},
            "Month of the deadline, counted from the period's first month (1); null: the period's last month.",
        ),
        Field(
            "deadline.day",
            {"type": "integer", "minimum": 1, "maximum": 31},
            "Day of that month (past its end: the last day).",
        ),
    ),
    many=True,
)
_RULE = Object(
    "Validation rule",
    (
        Field("rule.code", CODE, "The rule's code."),
        Field("rule.description_vi", TEXT, "What the rule checks, in Vietnamese."),
        Field("rule.severity", _enum(Severity), "error: blocks submission; warning: shown only."),
    ),
    many=True,
)
_FORM_INDICATOR = Object(
    "Indicator on a form",
    (
        Field("form_indicator.position", POSITIVE, "Order on the form, from 1."),
        Field("form_indicator.code", CODE, "The indicator's code (see indicator-catalogue)."),
        Field("form_indicator.required", {"type": "boolean"}, "Whether a report must give it."),
    ),
    many=True,
)
_FIGURE = Object(
    "Figure",
    (
        Field("figure.indicator", CODE, "The indicator's code."),
        Field(
            "figure.value",
            {"type": ["integer", "string", "boolean"]},
            "The value: integer and boolean as JSON; decimal and percentage as a string of digits (exact); "
            "text as a string.",
        ),
        Field(
            "figure.note", {"type": ["string", "null"], "maxLength": 4000}, "The reporter's comment.", required=False
        ),
    ),
    many=True,
)


@dataclass(frozen=True)
class PackageSpec:
    name: Package
    title: str
    description: str
    body: tuple[Field, ...]

    def schema(self) -> dict[str, Any]:
        envelope = Object(self.title, (*_ENVELOPE, *self.body)).schema()
        envelope["properties"][_n("package")] = {"description": _ENVELOPE[0].description, "const": str(self.name)}
        envelope["properties"][_n("version")] = {"description": _ENVELOPE[1].description, "const": PACKAGE_VERSION}
        return {
            "$schema": SCHEMA_DIALECT,
            "$id": f"urn:reporting:qcvn125:{self.name}:v{PACKAGE_VERSION}",
            "description": self.description,
            **envelope,
        }


PACKAGES: Mapping[Package, PackageSpec] = MappingProxyType(
    {
        spec.name: spec
        for spec in (
            PackageSpec(
                Package.REPORTING_REGIME,
                "Reporting regime",
                "A reporting regime (chế độ báo cáo) and its deadline rules per period kind.",
                (
                    Field(
                        "regime",
                        Object(
                            "Regime",
                            (
                                Field("regime.code", {"type": "string", "minLength": 1}, "The regime's code."),
                                Field("regime.name_vi", TEXT, "The official (Vietnamese) name."),
                                Field(
                                    "regime.name_en", {"type": ["string", "null"]}, "An English name.", required=False
                                ),
                                Field("regime.deadlines", _DEADLINE, "One deadline rule per period kind reported."),
                            ),
                        ),
                        "The regime.",
                    ),
                ),
            ),
            PackageSpec(
                Package.REPORT_FORM,
                "Report forms",
                "Report forms (biểu mẫu báo cáo): versions of templates with their indicators and rules.",
                (
                    Field(
                        "forms",
                        Object(
                            "Report form",
                            (
                                Field("form.code", CODE, "The template's code."),
                                Field("form.version", POSITIVE, "The template version."),
                                Field("form.name_vi", TEXT, "The template's Vietnamese name."),
                                Field("form.name_en", TEXT, "The template's English name."),
                                Field("form.applies_to", TEXT, "Who fills it: an agency kind or an agency code."),
                                Field("form.effective_from", MONTH_CODE, "The first month the version applies to."),
                                Field(
                                    "form.hash",
                                    {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                                    "SHA-256 of the indicators' codes, types and ranges (as in template workbooks).",
                                ),
                                Field("form.indicators", _FORM_INDICATOR, "The indicators, in form order."),
                                Field("form.rules", _RULE, "The cross-indicator rules that apply to the form."),
                            ),
                            many=True,
                        ),
                        "The forms.",
                    ),
                ),
            ),
            PackageSpec(
                Package.REPORTING_PERIODS,
                "Reporting periods",
                "Reporting periods (kỳ báo cáo) with their data cut-off windows (Decree 09/2019/ND-CP) and deadlines.",
                (
                    Field("periods.regime", {"type": "string", "minLength": 1}, "The regime the deadlines are from."),
                    Field(
                        "periods",
                        Object(
                            "Reporting period",
                            (
                                Field("period.code", PERIOD_CODE, "Period code: 2026-10, 2026Q3, 2026S1 or 2026."),
                                Field("period.type", PERIOD_TYPE, "The kind of period."),
                                Field("period.data_from", DATE, "First day of the data the period covers."),
                                Field("period.data_to", DATE, "Last day of the data the period covers."),
                                Field("period.deadline", DATE, "Last day a report is on time."),
                            ),
                            many=True,
                        ),
                        "The periods.",
                    ),
                ),
            ),
            PackageSpec(
                Package.INDICATOR_CATALOGUE,
                "Indicator catalogue",
                "The indicators (chỉ tiêu) that can be reported, with type, unit, range and aggregation.",
                (
                    Field(
                        "indicators",
                        Object(
                            "Indicator",
                            (
                                Field("indicator.code", CODE, "The indicator's code."),
                                Field("indicator.name_vi", TEXT, "Vietnamese name."),
                                Field("indicator.name_en", TEXT, "English name."),
                                Field("indicator.group", _enum(IndicatorGroup), "The sector group."),
                                Field("indicator.unit", TEXT, "Unit of measure (Vietnamese)."),
                                Field("indicator.value_type", _enum(ValueType), "The value type."),
                                Field("indicator.minimum", DECIMAL_TEXT, "Smallest allowed number, or null."),
                                Field("indicator.maximum", DECIMAL_TEXT, "Largest allowed number, or null."),
                                Field(
                                    "indicator.aggregation_time", _enum(Aggregation), "How values combine over periods."
                                ),
                                Field(
                                    "indicator.aggregation_agencies",
                                    _enum(Aggregation),
                                    "How values combine over agencies.",
                                ),
                                Field("indicator.required", {"type": "boolean"}, "Whether a report must give it."),
                            ),
                            many=True,
                        ),
                        "The indicators.",
                    ),
                ),
            ),
            PackageSpec(
                Package.REPORT_FIGURES,
                "Report figures",
                "Reported figures (số liệu báo cáo): per agency and period, the values of a form.",
                (
                    Field(
                        "reports",
                        Object(
                            "Report",
                            (
                                Field("report.agency_id", ELECTRONIC_CODE, "Electronic identifier code of the agency."),
                                Field("report.period", PERIOD_CODE, "The reporting period."),
                                Field("report.form_code", CODE, "The template's code."),
                                Field("report.form_version", POSITIVE, "The template version."),
                                Field("report.figures", _FIGURE, "The values."),
                            ),
                            many=True,
                        ),
                        "The reports.",
                    ),
                ),
            ),
            PackageSpec(
                Package.REPORT_STATUS,
                "Report status",
                "Where each report stands (tình trạng báo cáo) and whether it is late.",
                (
                    Field(
                        "statuses",
                        Object(
                            "Report status",
                            (
                                Field("status.agency_id", ELECTRONIC_CODE, "Electronic identifier code of the agency."),
                                Field("status.period", PERIOD_CODE, "The reporting period."),
                                Field("status.form_code", CODE, "The template's code."),
                                Field("status.form_version", POSITIVE, "The template version."),
                                Field("status.status", _enum(Status), "The report's lifecycle status."),
                                Field("status.deadline", DATE, "Last day the report is on time."),
                                Field(
                                    "status.submitted_on",
                                    {**DATE, "type": ["string", "null"]},
                                    "Vietnamese date of the last submission, or null.",
                                ),
                                Field(
                                    "status.late",
                                    {"type": "boolean"},
                                    "Submitted after the deadline, or not submitted and the deadline has passed.",
                                ),
                                Field(
                                    "status.days_late",
                                    {"type": "integer", "minimum": 0},
                                    "Calendar days past the deadline.",
                                ),
                            ),
                            many=True,
                        ),
                        "The statuses.",
                    ),
                ),
            ),
        )
    }
)


def generated_schema(package: Package | str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a package, from the field specifications."""
    return PACKAGES[Package(package)].schema()


def schema_file(package: Package | str) -> str:
    return f"{Package(package)}.schema.json"


@cache
def shipped_schema(package: Package | str) -> Mapping[str, Any]:
    """The schema shipped with the package (what the reader validates with, and what partners get)."""
    path = resources.files("services.interchange").joinpath("schemas", "qcvn125", schema_file(package))
    loaded: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return loaded


@cache
def _validator(package: Package) -> Draft202012Validator:
    return Draft202012Validator(shipped_schema(package), format_checker=Draft202012Validator.FORMAT_CHECKER)


def validation_errors(document: object, package: Package | str) -> list[ValidationError]:
    """Every way `document` breaks the package's shipped schema (empty when it conforms)."""
    return sorted(_validator(Package(package)).iter_errors(document), key=lambda error: list(map(str, error.path)))


# ---- builders ------------------------------------------------------------------


def _envelope(package: Package, generated_at: datetime | None, sender: str | None) -> dict[str, Any]:
    moment = (generated_at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    document: dict[str, Any] = {
        _n("package"): str(package),
        _n("version"): PACKAGE_VERSION,
        _n("generated_at"): moment.isoformat().replace("+00:00", "Z"),
    }
    if sender is not None:
        document[_n("sender")] = parse_electronic_code(sender)
    return document


def _decimal(number: Decimal | None) -> str | None:
    return None if number is None else format(normalize_decimal(number), "f")


class FeedError(ValueError):
    """A package that cannot be built from what was given (an agency without an electronic code...)."""


def _electronic_code(agency: str, electronic_codes: Mapping[str, str]) -> str:
    code = electronic_codes.get(agency)
    if code is None:
        raise FeedError(f"agency {agency} has no electronic identifier code")
    return parse_electronic_code(code)


def regime_package(
    regime: ReportingRegime, *, generated_at: datetime | None = None, sender: str | None = None
) -> dict[str, Any]:
    document = _envelope(Package.REPORTING_REGIME, generated_at, sender)
    body: dict[str, Any] = {_n("regime.code"): regime.code, _n("regime.name_vi"): regime.name}
    if regime.name_en is not None:
        body[_n("regime.name_en")] = regime.name_en
    body[_n("regime.deadlines")] = [
        {
            _n("deadline.period_type"): str(kind),
            _n("deadline.month"): regime.deadlines[kind].month,
            _n("deadline.day"): regime.deadlines[kind].day,
        }
        for kind in PeriodKind
        if kind in regime.deadlines
    ]
    document[_n("regime")] = body
    return document


def report_form_package(
    forms: Iterable[tuple[Template, Form]], *, generated_at: datetime | None = None, sender: str | None = None
) -> dict[str, Any]:
    """Each (template, form): the form is a version of the template, resolved against the catalogue."""
    document = _envelope(Package.REPORT_FORM, generated_at, sender)
    entries = []
    for template, form in forms:
        if template.code != form.template:
            raise FeedError(f"form of {form.template} given with template {template.code}")
        version = template.version_number(form.version)
        entries.append(
            {
                _n("form.code"): form.template,
                _n("form.version"): form.version,
                _n("form.name_vi"): template.name_vi,
                _n("form.name_en"): template.name_en,
                _n("form.applies_to"): template.applies_to,
                _n("form.effective_from"): version.effective_from,
                _n("form.hash"): form_hash(form),
                _n("form.indicators"): [
                    {
                        _n("form_indicator.position"): position,
                        _n("form_indicator.code"): indicator.code,
                        _n("form_indicator.required"): indicator.required,
                    }
                    for position, indicator in enumerate(form.indicators.values(), start=1)
                ],
                _n("form.rules"): [
                    {
                        _n("rule.code"): rule.code,
                        _n("rule.description_vi"): rule.description_vi,
                        _n("rule.severity"): str(rule.severity),
                    }
                    for rule in form.rules
                ],
            }
        )
    document[_n("forms")] = entries
    return document


def reporting_periods_package(
    regime: ReportingRegime,
    periods: Iterable[Period],
    *,
    generated_at: datetime | None = None,
    sender: str | None = None,
) -> dict[str, Any]:
    document = _envelope(Package.REPORTING_PERIODS, generated_at, sender)
    document[_n("periods.regime")] = regime.code
    rows = []
    for period in periods:
        start, end = period.cutoff_window()
        rows.append(
            {
                _n("period.code"): period.code,
                _n("period.type"): str(period.kind),
                _n("period.data_from"): start.isoformat(),
                _n("period.data_to"): end.isoformat(),
                _n("period.deadline"): regime.deadline(period).isoformat(),
            }
        )
    document[_n("periods")] = rows
    return document


def indicator_catalogue_package(
    indicators: Iterable[Indicator], *, generated_at: datetime | None = None, sender: str | None = None
) -> dict[str, Any]:
    document = _envelope(Package.INDICATOR_CATALOGUE, generated_at, sender)
    document[_n("indicators")] = [
        {
            _n("indicator.code"): indicator.code,
            _n("indicator.name_vi"): indicator.name_vi,
            _n("indicator.name_en"): indicator.name_en,
            _n("indicator.group"): str(indicator.group),
            _n("indicator.unit"): indicator.unit,
            _n("indicator.value_type"): str(indicator.value_type),
            _n("indicator.minimum"): _decimal(indicator.minimum),
            _n("indicator.maximum"): _decimal(indicator.maximum),
            _n("indicator.aggregation_time"): str(indicator.aggregation_time),
            _n("indicator.aggregation_agencies"): str(indicator.aggregation_agencies),
            _n("indicator.required"): indicator.required,
        }
        for indicator in indicators
    ]
    return document


@dataclass(frozen=True)
class FiguresReport:
    """One agency's report for one period on one form version, with its values."""

    agency: str
    period: str
    template: str
    template_version: int
    values: Sequence[ReportedValue]


def report_figures_package(
    reports: Iterable[FiguresReport],
    electronic_codes: Mapping[str, str],
    *,
    generated_at: datetime | None = None,
    sender: str | None = None,
) -> dict[str, Any]:
    """`electronic_codes`: agency code -> its electronic identifier code (every reporting agency needs one)."""
    document = _envelope(Package.REPORT_FIGURES, generated_at, sender)
    entries = []
    for report in reports:
        figures = []
        for item in report.values:
            if (item.agency, item.period) != (report.agency, report.period):
                raise FeedError(
                    f"a value of {item.agency} {item.period} in the report of {report.agency} {report.period}"
                )
            figure: dict[str, Any] = {
                _n("figure.indicator"): item.indicator,
                _n("figure.value"): value_to_json(item.value),
            }
            if item.comment:
                figure[_n("figure.note")] = item.comment
            figures.append(figure)
        entries.append(
            {
                _n("report.agency_id"): _electronic_code(report.agency, electronic_codes),
                _n("report.period"): Period.parse(report.period).code,
                _n("report.form_code"): report.template,
                _n("report.form_version"): report.template_version,
                _n("report.figures"): figures,
            }
        )
    document[_n("reports")] = entries
    return document


@dataclass(frozen=True)
class StatusReport:
    agency: str
    period: str
    template: str
    template_version: int
    status: Status
    submitted_on: date | None = None  # Vietnamese date of the last submission


def report_status_package(
    statuses: Iterable[StatusReport],
    regime: ReportingRegime,
    electronic_codes: Mapping[str, str],
    *,
    as_of: date,
    generated_at: datetime | None = None,
    sender: str | None = None,
) -> dict[str, Any]:
    """Lateness from the regime's deadlines: of the submission, or (not submitted yet) of `as_of`, a Vietnamese date."""
    document = _envelope(Package.REPORT_STATUS, generated_at, sender)
    rows = []
    for entry in statuses:
        period = Period.parse(entry.period)
        # Still a draft: late once the deadline has passed without a submission.
        day = entry.submitted_on if entry.submitted_on is not None else as_of
        rows.append(
            {
                _n("status.agency_id"): _electronic_code(entry.agency, electronic_codes),
                _n("status.period"): period.code,
                _n("status.form_code"): entry.template,
                _n("status.form_version"): entry.template_version,
                _n("status.status"): str(entry.status),
                _n("status.deadline"): regime.deadline(period).isoformat(),
                _n("status.submitted_on"): None if entry.submitted_on is None else entry.submitted_on.isoformat(),
                _n("status.late"): regime.is_late(period, day),
                _n("status.days_late"): regime.days_late(period, day),
            }
        )
    document[_n("statuses")] = rows
    return document


def encode(document: Mapping[str, Any]) -> bytes:
    """A package as UTF-8 JSON (Vietnamese kept as is, not \\u-escaped)."""
    return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")


# ---- reading report figures -----------------------------------------------------


def _error_code(error: ValidationError) -> str:
    if error.validator == "required":
        return "missing-field"
    field = error.path[-1] if error.path else None
    if field == _n("report.agency_id"):
        return "invalid-agency"
    if field == _n("report.period"):
        return "invalid-period"
    return "invalid-value"


def _where(error: ValidationError) -> str:
    path = ".".join(str(part) for part in error.path)
    # Schema messages echo the offending value, which may hold lone surrogates from JSON escapes.
    message = printable(error.message)
    return printable(f"{path}: {message}") if path else message


def read_report_figures(
    source: Source,
    indicators: Mapping[str, Indicator],
    electronic_codes: Mapping[str, str],
    *,
    agencies: Container[str] | None = None,
) -> Iterator[Row]:
    """The values of a report-figures package, with `reports[i].figures[j]` locations (counted from 0).

    The package is checked against its shipped JSON Schema first: a broken envelope refuses the
    whole package; a broken report or figure is reported there and the others are still read.
    `electronic_codes` maps agency codes to electronic identifier codes (read in reverse).
    """
    try:
        document = json.loads(binary_stream(source).read(), parse_float=Decimal)
    except UnicodeDecodeError:
        yield SourceError("document", "invalid-encoding", "the package is not UTF-8 JSON", fatal=True)
        return
    except ValueError as malformed:
        yield SourceError("document", "invalid-json", f"not well-formed JSON: {malformed}", fatal=True)
        return
    if not isinstance(document, dict) or _n("package") not in document:
        yield SourceError(
            "document", "not-a-package", f'a feed package is an object with a "{_n("package")}"', fatal=True
        )
        return
    if document[_n("package")] != str(Package.REPORT_FIGURES):
        yield SourceError(
            "document",
            "wrong-package",
            f"a {shown(str(document[_n('package')]))} package where {Package.REPORT_FIGURES} was expected",
            fatal=True,
        )
        return
    if document.get(_n("version")) != PACKAGE_VERSION:
        yield SourceError(
            "document",
            "unsupported-version",
            f"package version {document.get(_n('version'))!r}; this system reads version {PACKAGE_VERSION}",
            fatal=True,
        )
        return
    reports_name, figures_name = _n("reports"), _n("report.figures")
    report_errors: dict[int, ValidationError] = {}
    figure_errors: dict[tuple[int, int], ValidationError] = {}
    envelope_errors: list[ValidationError] = []
    for error in validation_errors(document, Package.REPORT_FIGURES):
        path = list(error.path)
        if len(path) >= 4 and path[0] == reports_name and path[2] == figures_name:
            figure_errors.setdefault((int(path[1]), int(path[3])), error)
        elif len(path) >= 2 and path[0] == reports_name:
            report_errors.setdefault(int(path[1]), error)
        else:
            envelope_errors.append(error)
    if envelope_errors:
        yield SourceError(
            "document",
            "invalid-package",
            "; ".join(_where(error) for error in envelope_errors[:5]),
            fatal=True,
        )
        return
    by_electronic_code = {code: agency for agency, code in electronic_codes.items()}
    values = ValueReader(indicators, agencies)
    for i, report in enumerate(document[reports_name]):
        figures = report.get(figures_name) if isinstance(report, dict) else None
        where = f"reports[{i}]"
        problem: SourceError | None = None
        if i in report_errors:
            error = report_errors[i]
            problem = SourceError(where, _error_code(error), _where(error))
        if not isinstance(figures, list):
            yield problem or SourceError(where, "missing-field", f"{figures_name} is missing")
            continue
        agency = by_electronic_code.get(report.get(_n("report.agency_id"), ""))
        if problem is None and agency is None:
            problem = SourceError(
                where,
                "unmapped-agency",
                f"no agency has electronic identifier code {shown(str(report.get(_n('report.agency_id'))))}",
            )
        for j, figure in enumerate(figures):
            location = f"{where}.{figures_name}[{j}]"
            if problem is not None:
                yield SourceError(location, problem.code, f"{problem.location}: {problem.message}")
            elif (i, j) in figure_errors:
                error = figure_errors[i, j]
                yield SourceError(location, _error_code(error), printable(error.message))
            else:
                yield values.read(
                    location,
                    agency,
                    report[_n("report.period")],
                    figure[_n("figure.indicator")],
                    figure[_n("figure.value")],
                    figure.get(_n("figure.note")),
                    convert=from_json,
                )


# ---- documentation and schema files ----------------------------------------------


def _type_text(schema: Mapping[str, Any] | Object) -> str:
    if isinstance(schema, Object):
        return f"list of {schema.title.lower()}" if schema.many else schema.title.lower()
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    if "enum" in schema:
        return " \\| ".join(f"`{value}`" for value in schema["enum"])
    kind = schema.get("type", "")
    kinds = kind if isinstance(kind, list) else [kind]
    text = " or ".join(str(k) for k in kinds if k)
    if schema.get("format"):
        text += f" ({schema['format']})"
    return text


def _rows(fields: Sequence[Field], prefix: str, spec: PackageSpec) -> Iterator[str]:
    for field in fields:
        name = f"{prefix}{_n(field.key)}"
        schema = field.schema
        if field.key == "package":
            schema = {"const": str(spec.name)}
        elif field.key == "version":
            schema = {"const": PACKAGE_VERSION}
        required = "yes" if field.required else "no"
        yield f"| `{name}` | {_type_text(schema)} | {required} | {field.description} |"
        if isinstance(schema, Object):
            yield from _rows(schema.fields, f"{name}{'[]' if schema.many else ''}.", spec)


def fields_markdown() -> str:
    """The field tables of every package (docs/INTERCHANGE.md holds exactly this, checked by a test)."""
    parts = []
    for spec in PACKAGES.values():
        parts.append(f"#### `{spec.name}` (version {PACKAGE_VERSION}): {spec.title}\n")
        parts.append(f"{spec.description} Schema: `services/interchange/schemas/qcvn125/{schema_file(spec.name)}`.\n")
        parts.append("| Field | Type | Required | Meaning |")
        parts.append("| --- | --- | --- | --- |")
        parts.extend(_rows((*_ENVELOPE, *spec.body), "", spec))
        parts.append("")
    return "\n".join(parts)


def schema_text(package: Package | str) -> str:
    return json.dumps(generated_schema(package), ensure_ascii=False, indent=2) + "\n"


def write_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for package in Package:
        path = directory / schema_file(package)
        path.write_text(schema_text(package), "utf-8")
        written.append(path)
    return written


def update_docs(path: Path) -> None:
    """Rewrite the generated sections of docs/INTERCHANGE.md (field tables, error codes)."""
    text = path.read_text("utf-8")
    for name, body in (("qcvn125-fields", fields_markdown()), ("error-codes", error_codes_markdown())):
        start, end = f"<!-- generated:{name}:start -->", f"<!-- generated:{name}:end -->"
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        text = f"{head}{start}\n{body.strip()}\n{end}{tail}"
    path.write_text(text, "utf-8")


if __name__ == "__main__":
    # From the repository root: regenerate the shipped schemas and the docs' generated sections.
    for written_path in write_schemas(Path(__file__).parent / "schemas" / "qcvn125"):
        sys.stdout.write(f"{written_path}\n")
    docs = Path("docs") / "INTERCHANGE.md"
    if docs.exists():
        update_docs(docs)
        sys.stdout.write(f"{docs}\n")
