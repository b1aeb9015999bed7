"""The published contract: integration events on the Kafka topic (docs/DECISIONS.md, "Integration events").

Not the library's stored bytes: an explicit, versioned schema whose bytes are canonical (sorted
keys, UTF-8, one form per value) so that anyone can hash them, and the transparency log does.

Every event type has one model here (`EventData` subclasses: the event's own fields, typed), and
`EventType` names them; consumers compare `event.event_type` with its members and read the typed
fields with `event.details(Model)`. docs/EVENTS.md is generated from these models
(`python -m infra.integration_events`) and a test keeps it equal.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Any, ClassVar, TypeVar, cast
from uuid import UUID

import orjson
from eventsourcing.domain import DomainEvent, DomainEventProtocol
from pydantic import BaseModel, ConfigDict, StrictBool, StrictInt, StrictStr, field_serializer

from domain.access import Account, ApiToken
from domain.agencies import Agency
from domain.catalogue import Catalogue, Indicator
from domain.ids import event_id
from domain.report_definitions import ReportDefinition
from domain.rules import Rule
from domain.submission import Submission
from domain.templates import Template

SCHEMA_VERSION = 1

JsonValue = StrictBool | StrictInt | StrictStr | None


class EventType(StrEnum):
    SUBMISSION_OPENED = "SubmissionOpened"
    VALUE_SUBMITTED = "IndicatorValueSubmitted"
    VALUE_CORRECTED = "IndicatorValueCorrected"
    REPORT_SUBMITTED = "ReportSubmitted"
    REPORT_APPROVED = "ReportApproved"
    REPORT_RETURNED = "ReportReturned"
    REPORT_REOPENED = "ReportReopened"
    REPORT_RECALLED = "ReportRecalled"
    CATALOGUE_CREATED = "CatalogueCreated"
    INDICATOR_DEFINED = "IndicatorDefined"
    RULE_DEFINED = "RuleDefined"
    TEMPLATE_CREATED = "TemplateCreated"
    TEMPLATE_VERSION_PUBLISHED = "TemplateVersionPublished"
    AGENCY_REGISTERED = "AgencyRegistered"
    AGENCY_TEMPLATE_ASSIGNED = "AgencyTemplateAssigned"
    AGENCY_RENAMED = "AgencyRenamed"
    AGENCY_CLOSED = "AgencyClosed"
    AGENCY_ELECTRONIC_CODE_ASSIGNED = "AgencyElectronicCodeAssigned"
    REPORT_DEFINITION_CREATED = "ReportDefinitionCreated"
    REPORT_DEFINITION_REVISED = "ReportDefinitionRevised"
    ACCOUNT_CREATED = "AccountCreated"
    ACCOUNT_ROLE_GRANTED = "AccountRoleGranted"
    ACCOUNT_ROLE_WITHDRAWN = "AccountRoleWithdrawn"
    ACCOUNT_RENAMED = "AccountRenamed"
    ACCOUNT_DISABLED = "AccountDisabled"
    ACCOUNT_ENABLED = "AccountEnabled"
    ACCOUNT_PASSWORD_SET = "AccountPasswordSet"  # noqa: S105 - an event name
    ACCOUNT_SIGNED_OUT_EVERYWHERE = "AccountSignedOutEverywhere"
    TOKEN_ISSUED = "ApiTokenIssued"  # noqa: S105 - an event name
    TOKEN_REVOKED = "ApiTokenRevoked"  # noqa: S105 - an event name


VALUE_EVENTS = frozenset({EventType.VALUE_SUBMITTED, EventType.VALUE_CORRECTED})
LIFECYCLE_EVENTS = frozenset(
    {
        EventType.SUBMISSION_OPENED,
        EventType.REPORT_SUBMITTED,
        EventType.REPORT_APPROVED,
        EventType.REPORT_RETURNED,
        EventType.REPORT_REOPENED,
        EventType.REPORT_RECALLED,
    }
)
ACCESS_EVENTS = frozenset(
    {
        EventType.ACCOUNT_CREATED,
        EventType.ACCOUNT_ROLE_GRANTED,
        EventType.ACCOUNT_ROLE_WITHDRAWN,
        EventType.ACCOUNT_RENAMED,
        EventType.ACCOUNT_DISABLED,
        EventType.ACCOUNT_ENABLED,
        EventType.ACCOUNT_PASSWORD_SET,
        EventType.ACCOUNT_SIGNED_OUT_EVERYWHERE,
        EventType.TOKEN_ISSUED,
        EventType.TOKEN_REVOKED,
    }
)

# Fields lifted to the top level of the message, for every event that has them; the rest goes to `data`.
TOP_LEVEL = ("agency", "period", "indicator", "value", "previous_value", "actor", "role", "reason")
REQUEST_ID_FIELD = "request_id"
# Stored beside an event's fields by our mapper (infra/event_store_base.py), not fields of the event:
# they travel in the message's headers, never in its canonical bytes.
METADATA_FIELDS = (REQUEST_ID_FIELD,)
LIBRARY_FIELDS = ("originator_id", "originator_version", "timestamp", "originator_topic", *METADATA_FIELDS)

HEADERS: tuple[tuple[str, str], ...] = (
    ("notification_id", "the global position, decimal ASCII"),
    ("event_type", "e.g. `IndicatorValueSubmitted`"),
    ("schema_version", f"`{SCHEMA_VERSION}`"),
    (
        REQUEST_ID_FIELD,
        "the id of the request that stored the event (the client's `X-Request-ID`, or the one the HTTP edge"
        " generated), stored with the event; absent for events stored outside a request. Not in the value:"
        " the canonical bytes, and so the transparency log, do not depend on it",
    ),
)
"""Every header of a message, in order, with its meaning (docs/EVENTS.md is generated from it)."""


class EventData(BaseModel):
    """The `data` member of one event type (its fields beyond the top-level ones), typed.

    `aggregate` and `summary` document the event type; `agency_field` names the `data` field that
    also gives the top-level `agency` when the domain event has no `agency` of its own.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[EventType]
    aggregate: ClassVar[str]
    summary: ClassVar[str]
    agency_field: ClassVar[str | None] = None


