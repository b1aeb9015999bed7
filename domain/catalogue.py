"""The indicator catalogue: what can be reported, its type, unit, range and aggregation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.ids import aggregate_id
from domain.rules import Rule
from domain.values import (
    Aggregation,
    InvalidValue,
    Value,
    ValueType,
    has_control_characters,
    is_code,
    nfc,
    parse_value,
)


class IndicatorGroup(StrEnum):
    """The sector's indicator groups (the groups of the ministry's reporting regime)."""

    POSTAL = "postal"
    TELECOM_INTERNET = "telecom_internet"
    RADIO_FREQUENCY = "radio_frequency"
    IT_INDUSTRY = "it_industry"
    DIGITAL_TRANSFORMATION = "digital_transformation"
    INFORMATION_SECURITY = "information_security"
    PRESS_BROADCASTING_EINFO = "press_broadcasting_einfo"
    PUBLISHING_PRINTING_DISTRIBUTION = "publishing_printing_distribution"


@dataclass(frozen=True)
class Indicator:
    """One indicator definition; numbers in `minimum`/`maximum` bound numeric values."""

    code: str
    name_vi: str
    name_en: str
    group: IndicatorGroup
    unit: str
    value_type: ValueType
    aggregation_time: Aggregation
    aggregation_agencies: Aggregation
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    required: bool = False

    def __post_init__(self) -> None:
        if not is_code(self.code):
            raise ValueError(f"indicator code must be printable ASCII without spaces or '/': {self.code!r}")
        if any(has_control_characters(text) for text in (self.name_vi, self.name_en, self.unit)):
            raise ValueError(f"{self.code}: names hold no control characters (e.g. NUL)")
        if not self.value_type.is_numeric:
            if self.minimum is not None or self.maximum is not None:
                raise ValueError(f"{self.code}: only numeric indicators have a range")
            numeric_only = (Aggregation.SUM, Aggregation.AVERAGE, Aggregation.MIN, Aggregation.MAX)
            if self.aggregation_agencies in numeric_only or self.aggregation_time in numeric_only:
                raise ValueError(f"{self.code}: {self.value_type} values cannot be summed")
        for bound in (self.minimum, self.maximum):
            if bound is not None and not bound.is_finite():
                raise ValueError(f"{self.code}: a bound is a finite number")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError(f"{self.code}: minimum above maximum")

    def parse(self, raw: object) -> Value:
        """Type and range check of one raw value."""
        value = parse_value(self.value_type, raw)
        if self.value_type.is_numeric and not isinstance(value, bool | str):
            if self.minimum is not None and value < self.minimum:
                raise InvalidValue("out-of-range", f"below the minimum {self.minimum}")
            if self.maximum is not None and value > self.maximum:
                raise InvalidValue("out-of-range", f"above the maximum {self.maximum}")
        return value

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("minimum", "maximum"):
            data[key] = None if data[key] is None else str(data[key])
        for key in ("group", "value_type", "aggregation_time", "aggregation_agencies"):
            data[key] = str(data[key])
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Indicator:
        """Accepts the seed-file form (`min`/`max`) and the stored form (`minimum`/`maximum`)."""

        def number(key: str, alias: str) -> Decimal | None:
            raw = data.get(key, data.get(alias))
            return None if raw is None else Decimal(str(raw))

        return cls(
            code=str(data["code"]),
            name_vi=nfc(str(data["name_vi"])),
            name_en=str(data["name_en"]),
            group=IndicatorGroup(data["group"]),
            unit=nfc(str(data["unit"])),
            value_type=ValueType(data["value_type"]),
            aggregation_time=Aggregation(data["aggregation_time"]),
            aggregation_agencies=Aggregation(data["aggregation_agencies"]),
            minimum=number("minimum", "min"),
            maximum=number("maximum", "max"),
            required=bool(data.get("required", False)),
        )


class Catalogue(Aggregate):
    """The one indicator catalogue; every definition change is an event."""

    class Created(Aggregate.Created):
        actor: str

    class IndicatorDefined(Aggregate.Event):
        definition: dict[str, Any]
        actor: str
        role: str

        def apply(self, aggregate: Catalogue) -> None:
            indicator = Indicator.from_dict(self.definition)
            aggregate.indicators[indicator.code] = indicator

    class RuleDefined(Aggregate.Event):
        rule: dict[str, Any]
        actor: str
        role: str

        def apply(self, aggregate: Catalogue) -> None:
            definition = Rule.from_dict(self.rule)
            aggregate.rules[definition.code] = definition

    def __init__(self, actor: str) -> None:
        self.indicators: dict[str, Indicator] = {}
        self.rules: dict[str, Rule] = {}

    @staticmethod
    def create_id() -> UUID:
        return CATALOGUE_ID

    def define(self, indicator: Indicator, actor: str, role: str) -> bool:
        """Add or revise a definition; returns False when nothing changes."""
        if self.indicators.get(indicator.code) == indicator:
            return False
        current = self.indicators.get(indicator.code)
        if current is not None and current.value_type is not indicator.value_type:
            # Past values were validated against the old type; changing it would
            # make history unreadable. A new type needs a new indicator code.
            raise ValueError(f"{indicator.code}: the value type of an indicator cannot change")
        self.trigger_event(self.IndicatorDefined, definition=indicator.to_dict(), actor=actor, role=role)
        return True

    def define_rule(self, rule: Rule, actor: str, role: str) -> bool:
        """Add or revise a cross-indicator rule; its indicators must be numeric ones we know."""
        for code in rule.indicators:
            indicator = self.indicators.get(code)
            if indicator is None or not indicator.value_type.is_numeric:
                raise ValueError(f"rule {rule.code}: {code} is not a numeric indicator")
        if self.rules.get(rule.code) == rule:
            return False
        self.trigger_event(self.RuleDefined, rule=rule.to_dict(), actor=actor, role=role)
        return True


CATALOGUE_ID = aggregate_id("catalogue")
