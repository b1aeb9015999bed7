"""The code mapping between a DHIS2 (or ADX) data set and this system, loadable from JSON.

DHIS2 names a value by data element and category option combo, its place by organisation unit,
and its period by the data set's period type. One mapping file covers one data set:

    {
      "format": "dhis2-code-mapping",
      "version": 1,
      "dataSet": "pBOMPrpg1QX",
      "periodType": "Monthly",
      "defaultCategoryOptionCombo": "HllvX50cXC0",
      "attributeOptionCombo": null,
      "dataElements": [
        {"dataElement": "FTRrcoaog83", "categoryOptionCombo": null, "indicator": "TEL.MOBILE_SUBSCRIBERS"}
      ],
      "orgUnits": [{"orgUnit": "ImspTQPwCqd", "agency": "P01"}]
    }

An entry without a category option combo (null or left out) matches values with none or with
the default combo. The mapping is one-to-one both ways, so an export never has to choose.
"""

from __future__ import annotations

import json
from collections.abc import Container, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from domain.catalogue import Indicator
from domain.errors import DomainError
from domain.periods import InvalidPeriod, Period, PeriodKind
from domain.values import is_code
from services.interchange.cells import Converter, ValueReader, shown
from services.interchange.rows import Row, SourceError

MAPPING_FORMAT = "dhis2-code-mapping"
MAPPING_VERSION = 1
# DHIS2's own "default" category option combo has this id in every instance.
DHIS2_DEFAULT_COMBO = "HllvX50cXC0"

PERIOD_TYPES: Mapping[str, PeriodKind] = MappingProxyType(
    {
        "Monthly": PeriodKind.MONTH,
        "Quarterly": PeriodKind.QUARTER,
        "SixMonthly": PeriodKind.HALF_YEAR,
        "Yearly": PeriodKind.YEAR,
    }
)
PERIOD_TYPE_NAMES: Mapping[PeriodKind, str] = MappingProxyType({kind: name for name, kind in PERIOD_TYPES.items()})


class MappingError(ValueError):
    """A mapping file that cannot be used; the message says which entry and why."""


class UnknownMapping(DomainError):
    """A DHIS2/ADX import or export names a data set no code mapping is configured for."""

    code = "unknown-mapping"


def choose_mapping(mappings: Mapping[str, CodeMapping], data_set: str | None) -> CodeMapping:
    """The code mapping of a data set; without one named, the only one configured."""
    known = ", ".join(sorted(mappings)) or "none is configured"
    if data_set is None:
        if len(mappings) == 1:
            return next(iter(mappings.values()))
        raise UnknownMapping(f"name the DHIS2 data set whose code mapping applies (mapping=): {known}")
    found = mappings.get(data_set)
    if found is None:
        raise UnknownMapping(f"no code mapping for data set {data_set!r} (configured: {known})")
    return found


@dataclass(frozen=True, order=True)
class DataElementKey:
    data_element: str
    category_option_combo: str | None = None