class SubmissionOpened(EventData):
    event_type = EventType.SUBMISSION_OPENED
    aggregate = "submission"
    summary = "the first value of an agency for a period; names the template and version the report follows"
    template: str
    template_version: int


class IndicatorValueSubmitted(EventData):
    event_type = EventType.VALUE_SUBMITTED
    aggregate = "submission"
    summary = (
        "a value for an indicator that had none (`indicator`, `value`); `source`: `sha256:<hex>` of the"
        " imported file it came from, null when entered directly"
    )
    source: str | None = None  # absent from events stored before imports existed


class IndicatorValueCorrected(EventData):
    event_type = EventType.VALUE_CORRECTED
    aggregate = "submission"
    summary = (
        "a changed value: `value`, `previous_value`, and `reason` after a first submission; `source` as for"
        " a submitted value"
    )
    source: str | None = None


class ReportSubmitted(EventData):
    event_type = EventType.REPORT_SUBMITTED
    aggregate = "submission"
    summary = "the agency submits the period's report (`reason` optional); timeliness on the Vietnamese calendar day"
    deadline: date
    late: bool
    days_late: int


class ReportRecalled(EventData):
    event_type = EventType.REPORT_RECALLED
    aggregate = "submission"
    summary = "the agency withdraws its submitted report before any review, to change it (`reason` required)"


class ReportApproved(EventData):
    event_type = EventType.REPORT_APPROVED
    aggregate = "submission"
    summary = "a ministry reviewer approves the report (`reason` optional)"


class ReportReturned(EventData):
    event_type = EventType.REPORT_RETURNED
    aggregate = "submission"
    summary = "a ministry reviewer returns the report for revision (`reason` required)"


class ReportReopened(EventData):
    event_type = EventType.REPORT_REOPENED
    aggregate = "submission"
    summary = "a ministry reviewer reopens an approved report (`reason` required)"


class CatalogueCreated(EventData):
    event_type = EventType.CATALOGUE_CREATED
    aggregate = "catalogue"
    summary = "the indicator catalogue is created (once)"


