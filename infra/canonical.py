"""The canonical integration-event bytes of stored events, fast: the relay's messages and the leaves
of the transparency log.

`IntegrationEvent.to_bytes(from_domain_event(...))` (`infra.integration_events`) is the contract;
it builds domain event objects and a pydantic model per event (~12,000 events/s here). The relay
publishes every event, and the checkpointer, `audit verify --from-store` and `audit replay
--from-store` read whole logs, so `canonical_parts` builds the same JSON straight from the stored
row (~10x faster), with the message's key and headers' contents beside it. It handles the
transcodings our events use; anything else (an unknown topic or transcoding, an upcast, a field
of an unexpected type) goes through the contract's own code, so the result is the contract's bytes
or the contract's error. tests/unit/test_audit_canonical.py checks both paths give the same bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from hashlib import sha1, sha256
from typing import Any
from uuid import UUID

import orjson
import psycopg
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic
from psycopg import sql
from psycopg.abc import Buffer
from psycopg.rows import TupleRow

from domain.ids import NAMESPACE
from infra.event_store import EVENTS_TABLE, ReportingApplication
from infra.integration_events import (
    LIBRARY_FIELDS,
    MODELS,
    REQUEST_ID_FIELD,
    SCHEMA_VERSION,
    TOP_LEVEL,
    EventData,
    IntegrationEvent,
    format_instant,
    from_domain_event,
    request_id_of,
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


_EVENT_ID_PREFIX = _NAMESPACE_BYTES + b"event/"
_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48)) & (2**128 - 1)  # version and variant bits
_UUID_V5 = (0x5000 << 64) | (0x8000 << 48)


def _event_id(originator_id: bytes, version: int) -> tuple[bytes, str]:
    """`domain.ids.event_id` of (canonical UUID text, version): its 16 bytes and its text (UUIDv5, RFC 4122)."""
    digest = sha1(_EVENT_ID_PREFIX + originator_id + b"/%d" % version).digest()  # noqa: S324 - UUIDv5 is SHA-1 by definition
    n = int.from_bytes(digest[:16]) & _UUID_CLEAR | _UUID_V5
    h = f"{n:032x}"
    return n.to_bytes(16), f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def fast_event_id(originator_id: UUID | str, version: int) -> str:
    """`domain.ids.event_id` as a string, without building UUID objects."""
    return _event_id(str(originator_id).encode(), version)[1]


def _instant(text: str) -> str:
    # strftime's %Y does not pad years before 1000: those take the contract's own formatting.
    if len(text) == 32 and text.endswith("+00:00") and text[19] == "." and text[0] != "0":
        return text[:26] + "Z"
    return format_instant(datetime.fromisoformat(text))


def _decode(value: Any) -> Any:
    """Undo the library's JSON transcodings and apply `to_json`, in one pass."""
    kind = type(value)
    if kind is dict:
        if len(value) == 2 and "_type_" in value and "_data_" in value:
            transcoding, data = value["_type_"], value["_data_"]
            if transcoding == "datetime_iso":
                return _instant(data)
            if transcoding == "decimal_str":
                return format(Decimal(data), "f")
            if transcoding == "uuid_hex":
                return str(UUID(data))
            if transcoding == "date_iso":
                return date.fromisoformat(data).isoformat()
            raise Fallback(transcoding)
        for v in value.values():
            inner = type(v)
            if inner is dict or inner is list or inner is float:
                return {k: _decode(v) for k, v in value.items()}
        return value  # nothing inside to decode (the common case): the same dict
    if kind is list:
        return [_decode(v) for v in value]
    if kind is float:  # orjson reads an integer past 64 bits as a float; the contract cannot write it at all
        raise Fallback("number")
    return value


