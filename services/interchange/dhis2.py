"""DHIS2 data value sets, JSON and CSV, read and written through a `CodeMapping`.

JSON (`application/json`, DHIS2's dataValueSets):

    {"dataSet": "..", "completeDate": "2024-02-10", "period": "202401", "orgUnit": "..",
     "attributeOptionCombo": "..",
     "dataValues": [{"dataElement": "..", "period": "202401", "orgUnit": "..",
                     "categoryOptionCombo": "..", "attributeOptionCombo": "..",
                     "value": "12", "comment": "..", "followup": false}]}

The top-level period, orgUnit and attributeOptionCombo are defaults for values that leave them
out. CSV has the header `dataelement,period,orgunit,categoryoptioncombo,attributeoptioncombo,
value,storedby,timestamp,comment,followup` (DHIS2's exports write `lastupdated` for `timestamp`
and may add `deleted`; both are accepted).

Periods: DHIS2 writes months as 202401, quarters 2024Q1, six-months 2024S1, years 2024; this
system writes 2024-01, 2024Q1, 2024S1, 2024. Other DHIS2 period types (weeks, days, financial
years...) are refused as `unsupported-period`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Container, Iterable, Iterator, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from domain.catalogue import Indicator
from domain.periods import InvalidPeriod, Period, PeriodKind
from services.interchange.cells import from_json, from_text, printable, shown, value_text
from services.interchange.mapping import CodeMapping, MappedReader, UnsupportedPeriod
from services.interchange.rows import ExportResult, ImportCounts, ReportedValue, Row, SourceError
from services.interchange.textio import CsvReader, Source, UnreadableText, binary_stream, has_bad_bytes

CSV_COLUMNS = (
    "dataelement",
    "period",
    "orgunit",
    "categoryoptioncombo",
    "attributeoptioncombo",
    "value",
    "storedby",
    "timestamp",
    "comment",
    "followup",
)
_REQUIRED_CSV = CSV_COLUMNS[:6]
_CSV_ALIASES = {"lastupdated": "timestamp"}
_OPTIONAL_CSV = {*CSV_COLUMNS[6:], "deleted"}

_MONTHLY = re.compile(r"([0-9]{4})([0-9]{2})")
_QUARTERLY = re.compile(r"([0-9]{4})Q([0-9])")
_SIX_MONTHLY = re.compile(r"([0-9]{4})S([0-9])")
_YEARLY = re.compile(r"[0-9]{4}")
_FORMS = "monthly (YYYYMM), quarterly (YYYYQn), six-monthly (YYYYSn) or yearly (YYYY)"


# ---- periods -------------------------------------------------------------------


def period_from_dhis2(text: str) -> Period:
    """A DHIS2 period id as this system's period; `UnsupportedPeriod` for other DHIS2 period types."""
    code = text.strip()
    if match := _MONTHLY.fullmatch(code):
        return Period.parse(f"{match[1]}-{match[2]}")
    if _QUARTERLY.fullmatch(code) or _SIX_MONTHLY.fullmatch(code) or _YEARLY.fullmatch(code):
        return Period.parse(code)  # the same codes in both systems
    raise UnsupportedPeriod(f"DHIS2 period {shown(text)} is not {_FORMS}")


def period_to_dhis2(period: Period | str) -> str:
    period = Period.parse(period) if isinstance(period, str) else period
    if period.kind is PeriodKind.MONTH:
        return f"{period.year:04d}{period.number:02d}"
    return period.code


def _period(raw: object) -> Period | InvalidPeriod | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if not isinstance(raw, str):
        return InvalidPeriod(f"a DHIS2 period is a string, not {type(raw).__name__}")
    try:
        return period_from_dhis2(raw)
    except InvalidPeriod as problem:
        return problem


# ---- JSON ----------------------------------------------------------------------


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not a number JSON allows")