class IndicatorDefined(EventData):
    event_type = EventType.INDICATOR_DEFINED
    aggregate = "catalogue"
    summary = "an indicator is defined or redefined: `definition` as `domain.catalogue.Indicator.to_dict`"
    definition: dict[str, Any]

    def indicator(self) -> Indicator:
        return Indicator.from_dict(self.definition)


class RuleDefined(EventData):
    event_type = EventType.RULE_DEFINED
    aggregate = "catalogue"
    summary = "a cross-indicator validation rule: `rule` as `domain.rules.Rule.to_dict`"
    rule: dict[str, Any]

    def to_rule(self) -> Rule:
        return Rule.from_dict(self.rule)


class TemplateCreated(EventData):
    event_type = EventType.TEMPLATE_CREATED
    aggregate = "template"
    summary = "a report form (template) is created; `base` is the template it extends"
    code: str
    name_vi: str
    name_en: str
    applies_to: str
    base: str | None


class TemplateVersionPublished(EventData):
    event_type = EventType.TEMPLATE_VERSION_PUBLISHED
    aggregate = "template"
    summary = "a version of a template, in force from month `effective_from` (YYYY-MM)"
    version: int
    effective_from: str
    indicators: list[str]


class AgencyRegistered(EventData):
    event_type = EventType.AGENCY_REGISTERED
    aggregate = "agency"
    summary = "an agency joins the registry (`agency` is its code)"
    agency_field = "code"
    code: str
    name_vi: str
    name_en: str
    kind: str
    parent: str | None
    region: str | None
    template: str | None
    effective_from: date


class AgencyTemplateAssigned(EventData):
    event_type = EventType.AGENCY_TEMPLATE_ASSIGNED
    aggregate = "agency"
    summary = "the agency fills `template` for periods not opened yet"
    template: str


class AgencyRenamed(EventData):
    event_type = EventType.AGENCY_RENAMED
    aggregate = "agency"
    summary = "a new name from `effective_from`; earlier periods keep the name they were reported under"
    effective_from: date
    name_vi: str
    name_en: str


class AgencyClosed(EventData):
    event_type = EventType.AGENCY_CLOSED
    aggregate = "agency"
    summary = "the agency's last day is `effective_to`; with a `successor`, a merge"
    effective_to: date
    successor: str | None


class AgencyElectronicCodeAssigned(EventData):
    event_type = EventType.AGENCY_ELECTRONIC_CODE_ASSIGNED
    aggregate = "agency"
    summary = "the agency's electronic identifier code (QCVN 102:2016), which the national feed names it by"
    electronic_code: str


class _ReportDefinitionFields(EventData):
    code: str
    name_vi: str
    name_en: str
    period_kind: str
    scope: str
    indicators: list[str]


class ReportDefinitionCreated(_ReportDefinitionFields):
    event_type = EventType.REPORT_DEFINITION_CREATED
    aggregate = "report_definition"
    summary = "a derived report type: indicators, period kind and scope, produced from the monthly data"


class ReportDefinitionRevised(_ReportDefinitionFields):
    event_type = EventType.REPORT_DEFINITION_REVISED
    aggregate = "report_definition"
    summary = "a derived report type revised (the whole new definition)"


class _AccountFields(EventData):
    aggregate = "account"
    username: str


class AccountCreated(_AccountFields):
    event_type = EventType.ACCOUNT_CREATED
    summary = "a person's account: `agency` (null for the ministry), `display_name`, `roles`"
    display_name: str
    roles: list[str]


class AccountRoleGranted(_AccountFields):
    event_type = EventType.ACCOUNT_ROLE_GRANTED
    summary = "the account is granted the role `granted`"
    granted: str


class AccountRoleWithdrawn(_AccountFields):
    event_type = EventType.ACCOUNT_ROLE_WITHDRAWN
    summary = "the role `withdrawn` is taken from the account"
    withdrawn: str


class AccountRenamed(_AccountFields):
    event_type = EventType.ACCOUNT_RENAMED
    summary = "the account's display name changes"
    display_name: str


