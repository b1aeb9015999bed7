"""What a person types into a cell, read as the value the API would receive, and values shown for editing.

Numbers are typed the way the page's language writes them (Vietnamese: 1.234.567,5; English:
1,234,567.5), with or without grouping; the grouping must be right, so that "1.5" on a Vietnamese
page is not silently read as fifteen. Only the reading of the text is done here: whether the value
fits its indicator (type, range, precision) is the domain's `Indicator.parse`, as for the API.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from babel.numbers import NumberFormatError, parse_decimal

from domain.values import Value, ValueType
from services.web.i18n import Language, nfc

TRUE, FALSE = "true", "false"
_SPACES = str.maketrans("", "", " \u00a0\u202f\u2009")


@dataclass(frozen=True)
class Unreadable(Exception):
    """The text is not a number written in the page's language; `suggestions` are what it may have meant."""

    suggestions: tuple[str, ...] = ()


def read_input(value_type: ValueType, text: str, language: Language) -> object | None:
    """The raw value for the API; None for an empty cell. Raises `Unreadable` for a number it cannot read."""
    text = nfc(text).strip()
    if not text:
        return None
    if value_type is ValueType.TEXT:
        return text
    if value_type is ValueType.BOOLEAN:
        if text == TRUE:
            return True
        if text == FALSE:
            return False
        raise Unreadable()
    number = text.translate(_SPACES)
    if value_type is ValueType.PERCENTAGE:
        number = number.removesuffix("%")
    if not number or any(c in number for c in "eE"):
        raise Unreadable()
    try:
        parsed = parse_decimal(number, locale=language.babel_locale, strict=True)
    except NumberFormatError as error:
        raise Unreadable(tuple(getattr(error, "suggestions", None) or ())) from None
    if value_type is ValueType.INTEGER:
        # A fraction is passed on as text, for the domain to refuse as "not an integer".
        return int(parsed) if parsed == parsed.to_integral_value() else format(parsed, "f")
    return format(parsed, "f")


def input_text(value: Value | None, value_type: ValueType, number: Callable[[int | Decimal], str]) -> str:
    """A stored value as the cell shows it for editing (what `read_input` reads back to the same value);
    `number` writes a number in the page's language."""
    if value is None:
        return ""
    if value_type is ValueType.BOOLEAN:
        return TRUE if value else FALSE
    if value_type is ValueType.TEXT:
        return str(value)
    if isinstance(value, bool):
        return str(value)
    return number(Decimal(value) if isinstance(value, str) else value)
