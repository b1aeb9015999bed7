"""The canonical integration-event bytes of stored events, fast: the leaves of the transparency log.

`IntegrationEvent.to_bytes(from_domain_event(...))` (`infra.integration_events`) is the contract;
it builds domain event objects and a pydantic model per event (~12,000 events/s here). The
checkpointer, `audit verify --from-store` and `audit replay --from-store` read whole logs, so
`canonical_bytes` builds the same JSON straight from the stored row (~10x faster). It handles the
transcodings our events use; anything else (an unknown topic or transcoding, an upcast, a field
of an unexpected type) goes through the contract's own code, so the result is the contract's bytes
or the contract's error. tests/unit/test_audit_canonical.py checks both paths give the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from hashlib import sha1, sha256
from typing import Any
from uuid import UUID

import orjson
import psycopg
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic
from psycopg import sql
from psycopg.rows import TupleRow

from domain.ids import NAMESPACE
from infra.event_store import EVENTS_TABLE, ReportingApplication
from infra.integration_events import (
    LIBRARY_FIELDS,
    MODELS,
    SCHEMA_VERSION,
    TOP_LEVEL,
    EventData,
    IntegrationEvent,
    format_instant,
    from_domain_event,
)

TOPICS: dict[str, type[EventData]] = {get_topic(cls): model for cls, model in MODELS.items()}
_NAMESPACE_BYTES = NAMESPACE.bytes
_VALUE_TYPES = (bool, int, str, type(None))
_TEXT_TYPES = (str, type(None))


class Fallback(Exception):
    """This row needs the contract's own (slow) mapping."""


@dataclass(frozen=True, slots=True)
class StoredRow:
    """One row of the event store, as read for the transparency log."""

    position: int
    originator_id: str  # canonical UUID text (as PostgreSQL prints it)
    originator_version: int
    topic: str
    state: bytes


@dataclass(frozen=True, slots=True)
class Leaf:
    """One event as the transparency log sees it. `canonical` is None when the row cannot be mapped."""

    position: int
    event_id: str
    canonical: bytes | None
    error: str | None = None

    @property
    def leaf_hash(self) -> bytes:
        """SHA-256(0x00 || canonical bytes); an unreadable row hashes its error (it can never match)."""
        data = self.canonical if self.canonical is not None else b"\xff" + (self.error or "").encode()
        return sha256(b"\x00" + data).digest()


def fast_event_id(originator_id: UUID | str, version: int) -> str:
    """`domain.ids.event_id` as a string, without building UUID objects (UUIDv5, RFC 4122)."""
    digest = bytearray(sha1(_NAMESPACE_BYTES + f"event/{originator_id}/{version}".encode()).digest()[:16])  # noqa: S324 - UUIDv5 is SHA-1 by definition
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _instant(text: str) -> str:
    if len(text) == 32 and text.endswith("+00:00") and text[19] == ".":
        return text[:26] + "Z"
    return datetime.fromisoformat(text).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _decode(value: Any) -> Any:
    """Undo the library's JSON transcodings and apply `to_json`, in one pass."""
    if isinstance(value, dict):
        if len(value) == 2 and "_type_" in value and "_data_" in value:
            kind, data = value["_type_"], value["_data_"]
            if kind == "datetime_iso":
                return _instant(data)
            if kind == "decimal_str":
                return format(Decimal(data), "f")
            if kind == "uuid_hex":
                return str(UUID(data))
            if kind == "date_iso":
                return date.fromisoformat(data).isoformat()
            raise Fallback(kind)
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def fast_canonical(row: StoredRow) -> tuple[str, bytes]:
    """(event id, canonical bytes) of a stored row; raises Fallback when it needs the contract's code."""
    try:
        model = TOPICS[row.topic]
    except KeyError:
        raise Fallback(row.topic) from None
    state = orjson.loads(row.state)
    if type(state) is not dict or "class_version" in state:
        raise Fallback("state")
    stamp = state.get("timestamp")
    if type(stamp) is not dict or stamp.get("_type_") != "datetime_iso":
        raise Fallback("timestamp")
    event_id = fast_event_id(row.originator_id, row.originator_version)
    top: dict[str, Any] = {}
    for name in TOP_LEVEL:
        value = state.pop(name, None)
        if type(value) is dict:
            value = _decode(value)
        allowed = _VALUE_TYPES if name in ("value", "previous_value") else _TEXT_TYPES
        if type(value) not in allowed:  # the model's strict types: anything else is the contract's to judge
            raise Fallback(name)
        top[name] = value
    for name in LIBRARY_FIELDS:
        state.pop(name, None)
    data = _decode(state) if state else {}
    if model.agency_field is not None and top["agency"] is None:
        agency = data.get(model.agency_field)
        if type(agency) not in _TEXT_TYPES:
            raise Fallback("agency")
        top["agency"] = agency
    # Keys in sorted order already (checked against the contract by the tests): only `data` needs sorting.
    message: dict[str, Any] = {
        "actor": top["actor"],
        "agency": top["agency"],
        "aggregate": model.aggregate,
        "aggregate_id": row.originator_id,
        "aggregate_version": row.originator_version,
        "data": data,
        "event_id": event_id,
        "event_type": model.event_type.value,
        "indicator": top["indicator"],
        "occurred_at": _instant(stamp["_data_"]),
        "period": top["period"],
        "position": row.position,
        "previous_value": top["previous_value"],
        "reason": top["reason"],
        "role": top["role"],
        "schema_version": SCHEMA_VERSION,
        "value": top["value"],
    }
    return event_id, orjson.dumps(message, option=orjson.OPT_SORT_KEYS if data else 0)