@dataclass(frozen=True)
class CodeMapping:
    data_set: str
    period_type: PeriodKind
    data_elements: Mapping[DataElementKey, str]  # -> indicator code
    org_units: Mapping[str, str]  # orgUnit -> agency code
    default_category_option_combo: str = DHIS2_DEFAULT_COMBO
    attribute_option_combo: str | None = None
    _by_indicator: Mapping[str, DataElementKey] = field(init=False, repr=False, compare=False)
    _by_agency: Mapping[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _require_text(self.data_set, "dataSet")
        _require_text(self.default_category_option_combo, "defaultCategoryOptionCombo")
        if self.attribute_option_combo is not None:
            _require_text(self.attribute_option_combo, "attributeOptionCombo")
        by_indicator: dict[str, DataElementKey] = {}
        for key, indicator in self.data_elements.items():
            _require_text(key.data_element, "dataElement")
            if key.category_option_combo is not None:
                _require_text(key.category_option_combo, "categoryOptionCombo")
            if not is_code(indicator):
                raise MappingError(f"data element {key.data_element}: {indicator!r} is not an indicator code")
            if indicator in by_indicator:
                raise MappingError(
                    f"indicator {indicator} is mapped twice ({_key_text(by_indicator[indicator])} and "
                    f"{_key_text(key)}): a mapping is one-to-one"
                )
            by_indicator[indicator] = key
        by_agency: dict[str, str] = {}
        for org_unit, agency in self.org_units.items():
            _require_text(org_unit, "orgUnit")
            if not is_code(agency):
                raise MappingError(f"org unit {org_unit}: {agency!r} is not an agency code")
            if agency in by_agency:
                raise MappingError(f"agency {agency} is mapped twice ({by_agency[agency]} and {org_unit})")
            by_agency[agency] = org_unit
        # Frozen copies: a caller's dict changing later must not change the mapping.
        object.__setattr__(self, "data_elements", MappingProxyType(dict(self.data_elements)))
        object.__setattr__(self, "org_units", MappingProxyType(dict(self.org_units)))
        object.__setattr__(self, "_by_indicator", MappingProxyType(by_indicator))
        object.__setattr__(self, "_by_agency", MappingProxyType(by_agency))

    # ---- lookups -------------------------------------------------------------

    def indicator_for(self, data_element: str, category_option_combo: str | None) -> str | None:
        combo = category_option_combo or None
        exact = self.data_elements.get(DataElementKey(data_element, combo))
        if exact is not None:
            return exact
        if combo is None or combo == self.default_category_option_combo:
            return self.data_elements.get(DataElementKey(data_element, None))
        return None

    def data_element_for(self, indicator: str) -> tuple[str, str] | None:
        """(dataElement, categoryOptionCombo) of an indicator, the default combo filled in."""
        key = self._by_indicator.get(indicator)
        if key is None:
            return None
        return key.data_element, key.category_option_combo or self.default_category_option_combo

    def agency_for(self, org_unit: str) -> str | None:
        return self.org_units.get(org_unit)

    def org_unit_for(self, agency: str) -> str | None:
        return self._by_agency.get(agency)

    def accepts_attribute_option_combo(self, combo: str | None) -> bool:
        """No combo, or the mapping's (when it names none: any)."""
        if not combo or self.attribute_option_combo is None:
            return True
        return combo == self.attribute_option_combo

    @property
    def period_type_name(self) -> str:
        return PERIOD_TYPE_NAMES[self.period_type]

    # ---- JSON ----------------------------------------------------------------

    @classmethod
    def from_json(cls, text: str | bytes) -> CodeMapping:
        try:
            data = json.loads(text)
        except (ValueError, UnicodeDecodeError) as problem:
            raise MappingError(f"the mapping is not JSON: {problem}") from None
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: object) -> CodeMapping:
        if not isinstance(data, Mapping):
            raise MappingError("a mapping is a JSON object")
        known = {
            "format",
            "version",
            "dataSet",
            "periodType",
            "defaultCategoryOptionCombo",
            "attributeOptionCombo",
            "dataElements",
            "orgUnits",
        }
        unknown = sorted(set(map(str, data)) - known)
        if unknown:
            raise MappingError(f"unknown mapping field(s): {', '.join(unknown)}")
        if data.get("format") != MAPPING_FORMAT:
            raise MappingError(f'a mapping starts with "format": "{MAPPING_FORMAT}"')
        version = data.get("version")
        if isinstance(version, bool) or version != MAPPING_VERSION:  # True == 1 in Python
            raise MappingError(f"mapping version {version!r} is not supported (only {MAPPING_VERSION})")
        period_type = data.get("periodType")
        kind = PERIOD_TYPES.get(period_type) if isinstance(period_type, str) else None
        if kind is None:
            raise MappingError(f"periodType {period_type!r} is not one of {', '.join(PERIOD_TYPES)}")
        elements: dict[DataElementKey, str] = {}
        for index, entry in enumerate(
            _entries(data, "dataElements", {"dataElement", "categoryOptionCombo", "indicator"})
        ):
            key = DataElementKey(
                _text(entry, "dataElement", f"dataElements[{index}]"),
                _text(entry, "categoryOptionCombo", f"dataElements[{index}]", optional=True),
            )
            if key in elements:
                raise MappingError(f"dataElements[{index}]: {_key_text(key)} is listed twice")
            elements[key] = _text(entry, "indicator", f"dataElements[{index}]")
        org_units: dict[str, str] = {}
        for index, entry in enumerate(_entries(data, "orgUnits", {"orgUnit", "agency"})):
            org_unit = _text(entry, "orgUnit", f"orgUnits[{index}]")
            if org_unit in org_units:
                raise MappingError(f"orgUnits[{index}]: {org_unit} is listed twice")
            org_units[org_unit] = _text(entry, "agency", f"orgUnits[{index}]")
        return cls(
            data_set=_text(data, "dataSet", "mapping"),
            period_type=kind,
            data_elements=elements,
            org_units=org_units,
            default_category_option_combo=_text(data, "defaultCategoryOptionCombo", "mapping", optional=True)
            or DHIS2_DEFAULT_COMBO,
            attribute_option_combo=_text(data, "attributeOptionCombo", "mapping", optional=True),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": MAPPING_FORMAT,
            "version": MAPPING_VERSION,
            "dataSet": self.data_set,
            "periodType": self.period_type_name,
            "defaultCategoryOptionCombo": self.default_category_option_combo,
            "attributeOptionCombo": self.attribute_option_combo,
            "dataElements": [
                {"dataElement": key.data_element, "categoryOptionCombo": key.category_option_combo, "indicator": code}
                for key, code in self.data_elements.items()
            ],
            "orgUnits": [{"orgUnit": org_unit, "agency": agency} for org_unit, agency in self.org_units.items()],
        }


