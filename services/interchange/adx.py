"""ADX (IHE QRPH Aggregate Data Exchange) in namespace `urn:ihe:qrph:adx:2015`, read and written.

    <adx xmlns="urn:ihe:qrph:adx:2015" exported="2024-02-10T08:00:00Z">
      <group orgUnit="ImspTQPwCqd" period="2024-01-01/P1M" dataSet="pBOMPrpg1QX">
        <dataValue dataElement="FTRrcoaog83" value="1200"><annotation>a comment</annotation></dataValue>
      </group>
    </adx>

Codes go through the same `CodeMapping` as DHIS2's. Periods are ISO 8601 intervals: the first
day and a duration, P1M (month), P3M (quarter), P6M (half-year), P1Y or P12M (year), starting
on the first day of the period. A `categoryOptionCombo` attribute on a dataValue (as DHIS2
writes it) selects the mapping entry; other disaggregation attributes are refused.

Reading streams (iterparse, elements cleared as they are read). A DOCTYPE, entity or external
reference is refused before anything is read from it (defusedxml): no entity expansion bombs,
no local files pulled in. Text and boolean values are written in `value` as DHIS2 does, though
the strict ADX schema expects numbers there.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET  # building and writing only: parsing goes through defusedxml
from collections.abc import Container, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from domain.catalogue import Indicator
from domain.periods import InvalidPeriod, Period, PeriodKind
from services.interchange.cells import from_text, shown, value_text
from services.interchange.mapping import CodeMapping, MappedReader, UnsupportedPeriod
from services.interchange.rows import ExportResult, ReportedValue, Row, SourceError
from services.interchange.textio import Source, binary_stream

NAMESPACE = "urn:ihe:qrph:adx:2015"
_ADX = f"{{{NAMESPACE}}}adx"
_GROUP = f"{{{NAMESPACE}}}group"
_DATA_VALUE = f"{{{NAMESPACE}}}dataValue"
_ANNOTATION = f"{{{NAMESPACE}}}annotation"

_GROUP_ATTRIBUTES = {"orgUnit", "period", "dataSet", "completeDate", "attributeOptionCombo"}
_VALUE_ATTRIBUTES = {"dataElement", "value", "categoryOptionCombo"}
_INTERVAL = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})/P([0-9]{1,2})([MY])")
_DURATIONS: dict[tuple[int, str], PeriodKind] = {
    (1, "M"): PeriodKind.MONTH,
    (3, "M"): PeriodKind.QUARTER,
    (6, "M"): PeriodKind.HALF_YEAR,
    (12, "M"): PeriodKind.YEAR,
    (1, "Y"): PeriodKind.YEAR,
}
_ISO_DURATION = {
    PeriodKind.MONTH: "P1M",
    PeriodKind.QUARTER: "P3M",
    PeriodKind.HALF_YEAR: "P6M",
    PeriodKind.YEAR: "P1Y",
}


# ---- periods -------------------------------------------------------------------


def period_from_iso(text: str) -> Period:
    """An ISO 8601 interval (2024-01-01/P1M) as this system's period."""
    match = _INTERVAL.fullmatch(text.strip())
    if match is None:
        raise UnsupportedPeriod(f"period {shown(text)} is not a start date and P1M, P3M, P6M or P1Y")
    year, month, day = int(match[1]), int(match[2]), int(match[3])
    kind = _DURATIONS.get((int(match[4]), match[5]))
    if kind is None:
        raise UnsupportedPeriod(f"period {shown(text)}: only P1M, P3M, P6M and P1Y (or P12M) are reported")
    if day != 1 or not 1 <= month <= 12 or (month - 1) % kind.length_in_months:
        raise InvalidPeriod(
            f"period {shown(text)}: a {kind} period starts on the first day of its first month "
            f"(a {kind} starts in month {', '.join(str(m) for m in range(1, 13, kind.length_in_months))})"
        )
    return Period(kind, year, (month - 1) // kind.length_in_months + 1)


def period_to_iso(period: Period | str) -> str:
    period = Period.parse(period) if isinstance(period, str) else period
    first = period.months()[0]
    return f"{first.year:04d}-{first.number:02d}-01/{_ISO_DURATION[period.kind]}"


def _period(raw: str | None) -> Period | InvalidPeriod | None:
    if raw is None or not raw.strip():
        return None
    try:
        return period_from_iso(raw)
    except InvalidPeriod as problem:
        return problem


# ---- reading -------------------------------------------------------------------


def read_adx(
    source: Source,
    mapping: CodeMapping,
    indicators: Mapping[str, Indicator],
    *,
    agencies: Container[str] | None = None,
) -> Iterator[Row]:
    """The values of an ADX document, streamed; locations are `group G / dataValue V` (counted from 1)."""
    reader = MappedReader(mapping, indicators, agencies)
    group_number = 0
    value_number = 0
    group: dict[str, str] = {}
    group_problem: SourceError | None = None
    root: Any = None
    try:
        for event, element in iterparse(binary_stream(source), events=("start", "end"), forbid_dtd=True):
            if root is None:
                root = element
                if element.tag != _ADX:
                    yield SourceError(
                        "document",
                        "not-adx",
                        f'the root element is {shown(element.tag)}; ADX is <adx xmlns="{NAMESPACE}">',
                        fatal=True,
                    )
                    return
                continue
            if event == "start" and element.tag == _GROUP:
                group_number += 1
                value_number = 0
                group = dict(element.attrib)
                group_problem = _group_problem(group, group_number, mapping)
            elif event == "end" and element.tag == _DATA_VALUE:
                value_number += 1
                location = f"group {group_number} / dataValue {value_number}"
                yield _value(reader, location, group, group_problem, element)
                element.clear()  # bounded memory: a read value is dropped
            elif event == "end" and element.tag == _GROUP:
                element.clear()
                root.clear()  # drop the finished group from the root too
    except DefusedXmlException:
        yield SourceError(
            "document", "forbidden-xml", "the document declares a DTD or entities, which are refused", fatal=True
        )
    except ET.ParseError as problem:
        line, column = problem.position
        yield SourceError(
            "document", "invalid-xml", f"not well-formed XML at line {line}, column {column}: {problem}", fatal=True
        )


def _group_problem(group: dict[str, str], number: int, mapping: CodeMapping) -> SourceError | None:
    """Why no value of a group can be read (told for each of its values), or None."""
    where = f"group {number}"
    data_set = group.get("dataSet", "").strip()
    if not data_set:
        return SourceError(where, "missing-field", "the group has no dataSet")
    if data_set != mapping.data_set:
        return SourceError(
            where, "wrong-data-set", f"data set {shown(data_set)}; the mapping is for {mapping.data_set}"
        )
    extra = sorted(set(group) - _GROUP_ATTRIBUTES)
    if extra:
        return SourceError(
            where, "unsupported-disaggregation", f"group attributes {', '.join(extra)} cannot be placed by the mapping"
        )
    return None


def _value(
    reader: MappedReader, location: str, group: dict[str, str], problem: SourceError | None, element: Any
) -> Row:
    if problem is not None:
        return SourceError(location, problem.code, f"{problem.location}: {problem.message}")
    extra = sorted(set(element.attrib) - _VALUE_ATTRIBUTES)
    if extra:
        return SourceError(
            location,
            "unsupported-disaggregation",
            f"attributes {', '.join(extra)} cannot be placed by the mapping (map a categoryOptionCombo instead)",
        )
    annotation = element.find(_ANNOTATION)
    comment = None if annotation is None else "".join(annotation.itertext())
    return reader.read(
        location,
        data_element=element.get("dataElement"),
        category_option_combo=element.get("categoryOptionCombo") or None,
        attribute_option_combo=group.get("attributeOptionCombo") or None,
        org_unit=group.get("orgUnit"),
        period=_period(group.get("period")),
        raw=element.get("value"),
        comment=comment,
        convert=from_text,
    )


# ---- writing -------------------------------------------------------------------


def write_adx(
    values: Iterable[ReportedValue], mapping: CodeMapping, *, exported: datetime | None = None
) -> ExportResult:
    """One group per (agency, period), in the order they first come; values the mapping cannot place are skipped."""
    moment = (exported or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    # Plain tags under an explicit default xmlns: ElementTree's default_namespace option refuses
    # unqualified attributes, and ADX attributes are all unqualified.
    root = ET.Element("adx", {"xmlns": NAMESPACE, "exported": moment.isoformat().replace("+00:00", "Z")})
    groups: dict[tuple[str, str], ET.Element] = {}
    skipped: list[SourceError] = []
    for item in values:
        location = f"{item.agency} {item.period} {item.indicator}"
        element = mapping.data_element_for(item.indicator)
        org_unit = mapping.org_unit_for(item.agency)
        period = Period.parse(item.period)
        if element is None:
            skipped.append(SourceError(location, "unmapped-indicator", f"{item.indicator} has no data element"))
            continue
        if org_unit is None:
            skipped.append(SourceError(location, "unmapped-agency", f"{item.agency} has no org unit"))
            continue
        if period.kind is not mapping.period_type:
            skipped.append(
                SourceError(location, "wrong-period-type", f"{period.code} is not {mapping.period_type_name}")
            )
            continue
        group = groups.get((item.agency, period.code))
        if group is None:
            attributes = {"orgUnit": org_unit, "period": period_to_iso(period), "dataSet": mapping.data_set}
            if mapping.attribute_option_combo is not None:
                attributes["attributeOptionCombo"] = mapping.attribute_option_combo
            group = groups[(item.agency, period.code)] = ET.SubElement(root, "group", attributes)
        value = ET.SubElement(
            group,
            "dataValue",
            {"dataElement": element[0], "categoryOptionCombo": element[1], "value": value_text(item.value)},
        )
        if item.comment:
            ET.SubElement(value, "annotation").text = item.comment
    ET.indent(root)
    buffer = io.BytesIO()
    ET.ElementTree(root).write(buffer, encoding="utf-8", xml_declaration=True)
    return ExportResult(buffer.getvalue(), tuple(skipped))
