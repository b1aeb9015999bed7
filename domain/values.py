"""Indicator value types and the rules that turn raw input into a typed value.

A value is `int`, `Decimal`, `bool` or `str`. Zero and "not reported" are
different: "not reported" is the absence of a value, never 0.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, Inexact, InvalidOperation, localcontext
from enum import StrEnum

Value = int | Decimal | bool | str

MAX_TEXT_LENGTH = 4000
# Integers are signed 64-bit: what every consumer of the published events (and PostgreSQL's
# bigint) holds exactly. Decimals keep at most MAX_DIGITS significant digits, below
# 10**MAX_DIGITS, with at most MAX_DIGITS decimal places: stored exactly, never rounded.
MAX_INTEGER = 2**63 - 1
MIN_INTEGER = -(2**63)
MAX_DIGITS = 28
# Control characters other than tab and line breaks: PostgreSQL text and jsonb cannot hold NUL,
# so one in a stored event would stop every projection at it; the others have no place in a report.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class ValueType(StrEnum):
    INTEGER = "integer"
    DECIMAL = "decimal"
    PERCENTAGE = "percentage"
    BOOLEAN = "boolean"
    TEXT = "text"

    @property
    def is_numeric(self) -> bool:
        return self in (ValueType.INTEGER, ValueType.DECIMAL, ValueType.PERCENTAGE)


class Aggregation(StrEnum):
    """How values combine over time (periods) or over agencies."""

    SUM = "sum"
    AVERAGE = "average"
    LAST = "last"
    MIN = "min"
    MAX = "max"
    NONE = "none"


class InvalidValue(ValueError):
    """A raw value that does not fit its indicator; `reason` is a stable slug."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def nfc(text: str) -> str:
    """Vietnamese text is compared and stored NFC-normalised."""
    return unicodedata.normalize("NFC", text)


def has_control_characters(text: str) -> bool:
    """NUL and the other control characters, except tab, line feed and carriage return."""
    return _CONTROL.search(text) is not None


def is_code(text: str) -> bool:
    """A code (indicator, template, agency): printable ASCII without spaces or '/'."""
    return bool(text) and text.isascii() and text.isprintable() and " " not in text and "/" not in text


def parse_value(value_type: ValueType, raw: object) -> Value:
    """Convert JSON input to a typed value, refusing anything ambiguous."""
    # bool is a subclass of int in Python: check it first, and never accept
    # true/false where a number is expected (or 1/0 where a boolean is).
    if value_type is ValueType.BOOLEAN:
        if isinstance(raw, bool):
            return raw
        raise InvalidValue("wrong-type", "expected a boolean (true or false)")
    if value_type is ValueType.TEXT:
        if isinstance(raw, str):
            text = nfc(raw)
            if has_control_characters(text):
                raise InvalidValue("invalid-character", "text holds a control character (e.g. NUL)")
            if len(text) > MAX_TEXT_LENGTH:
                raise InvalidValue("too-long", f"text longer than {MAX_TEXT_LENGTH} characters")
            return text
        raise InvalidValue("wrong-type", "expected a text string")
    if isinstance(raw, bool) or raw is None:
        raise InvalidValue("wrong-type", f"expected a number ({value_type})")
    if value_type is ValueType.INTEGER:
        if isinstance(raw, int):
            number = raw
        elif isinstance(raw, float) and raw.is_integer():
            number = int(raw)
        else:
            raise InvalidValue("wrong-type", "expected an integer")
        if not MIN_INTEGER <= number <= MAX_INTEGER:
            raise InvalidValue("out-of-range", "an integer is between -2^63 and 2^63 - 1")
        return number
    return _parse_decimal(raw)


def _parse_decimal(raw: object) -> Decimal:
    if isinstance(raw, int | str):
        text = str(raw).strip()
    elif isinstance(raw, float):
        # repr() gives the shortest string that round-trips, e.g. 0.1 -> "0.1".
        text = repr(raw)
    else:
        raise InvalidValue("wrong-type", "expected a decimal number")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise InvalidValue("wrong-type", "expected a decimal number") from None
    if not number.is_finite():
        raise InvalidValue("wrong-type", "expected a finite decimal number")
    if number.adjusted() >= MAX_DIGITS:
        raise InvalidValue("out-of-range", f"a decimal is below 10^{MAX_DIGITS} in magnitude")
    try:
        normalized = normalize_decimal(number)
    except (Inexact, InvalidOperation):
        raise InvalidValue("too-precise", f"at most {MAX_DIGITS} significant digits") from None
    if -normalized.as_tuple().exponent > MAX_DIGITS:  # type: ignore[operator]
        raise InvalidValue("too-precise", f"at most {MAX_DIGITS} decimal places")
    return normalized


def normalize_decimal(number: Decimal) -> Decimal:
    """One representation per number, so that 1.50 and 1.5 (and -0 and 0) compare, hash and print alike.

    Exact or refused: a number that needs more than MAX_DIGITS digits raises `Inexact` (never rounded).
    """
    sign, digits, exponent = number.as_tuple()
    if exponent == 0 and len(digits) <= MAX_DIGITS and (sign == 0 or number):
        return number  # a plain integer (not -0) is its own normal form; the common case, kept cheap
    with localcontext() as context:
        context.prec = MAX_DIGITS
        context.traps[Inexact] = True
        normalized = number.normalize()
        if normalized.is_zero():
            return Decimal(0)
        # normalize() turns 100 into 1E+2; quantize back to a plain integer exponent.
        if normalized == normalized.to_integral_value():
            return normalized.quantize(Decimal(1))
        return normalized


def value_to_json(value: Value) -> int | bool | str:
    """The JSON form used in integration events and read models: decimals as strings."""
    if isinstance(value, Decimal):
        return format(value, "f")
    return value


def value_from_json(value_type: ValueType, raw: int | bool | str) -> Value:
    """Inverse of `value_to_json` for values already validated."""
    if value_type.is_numeric and value_type is not ValueType.INTEGER:
        return Decimal(str(raw))
    return raw