def _key_text(key: DataElementKey) -> str:
    if key.category_option_combo is None:
        return key.data_element
    return f"{key.data_element}.{key.category_option_combo}"


def _require_text(value: object, name: str) -> None:
    if not isinstance(value, str) or not value.strip() or value != value.strip():
        raise MappingError(f"{name} must be a non-empty code without surrounding spaces, not {value!r}")


def _entries(data: Mapping[str, Any], name: str, fields: set[str]) -> list[Mapping[str, Any]]:
    entries = data.get(name)
    if not isinstance(entries, list):
        raise MappingError(f"{name} must be a list")
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise MappingError(f"{name}[{index}] must be an object")
        unknown = sorted(set(map(str, entry)) - fields)
        if unknown:
            raise MappingError(f"{name}[{index}]: unknown field(s) {', '.join(unknown)}")
    return entries


def _text(data: Mapping[str, Any], name: str, where: str, *, optional: bool = False) -> Any:
    value = data.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise MappingError(f"{where}: {name} must be a non-empty string")
    return value


class UnsupportedPeriod(InvalidPeriod):
    """A period form of DHIS2 or ISO 8601 that this system has no reports for (a week, a day...)."""


class MappedReader:
    """Reads one DHIS2-shaped value (data element, combos, org unit, period) through a mapping.

    Shared by the DHIS2 JSON, DHIS2 CSV and ADX readers so that a code means the same in each.
    `period` is already converted (each format writes periods its own way), or the reason it could not be.
    """

    def __init__(
        self,
        mapping: CodeMapping,
        indicators: Mapping[str, Indicator],
        agencies: Container[str] | None = None,
    ) -> None:
        self.mapping = mapping
        self._values = ValueReader(indicators, agencies)

    def read(
        self,
        location: str,
        *,
        data_element: object,
        category_option_combo: object,
        attribute_option_combo: object,
        org_unit: object,
        period: Period | InvalidPeriod | None,
        raw: object,
        comment: object,
        convert: Converter,
    ) -> Row:
        def error(code: str, message: str) -> SourceError:
            return SourceError(location, code, message)

        if not isinstance(data_element, str) or not data_element.strip():
            return error("missing-field", "dataElement is missing")
        if not isinstance(org_unit, str) or not org_unit.strip():
            return error("missing-field", "orgUnit is missing")
        for name, combo in (
            ("categoryOptionCombo", category_option_combo),
            ("attributeOptionCombo", attribute_option_combo),
        ):
            if combo is not None and not isinstance(combo, str):
                return error("missing-field", f"{name} is not a string")
        if period is None:
            return error("missing-field", "period is missing")
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return error(
                "empty-value",
                "the value is empty: this system records no deletions or comment-only values",
            )
        aoc = attribute_option_combo if isinstance(attribute_option_combo, str) else None
        if not self.mapping.accepts_attribute_option_combo(aoc):
            return error(
                "unmapped-attribute-option-combo",
                f"attribute option combo {shown(str(aoc))}; the mapping takes {self.mapping.attribute_option_combo}",
            )
        coc = category_option_combo if isinstance(category_option_combo, str) else None
        indicator = self.mapping.indicator_for(data_element.strip(), coc.strip() if coc else None)
        if indicator is None:
            named = shown(data_element) if not coc else f"{shown(data_element)} with category option combo {shown(coc)}"
            return error("unmapped-data-element", f"data element {named} is not in the mapping")
        agency = self.mapping.agency_for(org_unit.strip())
        if agency is None:
            return error("unmapped-org-unit", f"org unit {shown(org_unit)} is not in the mapping")
        if isinstance(period, InvalidPeriod):
            code = "unsupported-period" if isinstance(period, UnsupportedPeriod) else "invalid-period"
            return error(code, str(period))
        if period.kind is not self.mapping.period_type:
            return error(
                "wrong-period-type",
                f"{period.code} is a {period.kind} period; data set {self.mapping.data_set} is "
                f"{self.mapping.period_type_name}",
            )
        return self._values.read(location, agency, period, indicator, raw, comment, convert=convert)