class CanonicalMapper:
    """Stored rows -> leaves, with the contract's mapping as the fallback (and as the judge of errors)."""

    def __init__(self, app: ReportingApplication | None = None) -> None:
        self._app = app

    def _slow(self, row: StoredRow) -> tuple[str, bytes]:
        if self._app is None:
            raise RuntimeError("no event store application for the slow path")
        stored = StoredEvent(UUID(row.originator_id), row.originator_version, row.topic, row.state)
        event = from_domain_event(self._app.mapper.to_domain_event(stored), row.position)
        return str(event.event_id), event.to_bytes()

    def leaf(self, row: StoredRow) -> Leaf:
        try:
            event_id, canonical = fast_canonical(row)
        except Exception:
            try:
                event_id, canonical = self._slow(row)
            except Exception as error:
                return Leaf(row.position, fast_event_id(row.originator_id, row.originator_version), None, str(error))
        return Leaf(row.position, event_id, canonical)


def read_store_batch(
    conn: psycopg.Connection[TupleRow], after: int, limit: int, until: int | None = None
) -> list[StoredRow]:
    """Up to `limit` rows of the event store with position > after (and <= until), in position order.

    COPY in binary: about twice as fast as a query's result set for whole-log reads.
    """
    rows = []
    query = (
        f"COPY (SELECT notification_id, originator_id::text, originator_version, topic, state FROM {EVENTS_TABLE}"
        " WHERE notification_id > {after} AND notification_id <= {until} ORDER BY notification_id LIMIT {limit})"
        " TO STDOUT (FORMAT BINARY)"
    )
    statement = sql.SQL(query).format(
        after=sql.Literal(int(after)),
        until=sql.Literal(int(until) if until is not None else 2**63 - 1),
        limit=sql.Literal(int(limit)),
    )
    with conn.cursor() as cur, cur.copy(statement) as copy:
        copy.set_types(["int8", "text", "int8", "text", "bytea"])
        for position, originator_id, version, topic, state in copy.rows():
            rows.append(StoredRow(position, originator_id, version, topic, state))
    return rows


def read_store(
    conn: psycopg.Connection[TupleRow], *, after: int = 0, until: int | None = None, batch: int = 10_000
) -> Iterator[list[StoredRow]]:
    """The event store's rows with position > after (and <= until), in position order, in batches."""
    while rows := read_store_batch(conn, after, batch, until):
        yield rows
        after = rows[-1].position


_EVENT_FIELDS = (
    "schema_version",
    "event_id",
    "position",
    "event_type",
    "aggregate",
    "aggregate_id",
    "aggregate_version",
    "agency",
    "period",
    "indicator",
    "value",
    "previous_value",
    "actor",
    "role",
    "reason",
    "occurred_at",
    "data",
)
# If the model gains a field, the fast form below would be wrong: use the model's own from then on.
_FAST_EVENT_BYTES = tuple(IntegrationEvent.model_fields) == _EVENT_FIELDS


def event_bytes(event: IntegrationEvent) -> bytes:
    """`event.to_bytes()`, without pydantic's serializer (the projector calls this for every event)."""
    if not _FAST_EVENT_BYTES:
        return event.to_bytes()
    try:
        return orjson.dumps(
            {
                "schema_version": event.schema_version,
                "event_id": str(event.event_id),
                "position": event.position,
                "event_type": event.event_type.value,
                "aggregate": event.aggregate,
                "aggregate_id": str(event.aggregate_id),
                "aggregate_version": event.aggregate_version,
                "agency": event.agency,
                "period": event.period,
                "indicator": event.indicator,
                "value": event.value,
                "previous_value": event.previous_value,
                "actor": event.actor,
                "role": event.role,
                "reason": event.reason,
                "occurred_at": format_instant(event.occurred_at),
                "data": event.data,
            },
            option=orjson.OPT_SORT_KEYS,
        )
    except TypeError:  # something in `data` orjson cannot write natively: the model knows how
        return event.to_bytes()
