"""One raw field (CSV text, a spreadsheet cell, a JSON value) to a typed value, and back to text.

The domain decides what a valid value is (`Indicator.parse`: type, range, precision, text rules).
This module only turns what a format can carry into the JSON-like input the domain parses:
"12" in a CSV is the integer 12, "Có" in a workbook's list is True. Anything it does not
recognise is passed on unchanged, so that the domain refuses it with its own reason.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Container, Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from domain.catalogue import Indicator
from domain.periods import InvalidPeriod, Period
from domain.values import InvalidValue, Value, ValueType, is_code, nfc, parse_value
from services.interchange.rows import ERROR_CODES, Row, SourceError, SourceValue

# [0-9], not \d: \d also matches non-ASCII digits.
_INTEGER = re.compile(r"[+-]?[0-9]+")
# What a person types for a boolean: the workbook's list offers Có / Không.
TRUE_WORDS = frozenset({"true", "có"})
FALSE_WORDS = frozenset({"false", "không"})
TRUE_TEXT = "Có"
FALSE_TEXT = "Không"
# A spreadsheet number keeps 15 significant digits: at 10^15 and above the digits a person
# typed may already be gone, so such a number is refused rather than stored slightly wrong.
SPREADSHEET_LIMIT = 10**15
# Text that a spreadsheet would run as a formula when a CSV is opened (OWASP CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

Converter = Callable[[ValueType, object], object]
# Lone surrogates: what undecodable bytes become, and what a JSON "\\ud800" escape makes. They are
# not characters: UTF-8 (and so PostgreSQL) cannot hold them, so they never reach a value or a message.
_SURROGATE = re.compile("[\ud800-\udfff]")


def printable(text: str) -> str:
    """Text safe to put in a message: lone surrogates become U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)


def _check_characters(text: str) -> None:
    if _SURROGATE.search(text):
        raise InvalidValue("invalid-character", "text holds an unpaired surrogate (\\ud800-\\udfff), not a character")


def _check_no_comma(text: str) -> None:
    if "," in text:
        raise InvalidValue(
            "ambiguous-number",
            f"{text!r} has a comma: write numbers with a dot for decimals and no thousands "
            "separator (1234.5), since 1,234 is 1.234 in Vietnamese and 1234 in English",
        )


def from_text(value_type: ValueType, raw: object) -> object:
    """A field of a text format (CSV, XML attribute, JSON string) as the domain's input."""
    if not isinstance(raw, str):
        return raw
    _check_characters(raw)
    text = nfc(raw)
    if value_type is ValueType.TEXT:
        return text
    stripped = text.strip()
    if value_type is ValueType.BOOLEAN:
        word = stripped.casefold()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        return stripped
    _check_no_comma(stripped)
    if value_type is ValueType.INTEGER and _INTEGER.fullmatch(stripped):
        try:
            return int(stripped)
        except ValueError:  # more digits than Python converts; far beyond 64 bits anyway
            raise InvalidValue("out-of-range", "an integer is between -2^63 and 2^63 - 1") from None
    return stripped


def from_json(value_type: ValueType, raw: object) -> object:
    """A JSON value (read with numbers as Decimal) as the domain's input; strings as in `from_text`."""
    if isinstance(raw, Decimal):
        if value_type is ValueType.INTEGER and raw.is_finite() and raw == raw.to_integral_value():
            return int(raw)
        # The digits as written: exact for decimals, refused (as text) for integers.
        return format(raw, "f") if value_type.is_numeric else raw
    return from_text(value_type, raw)


def from_cell(value_type: ValueType, raw: object) -> object:
    """A spreadsheet cell (as python-calamine reads it) as the domain's input."""
    if isinstance(raw, datetime | date | time | timedelta):
        raise InvalidValue("wrong-type", "a date or time is not a value of this indicator")
    if isinstance(raw, float | int) and not isinstance(raw, bool):
        if abs(raw) >= SPREADSHEET_LIMIT:
            raise InvalidValue(
                "imprecise-number",
                "a spreadsheet keeps only 15 significant digits; this number may have lost some",
            )
        if isinstance(raw, float) and raw.is_integer() and value_type is ValueType.INTEGER:
            return int(raw)
        return raw
    return from_text(value_type, raw)


def value_text(value: Value) -> str:
    """A typed value as text: true/false, decimals in plain notation (never 1E+2)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def escape_formula(text: str) -> str:
    """Text a spreadsheet would run as a formula gets a leading apostrophe (reversed by `unescape_formula`).

    Text that already starts with an apostrophe gets one more, so the escape is reversible.
    """
    if text.startswith((*FORMULA_START, "'")):
        return "'" + text
    return text


def unescape_formula(text: str) -> str:
    if len(text) > 1 and text[0] == "'" and text[1:].startswith((*FORMULA_START, "'")):
        return text[1:]
    return text


def read_comment(raw: object) -> str | None:
    """A comment is optional text under the same rules as a text value; blank is none."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, str):
        _check_characters(raw)
    return str(parse_value(ValueType.TEXT, raw))


class ValueReader:
    """Checks one value found in a source and makes it a SourceValue, or says why not.

    `indicators` are the ones a value may name (a form's, or the whole catalogue); `agencies`,
    when given, the agency codes this system knows. It remembers which (agency, period,
    indicator) it has seen, so a second value for one of them in the same file is an error.
    """

    def __init__(self, indicators: Mapping[str, Indicator], agencies: Container[str] | None = None) -> None:
        self._indicators = indicators
        self._agencies = agencies
        self._seen: dict[tuple[str, str, str], str] = {}

    def read(
        self,
        location: str,
        agency: str | None,
        period: str | Period | None,
        indicator: str | None,
        raw: object,
        comment: object = None,
        convert: Converter = from_text,
    ) -> Row:
        def error(code: str, message: str) -> SourceError:
            named = indicator if indicator and indicator in self._indicators else None
            return SourceError(location, code, message, indicator=named)

        if not agency:
            return error("missing-field", "no agency is given")
        if not is_code(agency):
            return error("invalid-agency", f"{shown(agency)} is not an agency code")
        if self._agencies is not None and agency not in self._agencies:
            return error("unknown-agency", f"agency {agency} is not known to this system")
        if not period:
            return error("missing-field", "no period is given")
        if isinstance(period, str):
            try:
                period = Period.parse(period.strip())
            except InvalidPeriod as problem:
                return error("invalid-period", str(problem))
        if not indicator:
            return error("missing-field", "no indicator code is given")
        definition = self._indicators.get(indicator)
        if definition is None:
            return error("unknown-indicator", f"indicator {shown(indicator)} is not on this form or catalogue")
        # Interned: the codes repeat from row to row, and a 100,000-value file keeps this many keys.
        key = (sys.intern(agency), sys.intern(period.code), sys.intern(indicator))
        first = self._seen.get(key)
        if first is not None:
            return error("duplicate-value", f"{indicator} for {agency} {period.code} already came at {first}")
        self._seen[key] = location
        try:
            value = definition.parse(convert(definition.value_type, raw))
        except InvalidValue as problem:
            # A reason the domain adds later still comes out, under the general code.
            code = problem.reason if problem.reason in ERROR_CODES else "invalid-value"
            return error(code, f"{indicator}: {problem.detail}")
        try:
            note = read_comment(comment)
        except InvalidValue as problem:
            return error("invalid-comment", f"comment: {problem.detail}")
        return SourceValue(location, agency, period.code, indicator, value, note)


def shown(text: str) -> str:
    # Messages echo the input, but never an unbounded amount of it.
    return repr(printable(text if len(text) <= 40 else text[:40] + "…"))