# Per topic: (aggregate, event type, agency field); the enum's value read once, not per event.
_MODELS: dict[str, tuple[str, str, str | None]] = {
    topic: (model.aggregate, model.event_type.value, model.agency_field) for topic, model in TOPICS.items()
}
_VALUE_TYPE_SET = frozenset(_VALUE_TYPES)
_TEXT_TYPE_SET = frozenset(_TEXT_TYPES)
_OTHER_LIBRARY_FIELDS = tuple(name for name in LIBRARY_FIELDS if name not in ("timestamp", REQUEST_ID_FIELD))

RawRow = tuple[int, bytes, int, str | None, bytes | None]  # position, originator id (UUID text), version, topic, state
# What a stored event becomes: (event id's 16 bytes, event id, canonical bytes, Kafka key, event type,
# the id of the request that stored it, the instant as the contract writes it). A plain tuple: the
# verifier builds one per event of the whole log.
Parts = tuple[bytes, str, bytes, bytes, str, str | None, str]


def canonical_parts(position: int, originator_id: bytes, version: int, topic: str | None, state: bytes | None) -> Parts:
    """The `Parts` of one stored event; raises when it needs the contract's code.

    `originator_id` is the canonical UUID text as ASCII (as PostgreSQL prints it). Fallback (or
    any other exception) means: ask the contract (`CanonicalMapper`), which gives its bytes or
    names the error.
    """
    described = _MODELS.get(topic)  # type: ignore[arg-type]
    if described is None or state is None:
        raise Fallback(str(topic))
    fields = orjson.loads(state)
    if type(fields) is not dict or "class_version" in fields:
        raise Fallback("state")
    pop = fields.pop
    stamp = pop("timestamp", None)
    if type(stamp) is not dict or stamp.get("_type_") != "datetime_iso":
        raise Fallback("timestamp")
    occurred_at = _instant(stamp["_data_"])
    agency = pop("agency", None)
    period = pop("period", None)
    indicator = pop("indicator", None)
    value = pop("value", None)
    previous_value = pop("previous_value", None)
    actor = pop("actor", None)
    role = pop("role", None)
    reason = pop("reason", None)
    request_id = pop(REQUEST_ID_FIELD, None)
    # Transcoded values (dicts) decoded, then the model's strict types: anything else is the contract's.
    if type(value) is dict:
        value = _decode(value)
    if type(previous_value) is dict:
        previous_value = _decode(previous_value)
    if type(value) not in _VALUE_TYPE_SET or type(previous_value) not in _VALUE_TYPE_SET:
        raise Fallback("value")
    texts = [agency, period, indicator, actor, role, reason]
    for i, text in enumerate(texts):
        if type(text) is not str and text is not None:
            decoded = _decode(text) if type(text) is dict else text
            if type(decoded) not in _TEXT_TYPE_SET:
                raise Fallback(TOP_LEVEL[i])
            texts[i] = decoded
    agency, period, indicator, actor, role, reason = texts
    for name in _OTHER_LIBRARY_FIELDS:
        pop(name, None)
    data = _decode(fields) if fields else {}
    aggregate, event_type, agency_field = described
    if agency_field is not None and agency is None:
        agency = data.get(agency_field)
        if type(agency) not in _TEXT_TYPE_SET:
            raise Fallback("agency")
    id_bytes, event_id = _event_id(originator_id, version)
    # Keys in sorted order already (checked against the contract by the tests): only `data` may need sorting.
    message = {
        "actor": actor,
        "agency": agency,
        "aggregate": aggregate,
        "aggregate_id": originator_id.decode(),
        "aggregate_version": version,
        "data": data,
        "event_id": event_id,
        "event_type": event_type,
        "indicator": indicator,
        "occurred_at": occurred_at,
        "period": period,
        "position": position,
        "previous_value": previous_value,
        "reason": reason,
        "role": role,
        "schema_version": SCHEMA_VERSION,
        "value": value,
    }
    canonical = orjson.dumps(message, option=orjson.OPT_SORT_KEYS if data else 0)
    key = (agency or "~" + aggregate).encode()  # `IntegrationEvent.key`
    return id_bytes, event_id, canonical, key, event_type, request_id if type(request_id) is str else None, occurred_at