class AccountDisabled(_AccountFields):
    event_type = EventType.ACCOUNT_DISABLED
    summary = "the account can no longer sign in; its sessions end (`reason` optional)"


class AccountEnabled(_AccountFields):
    event_type = EventType.ACCOUNT_ENABLED
    summary = "a disabled account may sign in again"


class AccountPasswordSet(_AccountFields):
    event_type = EventType.ACCOUNT_PASSWORD_SET
    summary = "the password was set: by its owner (`by_self`) or reset by an administrator; never the password"
    by_self: bool


class AccountSignedOutEverywhere(_AccountFields):
    event_type = EventType.ACCOUNT_SIGNED_OUT_EVERYWHERE
    summary = "every session of the account was ended"


class ApiTokenIssued(EventData):
    event_type = EventType.TOKEN_ISSUED
    aggregate = "api_token"
    summary = "a system's API token: `token` (its public name), `token_role`, `agency`, `expires_at`; never the secret"
    token: str
    label: str
    token_role: str
    expires_at: datetime | None


class ApiTokenRevoked(EventData):
    event_type = EventType.TOKEN_REVOKED
    aggregate = "api_token"
    summary = "the token is refused from now on (`reason` optional)"
    token: str


# Every domain event class and its published model. A domain event missing here cannot be
# published: adding one is a deliberate change of the contract.
MODELS: dict[type[Any], type[EventData]] = {
    Submission.Opened: SubmissionOpened,
    Submission.IndicatorValueSubmitted: IndicatorValueSubmitted,
    Submission.IndicatorValueCorrected: IndicatorValueCorrected,
    Submission.ReportSubmitted: ReportSubmitted,
    Submission.ReportApproved: ReportApproved,
    Submission.ReportReturned: ReportReturned,
    Submission.ReportReopened: ReportReopened,
    Submission.ReportRecalled: ReportRecalled,
    Catalogue.Created: CatalogueCreated,
    Catalogue.IndicatorDefined: IndicatorDefined,
    Catalogue.RuleDefined: RuleDefined,
    Template.Created: TemplateCreated,
    Template.VersionPublished: TemplateVersionPublished,
    Agency.Registered: AgencyRegistered,
    Agency.TemplateAssigned: AgencyTemplateAssigned,
    Agency.Renamed: AgencyRenamed,
    Agency.Closed: AgencyClosed,
    Agency.ElectronicCodeAssigned: AgencyElectronicCodeAssigned,
    ReportDefinition.Created: ReportDefinitionCreated,
    ReportDefinition.Revised: ReportDefinitionRevised,
    Account.Created: AccountCreated,
    Account.RoleGranted: AccountRoleGranted,
    Account.RoleWithdrawn: AccountRoleWithdrawn,
    Account.DisplayNameChanged: AccountRenamed,
    Account.Disabled: AccountDisabled,
    Account.Enabled: AccountEnabled,
    Account.PasswordSet: AccountPasswordSet,
    Account.SignedOutEverywhere: AccountSignedOutEverywhere,
    ApiToken.Issued: ApiTokenIssued,
    ApiToken.Revoked: ApiTokenRevoked,
}
BY_TYPE: dict[EventType, type[EventData]] = {model.event_type: model for model in MODELS.values()}

D = TypeVar("D", bound=EventData)


class IntegrationEvent(BaseModel):
    """One published event. `position` is the event store's notification id."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: StrictInt = SCHEMA_VERSION
    event_id: UUID
    position: StrictInt
    event_type: EventType
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
        return format_instant(value)

    def details(self, model: type[D]) -> D:
        """The typed `data` of this event; ValueError if the event is of another type."""
        if model.event_type is not self.event_type:
            raise ValueError(f"a {self.event_type} event is not a {model.event_type}")
        return model.model_validate(self.data)

    def to_bytes(self) -> bytes:
        """The canonical bytes: what is published and what the transparency log hashes."""
        return orjson.dumps(self.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)

    @classmethod
    def from_bytes(cls, data: bytes) -> IntegrationEvent:
        # pydantic's own JSON parser: a third faster than orjson then validating the dict.
        return cls.model_validate_json(data)

    @property
    def key(self) -> bytes:
        """The Kafka key: the agency, so one agency's events stay in order on one partition."""
        return (self.agency or f"~{self.aggregate}").encode()

    def headers(self, request_id: str | None = None) -> list[tuple[str, bytes]]:
        """The message's headers (`HEADERS`); `request_id` is the stored event's (`request_id_of`)."""
        return message_headers(self.position, self.event_type.value, request_id, self.schema_version)