def read_dhis2_json(
    source: Source,
    mapping: CodeMapping,
    indicators: Mapping[str, Indicator],
    *,
    agencies: Container[str] | None = None,
) -> Iterator[Row]:
    """The values of a DHIS2 dataValueSet (JSON), with `dataValues[i]` locations (counted from 0)."""
    stream = binary_stream(source)
    try:
        # Numbers as Decimal: 0.1 stays exactly 0.1, and large integers stay integers.
        document = json.loads(stream.read(), parse_float=Decimal, parse_constant=_reject_constant)
    except UnicodeDecodeError:
        yield SourceError("document", "invalid-encoding", "the JSON is not UTF-8 text", fatal=True)
        return
    except ValueError as problem:
        yield SourceError("document", "invalid-json", f"not well-formed JSON: {problem}", fatal=True)
        return
    if not isinstance(document, dict) or not isinstance(document.get("dataValues"), list):
        yield SourceError(
            "document",
            "not-a-data-value-set",
            'a DHIS2 dataValueSet is an object with a "dataValues" list',
            fatal=True,
        )
        return
    data_set = document.get("dataSet")
    if data_set not in (None, "", mapping.data_set):
        yield SourceError(
            "dataSet",
            "wrong-data-set",
            f"data set {shown(str(data_set))}; the mapping is for {mapping.data_set}",
            fatal=True,
        )
        return
    reader = MappedReader(mapping, indicators, agencies)
    for index, item in enumerate(document["dataValues"]):
        location = f"dataValues[{index}]"
        if not isinstance(item, dict):
            yield SourceError(location, "missing-field", "a data value is an object")
            continue
        if item.get("deleted") is True:
            yield SourceError(location, "deleted-value", "a deleted value: this system records no deletions")
            continue
        yield reader.read(
            location,
            data_element=item.get("dataElement"),
            category_option_combo=item.get("categoryOptionCombo"),
            attribute_option_combo=item.get("attributeOptionCombo", document.get("attributeOptionCombo")),
            org_unit=item.get("orgUnit", document.get("orgUnit")),
            period=_period(item.get("period", document.get("period"))),
            raw=item.get("value"),
            comment=item.get("comment"),
            convert=from_json,
        )


def _export_rows(
    values: Iterable[ReportedValue], mapping: CodeMapping
) -> tuple[list[dict[str, str]], list[SourceError]]:
    rows: list[dict[str, str]] = []
    skipped: list[SourceError] = []
    for item in values:
        location = f"{item.agency} {item.period} {item.indicator}"
        element = mapping.data_element_for(item.indicator)
        org_unit = mapping.org_unit_for(item.agency)
        period = Period.parse(item.period)
        if element is None:
            skipped.append(SourceError(location, "unmapped-indicator", f"{item.indicator} has no DHIS2 data element"))
        elif org_unit is None:
            skipped.append(SourceError(location, "unmapped-agency", f"{item.agency} has no DHIS2 org unit"))
        elif period.kind is not mapping.period_type:
            skipped.append(
                SourceError(location, "wrong-period-type", f"{period.code} is not {mapping.period_type_name}")
            )
        else:
            row = {
                "dataElement": element[0],
                "period": period_to_dhis2(period),
                "orgUnit": org_unit,
                "categoryOptionCombo": element[1],
                "value": value_text(item.value),
            }
            if mapping.attribute_option_combo is not None:
                row["attributeOptionCombo"] = mapping.attribute_option_combo
            if item.comment:
                row["comment"] = item.comment
            rows.append(row)
    return rows, skipped


def write_dhis2_json(
    values: Iterable[ReportedValue], mapping: CodeMapping, *, complete_date: date | None = None
) -> ExportResult:
    """A dataValueSet of the values the mapping can place; the others are listed as skipped."""
    rows, skipped = _export_rows(values, mapping)
    document: dict[str, Any] = {"dataSet": mapping.data_set}
    if complete_date is not None:
        document["completeDate"] = complete_date.isoformat()
    if mapping.attribute_option_combo is not None:
        document["attributeOptionCombo"] = mapping.attribute_option_combo
    document["dataValues"] = rows
    content = json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")
    return ExportResult(content, tuple(skipped))


# ---- CSV -----------------------------------------------------------------------


