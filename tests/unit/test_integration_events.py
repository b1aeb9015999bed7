"""The typed contract: every domain event maps to its model, agency events name their agency, the doc is generated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from infra.integration_events import (
    BY_TYPE,
    GENERATED_BEGIN,
    GENERATED_END,
    MODELS,
    EventType,
    IntegrationEvent,
    from_domain_event,
    markdown,
)
from tests.unit.test_audit_canonical import every_kind_of_event

DOC = Path(__file__).parents[2] / "docs" / "EVENTS.md"


def published() -> list[IntegrationEvent]:
    return [from_domain_event(event, position) for position, event in enumerate(every_kind_of_event(), 1)]


def test_every_event_type_has_one_model() -> None:
    assert set(BY_TYPE) == set(EventType)
    assert len(MODELS) == len(EventType)


def test_every_published_event_validates_against_its_typed_model() -> None:
    events = published()
    assert {e.event_type for e in events} == set(EventType) - {
        EventType.REPORT_DEFINITION_CREATED,
        EventType.REPORT_DEFINITION_REVISED,
    }
    for event in events:
        details = event.details(BY_TYPE[event.event_type])  # extra="forbid": no field unknown to the model
        assert details.model_fields_set == set(event.data)


def test_details_refuses_another_type() -> None:
    event = published()[0]
    other = next(model for kind, model in BY_TYPE.items() if kind is not event.event_type)
    with pytest.raises(ValueError, match="is not a"):
        event.details(other)


def test_agency_events_name_their_agency() -> None:
    agency_events = [e for e in published() if e.aggregate == "agency"]
    access = [e for e in published() if e.aggregate in ("account", "api_token")]
    assert {e.agency for e in access} == {"P99", None}
    assert {e.event_type for e in agency_events} == {
        EventType.AGENCY_REGISTERED,
        EventType.AGENCY_RENAMED,
        EventType.AGENCY_TEMPLATE_ASSIGNED,
        EventType.AGENCY_CLOSED,
        EventType.AGENCY_ELECTRONIC_CODE_ASSIGNED,
    }
    assert {e.agency for e in agency_events} == {"P99"}
    assert all(e.key == b"P99" for e in agency_events)


def test_unknown_event_type_is_refused() -> None:
    event: dict[str, Any] = published()[0].model_dump(mode="json")
    event["event_type"] = "SomethingElse"
    with pytest.raises(ValueError, match="event_type"):
        IntegrationEvent.model_validate(event)


def test_events_doc_holds_the_generated_part() -> None:
    text = DOC.read_text("utf-8")
    start, end = text.index(GENERATED_BEGIN), text.index(GENERATED_END) + len(GENERATED_END)
    assert text[start:end] == markdown(), "docs/EVENTS.md is stale: paste `python -m infra.integration_events`"