def message_headers(
    position: int, event_type: str, request_id: str | None, schema_version: int = SCHEMA_VERSION
) -> list[tuple[str, bytes]]:
    """The headers of the message of the event at `position` (`HEADERS`)."""
    headers = [
        ("notification_id", str(position).encode()),
        ("event_type", event_type.encode()),
        ("schema_version", str(schema_version).encode()),
    ]
    if request_id is not None:
        headers.append((REQUEST_ID_FIELD, request_id.encode()))
    return headers


def format_instant(value: datetime) -> str:
    """One textual form per instant: UTC, microseconds, "Z"."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def to_json(value: Any) -> Any:
    """Domain values to JSON: decimals and dates as strings, enums by value."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return format_instant(value)
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


def request_id_of(event: DomainEventProtocol[UUID]) -> str | None:
    """The id of the request that stored a domain event read back from the store (None if none)."""
    value = vars(event).get(REQUEST_ID_FIELD)
    return value if isinstance(value, str) else None


def event_type_name(event_class: type[Any]) -> str:
    """The published `event_type` of a domain event class (its class name if it is not published)."""
    model = MODELS.get(event_class)
    return event_class.__name__ if model is None else model.event_type.value


def from_domain_event(event: DomainEventProtocol[UUID], position: int) -> IntegrationEvent:
    """Map a stored domain event to its published form."""
    try:
        model = MODELS[type(event)]
    except KeyError:
        raise TypeError(f"{type(event).__qualname__} is not part of the published contract") from None
    fields = {k: v for k, v in vars(event).items() if k not in LIBRARY_FIELDS}
    top = {name: to_json(fields.pop(name)) for name in TOP_LEVEL if name in fields}
    data = to_json(fields)
    if model.agency_field is not None and top.get("agency") is None:
        top["agency"] = data.get(model.agency_field)
    return IntegrationEvent(
        event_id=event_id(event.originator_id, event.originator_version),
        position=position,
        event_type=model.event_type,
        aggregate=model.aggregate,
        aggregate_id=event.originator_id,
        aggregate_version=event.originator_version,
        occurred_at=cast(DomainEvent, event).timestamp,
        data=data,
        **top,
    )


def _markdown_types() -> str:
    """The event-type table of docs/EVENTS.md, from the models."""
    lines = ["| event_type | aggregate | `data` fields | when |", "|---|---|---|---|"]
    for model in MODELS.values():
        fields = ", ".join(f"`{name}`" for name in model.model_fields) or "none"
        lines.append(f"| `{model.event_type}` | {model.aggregate} | {fields} | {model.summary} |")
    return "\n".join(lines)


def _markdown_headers() -> str:
    """The header table of docs/EVENTS.md."""
    lines = ["| header | content |", "|---|---|"]
    lines += [f"| `{name}` | {meaning} |" for name, meaning in HEADERS]
    return "\n".join(lines)


def _markdown_envelope() -> str:
    """The envelope field list of docs/EVENTS.md, from the model."""
    return ", ".join(f"`{name}`" for name in IntegrationEvent.model_fields)


GENERATED_BEGIN = "<!-- generated by `python -m infra.integration_events`: do not edit by hand -->"
GENERATED_END = "<!-- end of generated part -->"


def markdown() -> str:
    """The generated part of docs/EVENTS.md."""
    return "\n".join(
        [
            GENERATED_BEGIN,
            "",
            f"Schema version {SCHEMA_VERSION}. Envelope fields, in this order: {_markdown_envelope()}.",
            "",
            "Headers of every message (UTF-8 values), in this order:",
            "",
            _markdown_headers(),
            "",
            _markdown_types(),
            "",
            GENERATED_END,
        ]
    )


if __name__ == "__main__":
    print(markdown())