def read_dhis2_csv(
    source: Source,
    mapping: CodeMapping,
    indicators: Mapping[str, Indicator],
    *,
    agencies: Container[str] | None = None,
) -> Iterator[Row]:
    """The values of a DHIS2 CSV data value file, row by row (a generator), with `row N` locations."""
    try:
        reader = CsvReader(source)
        names = [_CSV_ALIASES.get(name, name) for name in reader.header]
        unknown = [name for name in names if name not in CSV_COLUMNS and name not in _OPTIONAL_CSV]
        if names[:6] != list(_REQUIRED_CSV) or unknown or len(set(names)) != len(names):
            yield SourceError(
                "row 1",
                "wrong-header",
                f"the header is {printable(','.join(reader.header))!r}; a DHIS2 CSV starts with "
                f"{','.join(_REQUIRED_CSV)} and may go on with {','.join(CSV_COLUMNS[6:])}",
                fatal=True,
            )
            return
        mapped = MappedReader(mapping, indicators, agencies)
        for record in reader.records():
            if record.blank:
                continue
            if any(has_bad_bytes(field) for field in record.fields):
                yield SourceError(record.location, "invalid-encoding", "this row is not UTF-8 text")
                continue
            if len(record.fields) > len(names) or len(record.fields) < len(_REQUIRED_CSV):
                yield SourceError(
                    record.location,
                    "wrong-column-count",
                    f"{len(record.fields)} fields where the header has {len(names)}",
                )
                continue
            # DHIS2 leaves trailing empty columns out; they are empty.
            row = dict(zip(names, record.fields, strict=False))
            if row.get("deleted", "").strip().lower() == "true":
                yield SourceError(record.location, "deleted-value", "a deleted value: this system records no deletions")
                continue
            yield mapped.read(
                record.location,
                data_element=row["dataelement"],
                category_option_combo=row["categoryoptioncombo"].strip() or None,
                attribute_option_combo=row["attributeoptioncombo"].strip() or None,
                org_unit=row["orgunit"],
                period=_period(row["period"]),
                raw=row["value"],
                comment=row.get("comment"),
                convert=from_text,
            )
    except UnreadableText as problem:
        yield SourceError("document", problem.code, problem.message, fatal=True)


def write_dhis2_csv(values: Iterable[ReportedValue], mapping: CodeMapping) -> ExportResult:
    """DHIS2's CSV (no BOM, no formula escaping: it is read by DHIS2, not a spreadsheet)."""
    rows, skipped = _export_rows(values, mapping)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow(
            [
                row["dataElement"],
                row["period"],
                row["orgUnit"],
                row["categoryOptionCombo"],
                row.get("attributeOptionCombo", ""),
                row["value"],
                "",
                "",
                row.get("comment", ""),
                "false",
            ]
        )
    return ExportResult(buffer.getvalue().encode("utf-8"), tuple(skipped))


# ---- import summary ------------------------------------------------------------


def import_summary(counts: ImportCounts, errors: Sequence[SourceError]) -> dict[str, Any]:
    """Our import's outcome in the shape of DHIS2's ImportSummary, for DHIS2 clients.

    imported = values stored for the first time; updated = corrections; ignored = unchanged
    values and rejected ones; deleted = 0 (this system records no deletions). Each error is a
    conflict: `object` is where it was, `value` what was wrong, with its code.
    """
    went_through = counts.stored + counts.unchanged
    if not errors and counts.rejected == 0:
        status, description = "SUCCESS", "Import process completed successfully"
    elif went_through == 0:
        status, description = "ERROR", "Nothing was imported"
    else:
        status, description = "WARNING", "Import process completed with conflicts"
    return {
        "responseType": "ImportSummary",
        "status": status,
        "description": description,
        "importCount": {
            "imported": counts.stored - counts.corrected,
            "updated": counts.corrected,
            "ignored": counts.unchanged + counts.rejected,
            "deleted": 0,
        },
        "conflicts": [{"object": error.location, "value": f"{error.message} ({error.code})"} for error in errors],
    }