def fast_canonical(row: StoredRow) -> tuple[str, bytes]:
    """(event id, canonical bytes) of a stored row; raises Fallback when it needs the contract's code."""
    parts = canonical_parts(row.position, row.originator_id.encode(), row.originator_version, row.topic, row.state)
    return parts[1], parts[2]


class CanonicalMapper:
    """Stored rows -> leaves, with the contract's mapping as the fallback (and as the judge of errors)."""

    def __init__(self, app: ReportingApplication | None = None) -> None:
        self._app = app

    def parts(self, row: RawRow) -> Parts:
        """The `Parts` of a stored row, by the fast path where it can, else by the contract's code (and its errors)."""
        try:
            return canonical_parts(*row)
        except Exception:
            return self._contract_parts(row)

    def _contract_parts(self, row: RawRow) -> Parts:
        if self._app is None:
            raise RuntimeError("no event store application for the slow path")
        position, originator_id, version, topic, state = row
        if topic is None or state is None:
            raise ValueError(f"the stored event at {position} has no topic or no state")
        stored = StoredEvent(UUID(originator_id.decode()), version, topic, state)
        domain_event = self._app.mapper.to_domain_event(stored)
        event = from_domain_event(domain_event, position)
        return (
            event.event_id.bytes,
            str(event.event_id),
            event.to_bytes(),
            event.key,
            event.event_type.value,
            request_id_of(domain_event),
            format_instant(event.occurred_at),
        )

    def leaf(self, row: StoredRow) -> Leaf:
        raw = (row.position, row.originator_id.encode(), row.originator_version, row.topic, row.state)
        try:
            _, event_id, canonical, *_ = self.parts(raw)
        except Exception as error:
            return Leaf(row.position, fast_event_id(row.originator_id, row.originator_version), None, str(error))
        return Leaf(row.position, event_id, canonical)


_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
# A row of the COPY below: 5 fields; position and version (8 bytes each); the id's text (36 bytes); then
# the topic's length. Topic and state follow, each after its length (-1: NULL).
_ROW_HEAD = struct.Struct(">hiqiqi36si")
_LENGTH = struct.Struct(">i")


def _parse_copy(blocks: Iterable[Buffer]) -> list[RawRow]:
    """The rows of a binary COPY of (notification_id, originator_version, originator_id::text, topic, state).

    Parsed here rather than by psycopg's row reader (about 4 µs a row): one struct per row. PostgreSQL
    sends a row a block, but nothing relies on it: a row split across blocks waits for the rest.
    """
    rows: list[RawRow] = []
    append = rows.append
    unpack_head = _ROW_HEAD.unpack_from
    unpack_length = _LENGTH.unpack_from
    head_size = _ROW_HEAD.size
    pending = b""
    started = ended = False
    for block in blocks:
        data = pending + bytes(block) if pending else bytes(block)
        size = len(data)
        offset = 0
        if not started:
            if size < 19 or size < 19 + _LENGTH.unpack_from(data, 15)[0]:
                pending = data
                continue
            if not data.startswith(_COPY_SIGNATURE):
                raise ValueError("not a binary COPY")
            offset = 19 + _LENGTH.unpack_from(data, 15)[0]
            started = True
        while offset < size:
            if ended:
                raise ValueError("data after the end of the COPY")
            if data[offset : offset + 2] == b"\xff\xff":
                ended = True
                offset += 2
                continue
            if size - offset < head_size:
                break
            fields, n1, position, n2, version, n3, originator_id, topic_length = unpack_head(data, offset)
            if fields != 5 or n1 != 8 or n2 != 8 or n3 != 36:
                raise ValueError("unexpected COPY row")
            start = offset + head_size
            after_topic = start + max(topic_length, 0)
            if size < after_topic + 4:
                break
            (state_length,) = unpack_length(data, after_topic)
            end = after_topic + 4 + max(state_length, 0)
            if size < end:
                break
            topic = data[start:after_topic].decode() if topic_length >= 0 else None
            state = data[after_topic + 4 : end] if state_length >= 0 else None
            append((position, originator_id, version, topic, state))
            offset = end
        pending = data[offset:]
    if not ended or pending:
        raise ValueError("the COPY ended inside a row")
    return rows


