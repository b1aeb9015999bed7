"""Turning raw JSON input into typed values: the edge cases (no server).

A value is stored exactly or refused, never rounded or coerced; one number has
one representation; "not reported" is never 0.
"""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest

from domain.values import (
    MAX_INTEGER,
    MAX_TEXT_LENGTH,
    MIN_INTEGER,
    InvalidValue,
    Value,
    ValueType,
    parse_value,
    value_from_json,
    value_to_json,
)

INT, D, P, B, T = ValueType.INTEGER, ValueType.DECIMAL, ValueType.PERCENTAGE, ValueType.BOOLEAN, ValueType.TEXT


@pytest.mark.parametrize(
    ("value_type", "raw", "expected"),
    [
        (INT, 0, 0),
        (INT, -7, -7),
        (INT, 5.0, 5),  # JSON 5.0 is the integer 5
        (INT, 1e18, 10**18),
        (INT, MAX_INTEGER, MAX_INTEGER),
        (INT, MIN_INTEGER, MIN_INTEGER),
        (D, "1.50", Decimal("1.5")),
        (D, 1.5, Decimal("1.5")),
        (D, 0.1, Decimal("0.1")),  # the shortest repr, not 0.1000000000000000055511151231257827
        (D, " 2.5 ", Decimal("2.5")),
        (D, "1e2", Decimal("100")),
        (D, 100, Decimal("100")),
        (D, "-0", Decimal("0")),
        (D, -0.0, Decimal("0")),
        (D, "0.000", Decimal("0")),
        (D, "0.1e-5", Decimal("0.000001")),
        (D, "9999999999999999999999999999", Decimal("9999999999999999999999999999")),  # 28 digits, exact
        (D, "0.1234567890123456789012345678", Decimal("0.1234567890123456789012345678")),
        (P, "12.50", Decimal("12.5")),
        (P, 100, Decimal("100")),
        (B, True, True),
        (B, False, False),
        (T, "", ""),
        (T, "Hà Nội", "Hà Nội"),
        (T, "Ha\u0300 No\u0302\u0323i", "Hà Nội"),  # decomposed input is stored NFC
        (T, "x" * MAX_TEXT_LENGTH, "x" * MAX_TEXT_LENGTH),
    ],
)
def test_accepted(value_type: ValueType, raw: object, expected: Value) -> None:
    value = parse_value(value_type, raw)
    assert value == expected
    assert type(value) is type(expected)
    if isinstance(value, Decimal):
        assert str(value) == str(expected), "one representation per number"


@pytest.mark.parametrize(
    ("value_type", "raw", "reason"),
    [
        (INT, True, "wrong-type"),  # bool is an int in Python, never in a report
        (INT, False, "wrong-type"),
        (INT, None, "wrong-type"),  # "not reported" is the absence of a value, not null
        (INT, 1.5, "wrong-type"),
        (INT, "5", "wrong-type"),
        (INT, float("nan"), "wrong-type"),
        (INT, float("inf"), "wrong-type"),
        (INT, MAX_INTEGER + 1, "out-of-range"),  # beyond 64 bits no consumer of the events holds it exactly
        (INT, MIN_INTEGER - 1, "out-of-range"),
        (INT, 10**30, "out-of-range"),
        (INT, 1e20, "out-of-range"),
        (INT, [1], "wrong-type"),
        (D, True, "wrong-type"),
        (D, None, "wrong-type"),
        (D, "", "wrong-type"),
        (D, "1,5", "wrong-type"),  # no locale formats: 1.5 or "1.5"
        (D, "1.5.2", "wrong-type"),
        (D, "NaN", "wrong-type"),
        (D, "Infinity", "wrong-type"),
        (D, "-inf", "wrong-type"),
        (D, float("nan"), "wrong-type"),
        (D, {"value": 1}, "wrong-type"),
        (D, "1e30", "out-of-range"),  # was an unhandled decimal.InvalidOperation
        (D, 1e300, "out-of-range"),
        (D, "1234567890123456789012345678.95", "too-precise"),  # would have been rounded silently
        (D, "1E-29", "too-precise"),
        (P, "abc", "wrong-type"),
        (B, 1, "wrong-type"),
        (B, "true", "wrong-type"),
        (B, None, "wrong-type"),
        (T, 5, "wrong-type"),
        (T, None, "wrong-type"),
        (T, "x" * (MAX_TEXT_LENGTH + 1), "too-long"),
    ],
)
def test_refused(value_type: ValueType, raw: object, reason: str) -> None:
    with pytest.raises(InvalidValue) as raised:
        parse_value(value_type, raw)
    assert raised.value.reason == reason
    assert raised.value.detail


@pytest.mark.parametrize(
    ("value_type", "raw"),
    [
        (INT, MAX_INTEGER),
        (INT, MIN_INTEGER),
        (D, "9999999999999999999999999999"),
        (D, "1e-28"),
        (P, "0.5"),
        (B, True),
        (T, "Đà Nẵng"),
    ],
)
def test_every_accepted_value_survives_the_json_of_the_events(value_type: ValueType, raw: object) -> None:
    """What the event carries (orjson bytes, decimals as strings) reads back to the same value."""
    value = parse_value(value_type, raw)
    data = orjson.loads(orjson.dumps({"value": value_to_json(value)}))["value"]
    assert value_from_json(value_type, data) == value


def test_zero_and_not_reported_are_different() -> None:
    assert parse_value(INT, 0) == 0
    assert parse_value(D, "0") == Decimal(0)
    with pytest.raises(InvalidValue):
        parse_value(INT, None)
