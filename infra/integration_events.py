"""The published contract: integration events on the Kafka topic (decision 4).

Not the library's stored bytes: an explicit, versioned schema, documented in
docs/EVENTS.md, whose bytes are canonical (sorted keys, UTF-8, one form per
value) so that anyone can hash them, and the transparency log does.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, cast
from uuid import UUID

import orjson
from eventsourcing.domain import DomainEvent, DomainEventProtocol
from pydantic import BaseModel, ConfigDict, StrictBool, StrictInt, StrictStr, field_serializer

from domain.agencies import Agency
from domain.catalogue import Catalogue
from domain.ids import event_id
from domain.report_definitions import ReportDefinition
from domain.submission import Submission
from domain.templates import Template

SCHEMA_VERSION = 1

JsonValue = StrictBool | StrictInt | StrictStr | None

# Every domain event class and its published name. A domain event missing here
# cannot be published: adding one is a deliberate change of the contract.
EVENT_TYPES: dict[type[Any], tuple[str, str]] = {
    Submission.Opened: ("submission", "SubmissionOpened"),
    Submission.IndicatorValueSubmitted: ("submission", "IndicatorValueSubmitted"),
    Submission.IndicatorValueCorrected: ("submission", "IndicatorValueCorrected"),
    Submission.ReportSubmitted: ("submission", "ReportSubmitted"),
    Submission.ReportApproved: ("submission", "ReportApproved"),
    Submission.ReportReturned: ("submission", "ReportReturned"),
    Submission.ReportReopened: ("submission", "ReportReopened"),
    Catalogue.Created: ("catalogue", "CatalogueCreated"),
    Catalogue.IndicatorDefined: ("catalogue", "IndicatorDefined"),
    Catalogue.RuleDefined: ("catalogue", "RuleDefined"),
    Template.Created: ("template", "TemplateCreated"),
    Template.VersionPublished: ("template", "TemplateVersionPublished"),
    Agency.Registered: ("agency", "AgencyRegistered"),
    Agency.TemplateAssigned: ("agency", "AgencyTemplateAssigned"),
    Agency.Renamed: ("agency", "AgencyRenamed"),
    Agency.Closed: ("agency", "AgencyClosed"),
    ReportDefinition.Created: ("report_definition", "ReportDefinitionCreated"),
    ReportDefinition.Revised: ("report_definition", "ReportDefinitionRevised"),
}

# Fields lifted to the top level of the message; the rest goes to `data`.
_TOP_LEVEL = ("agency", "period", "indicator", "value", "previous_value", "actor", "role", "reason")
_LIBRARY_FIELDS = ("originator_id", "originator_version", "timestamp", "originator_topic")


class IntegrationEvent(BaseModel):
    """One published event. `position` is the event store's notification id."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: StrictInt = SCHEMA_VERSION
    event_id: UUID
    position: StrictInt
    event_type: StrictStr
    aggregate: StrictStr
    aggregate_id: UUID
    aggregate_version: StrictInt
    agency: StrictStr | None = None
    period: StrictStr | None = None
    indicator: StrictStr | None = None
    value: JsonValue = None
    previous_value: JsonValue = None
    actor: StrictStr | None = None
    role: StrictStr | None = None
    reason: StrictStr | None = None
    occurred_at: datetime
    data: dict[str, Any] = {}

    @field_serializer("occurred_at")
    def _utc_microseconds(self, value: datetime) -> str:
        # One textual form per instant: UTC, microseconds, "Z".
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def to_bytes(self) -> bytes:
        """The canonical bytes: what is published and what the transparency log hashes."""
        return orjson.dumps(self.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)

    @classmethod
    def from_bytes(cls, data: bytes) -> IntegrationEvent:
        return cls.model_validate(orjson.loads(data))

    @property
    def key(self) -> bytes:
        """The Kafka key: the agency, so one agency's events stay in order on one partition."""
        return (self.agency or f"~{self.aggregate}").encode()

    def headers(self) -> list[tuple[str, bytes]]:
        return [
            ("notification_id", str(self.position).encode()),
            ("event_type", self.event_type.encode()),
            ("schema_version", str(self.schema_version).encode()),
        ]


def to_json(value: Any) -> Any:
    """Domain values to JSON: decimals and dates as strings, enums by value."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value


def from_domain_event(event: DomainEventProtocol[UUID], position: int) -> IntegrationEvent:
    """Map a stored domain event to its published form."""
    try:
        aggregate, event_type = EVENT_TYPES[type(event)]
    except KeyError:
        raise TypeError(f"{type(event).__qualname__} is not part of the published contract") from None
    fields = {k: v for k, v in vars(event).items() if k not in _LIBRARY_FIELDS}
    top = {name: to_json(fields.pop(name)) for name in _TOP_LEVEL if name in fields}
    return IntegrationEvent(
        event_id=event_id(event.originator_id, event.originator_version),
        position=position,
        event_type=event_type,
        aggregate=aggregate,
        aggregate_id=event.originator_id,
        aggregate_version=event.originator_version,
        occurred_at=cast(DomainEvent, event).timestamp,
        data=to_json(fields),
        **top,
    )