def read_store_rows(
    conn: psycopg.Connection[TupleRow], after: int, limit: int, until: int | None = None
) -> list[RawRow]:
    """Up to `limit` rows of the event store with position > after (and <= until), in position order.

    COPY in binary: about twice as fast as a query's result set for whole-log reads.
    """
    query = (
        f"COPY (SELECT notification_id, originator_version, originator_id::text, topic, state FROM {EVENTS_TABLE}"
        " WHERE notification_id > {after} AND notification_id <= {until} ORDER BY notification_id LIMIT {limit})"
        " TO STDOUT (FORMAT BINARY)"
    )
    statement = sql.SQL(query).format(
        after=sql.Literal(int(after)),
        until=sql.Literal(int(until) if until is not None else 2**63 - 1),
        limit=sql.Literal(int(limit)),
    )
    with conn.cursor() as cur, cur.copy(statement) as copy:
        return _parse_copy(copy)


def read_store_events(
    conn: psycopg.Connection[TupleRow], mapper: CanonicalMapper, after: int, limit: int, until: int | None = None
) -> list[IntegrationEvent]:
    """`read_store_rows` as the integration events a consumer of the topic gets: read from their canonical
    bytes (the relay's messages), not built from domain events. ValueError for a row that cannot be read."""
    events = []
    for row in read_store_rows(conn, after, limit, until):
        try:
            canonical = mapper.parts(row)[2]
        except Exception as error:
            raise ValueError(f"stored event at position {row[0]} cannot be read: {error}") from error
        events.append(IntegrationEvent.from_bytes(canonical))
    return events


def read_store_batch(
    conn: psycopg.Connection[TupleRow], after: int, limit: int, until: int | None = None
) -> list[StoredRow]:
    """`read_store_rows` as StoredRows."""
    return [
        StoredRow(position, originator_id.decode(), version, topic, state)  # type: ignore[arg-type]
        for position, originator_id, version, topic, state in read_store_rows(conn, after, limit, until)
    ]


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


_ZERO = timedelta(0)


def _instant_json(value: datetime) -> datetime | str:
    """`format_instant`, or the datetime itself where orjson writes the same text (UTC, microseconds, "Z")."""
    if value.microsecond and value.year >= 1000 and value.utcoffset() == _ZERO:
        return value
    return format_instant(value)


def event_bytes(event: IntegrationEvent) -> bytes:
    """`event.to_bytes()`, without pydantic's serializer (the projector calls this for every event)."""
    if not _FAST_EVENT_BYTES:
        return event.to_bytes()
    data = event.data
    try:
        # Keys in sorted order (orjson writes UUIDs in their canonical text): only `data` may need sorting.
        return orjson.dumps(
            {
                "actor": event.actor,
                "agency": event.agency,
                "aggregate": event.aggregate,
                "aggregate_id": event.aggregate_id,
                "aggregate_version": event.aggregate_version,
                "data": data,
                "event_id": event.event_id,
                "event_type": event.event_type.value,
                "indicator": event.indicator,
                "occurred_at": _instant_json(event.occurred_at),
                "period": event.period,
                "position": event.position,
                "previous_value": event.previous_value,
                "reason": event.reason,
                "role": event.role,
                "schema_version": event.schema_version,
                "value": event.value,
            },
            option=(orjson.OPT_SORT_KEYS | orjson.OPT_UTC_Z) if data else orjson.OPT_UTC_Z,
        )
    except TypeError:  # something in `data` orjson cannot write natively: the model knows how
        return event.to_bytes()
