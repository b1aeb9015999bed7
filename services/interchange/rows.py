"""The neutral records every reader yields, the stable error codes, and our import counts.

A reader yields one `SourceValue` per value found and one `SourceError` per thing it could not
read; both say where in the source they came from, in words a person can follow to the cell,
row or element ("Sheet 'Số liệu', cell H12", "row 14", "dataValues[3]", "group 2 / dataValue 5").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol

from domain.values import Value

# Every code a SourceError may carry, with what it means. The codes are an API: clients match
# on them, so a code is added here (and documented in docs/INTERCHANGE.md) before it is used.
ERROR_CODES = MappingProxyType(
    {
        # the file as a whole
        "empty-file": "The file holds nothing to read.",
        "unsupported-encoding": "The file is not UTF-8 text (for example UTF-16); nothing is read.",
        "invalid-encoding": "Bytes that are not UTF-8 (a file saved as Windows-1258 or TCVN3?).",
        "line-too-long": "A line longer than the reader's limit; the rest of the file is not read.",
        "invalid-csv": "The CSV cannot be read past this point (for example an unclosed quote).",
        "invalid-json": "The JSON is not well-formed; nothing is read.",
        "invalid-xml": "The XML is not well-formed; nothing after this point is read.",
        "forbidden-xml": "The XML declares a DTD or entities, which are refused; nothing is read.",
        "wrong-header": "The header row is not one this format accepts; nothing is read.",
        "missing-context": "The file names no agency and period, and none was given for the upload.",
        "not-a-data-value-set": "The JSON is not a DHIS2 dataValueSet.",
        "not-adx": "The XML is not an ADX document (root <adx> in namespace urn:ihe:qrph:adx:2015).",
        "not-a-package": "The JSON is not a package of the national reporting feed.",
        "wrong-package": "A feed package of another kind than the one expected.",
        "unsupported-version": "A format or package version this reader does not know.",
        "invalid-package": "The package breaks its JSON Schema outside the figures (its envelope).",
        "wrong-data-set": "A DHIS2/ADX data set other than the mapping's.",
        # workbook refusals
        "not-a-template": "The workbook is not a template workbook of this system.",
        "wrong-template": "A template workbook of another template.",
        "wrong-template-version": "A template workbook of another version of the template.",
        "wrong-agency": "Values of another agency than the one expected.",
        "wrong-period": "Values of another reporting period than the one expected.",
        "form-changed": "The form's indicators or ranges changed since the workbook was made.",
        # one value
        "missing-field": "A field the format requires is missing or empty.",
        "wrong-column-count": "A row with more or fewer fields than the header.",
        "empty-value": "A row or element with a comment but no value (a blank is never read as 0).",
        "invalid-agency": "An agency code that is not a code (empty, spaces, '/', non-ASCII).",
        "unknown-agency": "An agency code this system does not know.",
        "invalid-period": "A period that does not exist (for example month 13).",
        "unsupported-period": "A period form this system has no reports for (weeks, days, financial years).",
        "wrong-period-type": "A period of another type than the mapping's (a quarter in a monthly data set).",
        "unknown-indicator": "An indicator code that is not in the catalogue or not on the form.",
        "unmapped-data-element": "A DHIS2 data element (and category option combo) the mapping does not name.",
        "unmapped-org-unit": "A DHIS2 organisation unit the mapping does not name.",
        "unmapped-attribute-option-combo": "A DHIS2 attribute option combo other than the mapping's.",
        "unsupported-disaggregation": "ADX disaggregation attributes the mapping cannot place.",
        "unmapped-agency": "An electronic identifier code no agency of this system has.",
        "unmapped-indicator": "On export: an indicator the mapping gives no DHIS2 data element.",
        "deleted-value": "A value marked deleted: this system records no deletions.",
        "duplicate-value": "A second value for the same agency, period and indicator in one file.",
        "invalid-comment": "A comment that is not acceptable text (control characters, too long).",
        "ambiguous-number": "A number written with a comma, which reads differently in Vietnamese and English.",
        "imprecise-number": "A spreadsheet number past 15 significant digits, which a spreadsheet cannot hold exactly.",
        "invalid-value": "A value the format cannot carry (for example a JSON object).",
        # refusals of the write side when an import stores what was read
        "not-allowed": "Values of an agency the uploader may not enter (a clerk imports only their own agency's).",
        "period-not-open": "The period is not open for entry (not started yet, or the agency did not exist then).",
        "submission-locked": "The report of that agency and period is submitted or approved: its values cannot change.",
        "reason-required": "A correction after the report was first submitted needs a reason (given with the import).",
        "too-many-values": "More values than an all-or-nothing import holds in one transaction (import best-effort).",
        # the domain's own value checks (domain.values.InvalidValue.reason)
        "wrong-type": "A value of the wrong type for the indicator.",
        "out-of-range": "A number outside the indicator's range (or outside what is stored exactly).",
        "too-precise": "A decimal with more digits than are stored exactly.",
        "too-long": "A text longer than 4000 characters.",
        "invalid-character": "A text holding a control character (for example NUL) or an unpaired surrogate.",
    }
)


@dataclass(frozen=True, slots=True)
class SourceValue:
    """One value found in a source, typed and checked against its indicator.

    `period` is this system's canonical period code (2026-10, 2026Q3, 2026S1, 2026).
    """

    location: str
    agency: str
    period: str
    indicator: str
    value: Value
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class SourceError:
    """Something in a source that could not be read as a value.

    `fatal` is true when the reader stopped there: values before it came out, nothing after it.
    """

    location: str
    code: str
    message: str
    fatal: bool = False
    indicator: str | None = None  # when the record names one

    def __post_init__(self) -> None:
        if self.code not in ERROR_CODES:
            raise ValueError(f"unregistered interchange error code {self.code!r}")


Row = SourceValue | SourceError


class ReportedValue(Protocol):
    """What the writers need of a value: a `SourceValue`, or a row of a read model."""

    @property
    def agency(self) -> str: ...

    @property
    def period(self) -> str: ...

    @property
    def indicator(self) -> str: ...

    @property
    def value(self) -> Value: ...

    @property
    def comment(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class ListedIndicator:
    """An indicator of a form as a file lists it: its value so far, or None (a blank to fill in)."""

    agency: str
    period: str
    indicator: str
    value: Value | None
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class ExportResult:
    """A written document, and the values left out of it (each as a SourceError saying why)."""

    content: bytes
    skipped: tuple[SourceError, ...] = ()


@dataclass(frozen=True, slots=True)
class ImportCounts:
    """What an import did, in this system's terms (the ingest service counts them).

    - `stored`: values recorded as new events, a first value or a correction of an earlier one;
    - `corrected`: of `stored`, how many replaced an earlier value;
    - `unchanged`: values equal to the current one, so nothing was recorded;
    - `rejected`: values refused, by a reader (a SourceError) or by the domain (type, range, lock).
    """

    stored: int
    unchanged: int
    rejected: int
    corrected: int = 0

    def __post_init__(self) -> None:
        if min(self.stored, self.unchanged, self.rejected, self.corrected) < 0:
            raise ValueError("import counts are never negative")
        if self.corrected > self.stored:
            raise ValueError("corrections are counted within `stored`")


def values_of(rows: Iterable[Row]) -> list[SourceValue]:
    return [row for row in rows if isinstance(row, SourceValue)]


def errors_of(rows: Iterable[Row]) -> list[SourceError]:
    return [row for row in rows if isinstance(row, SourceError)]


def error_codes_markdown() -> str:
    """The table of error codes in docs/INTERCHANGE.md (a test keeps the two equal)."""
    lines = ["| Code | Meaning |", "| --- | --- |"]
    lines += [f"| `{code}` | {meaning} |" for code, meaning in ERROR_CODES.items()]
    return "\n".join(lines) + "\n"
