"""Cross-indicator validation rules as data: `left operator right`.

An expression is an indicator, a sum of indicators, or a constant. A rule whose
indicators are not all reported is skipped (required-ness is checked apart).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from domain.values import Value, has_control_characters, is_code, nfc

_OPERATORS: dict[str, Callable[[Decimal, Decimal], bool]] = {
    "<=": operator.le,
    "<": operator.lt,
    ">=": operator.ge,
    ">": operator.gt,
    "==": operator.eq,
    "!=": operator.ne,
}


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Expression:
    """A sum of indicators plus a constant (one indicator, or only a constant, are special cases)."""

    indicators: tuple[str, ...] = ()
    constant: Decimal = Decimal(0)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Expression:
        """`{"indicator": c}`, `{"sum": [c, ...]}` or `{"constant": n}`; an indicator or a sum may add a constant."""
        has_constant = data.get("constant") is not None
        if set(data) - {"indicator", "sum", "constant"} or not ("indicator" in data or "sum" in data or has_constant):
            raise ValueError(f"unknown expression: {dict(data)!r}")
        if "indicator" in data and "sum" in data:
            raise ValueError(f"an expression is an indicator or a sum, not both: {dict(data)!r}")
        constant = Decimal(0)
        if has_constant:
            try:
                constant = Decimal(str(data["constant"]))
            except InvalidOperation:
                raise ValueError(f"a constant is a number: {data['constant']!r}") from None
            if not constant.is_finite():
                raise ValueError(f"a constant is a finite number: {data['constant']!r}")
        if "indicator" in data:
            indicators: tuple[str, ...] = (str(data["indicator"]),)
        elif "sum" in data:
            indicators = tuple(str(code) for code in data["sum"])
            if not indicators:
                raise ValueError("a sum names at least one indicator")
        else:
            indicators = ()
        return cls(indicators=indicators, constant=constant)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if len(self.indicators) == 1:
            data["indicator"] = self.indicators[0]
        elif self.indicators:
            data["sum"] = list(self.indicators)
        if self.constant or not self.indicators:
            data["constant"] = str(self.constant)
        return data

    def evaluate(self, values: Mapping[str, Value]) -> Decimal | None:
        total = self.constant
        for code in self.indicators:
            value = values.get(code)
            if value is None or isinstance(value, bool | str):
                return None
            total += value
        return total


@dataclass(frozen=True)
class Rule:
    code: str
    description_vi: str
    description_en: str
    left: Expression
    operator: str
    right: Expression
    severity: Severity = Severity.ERROR

    def __post_init__(self) -> None:
        if self.operator not in _OPERATORS:
            raise ValueError(f"rule {self.code}: unknown operator {self.operator!r}")
        if not is_code(self.code):
            raise ValueError(f"rule code must be printable ASCII without spaces or '/': {self.code!r}")
        if has_control_characters(self.description_vi) or has_control_characters(self.description_en):
            raise ValueError(f"rule {self.code}: descriptions hold no control characters (e.g. NUL)")
        if not self.indicators:
            # It would apply to every form and never change its outcome.
            raise ValueError(f"rule {self.code}: a rule names at least one indicator")

    @property
    def indicators(self) -> tuple[str, ...]:
        return self.left.indicators + self.right.indicators

    def check(self, values: Mapping[str, Value]) -> RuleOutcome:
        left = self.left.evaluate(values)
        right = self.right.evaluate(values)
        if left is None or right is None:
            return RuleOutcome(self, "skipped", left, right)
        passed = _OPERATORS[self.operator](left, right)
        return RuleOutcome(self, "passed" if passed else "failed", left, right)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Rule:
        return cls(
            code=str(data["code"]),
            description_vi=nfc(str(data.get("description_vi", ""))),
            description_en=str(data.get("description_en", "")),
            left=Expression.from_dict(data["left"]),
            operator=str(data["operator"]),
            right=Expression.from_dict(data["right"]),
            severity=Severity(data.get("severity", "error")),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "description_vi": self.description_vi,
            "description_en": self.description_en,
            "left": self.left.to_dict(),
            "operator": self.operator,
            "right": self.right.to_dict(),
            "severity": str(self.severity),
        }


@dataclass(frozen=True)
class RuleOutcome:
    rule: Rule
    status: str  # "passed", "failed" or "skipped"
    left: Decimal | None
    right: Decimal | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule.code,
            "status": self.status,
            "severity": str(self.rule.severity),
            "description": self.rule.description_en,
            "left": None if self.left is None else str(self.left),
            "operator": self.rule.operator,
            "right": None if self.right is None else str(self.right),
        }
