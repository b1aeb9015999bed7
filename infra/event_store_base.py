"""What the PostgreSQL and the in-memory event stores share: how events are encoded, and the write
side's event-store port (`services.ingest.application.ports.EventStore`) on an `eventsourcing` application.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID

import orjson
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate, DomainEventProtocol
from eventsourcing.persistence import JSONTranscoder, Mapper, StoredEvent, Transcoding

from infra import metrics
from infra.integration_events import REQUEST_ID_FIELD, event_type_name
from infra.request_context import current_request_id


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


def register_transcodings(transcoder: JSONTranscoder) -> None:
    """Our types beyond the library's (dates of agency changes)."""
    transcoder.register(DateAsISO())


# Types whose orjson encoding is byte for byte the library's (the dates through its transcodings).
_FLAT = frozenset({str, int, bool, type(None), Decimal, datetime, date})
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME  # dates and datetimes go to the transcodings


class ReportingTranscoder(JSONTranscoder):
    """The library's JSON transcoder, with orjson where it gives the same result in a fraction of the time.

    Encoding: the state of an event whose fields are all of plain types (every value event) is
    written by orjson, which writes the same bytes as the library's encoder (a property test checks
    it) about five times faster; anything else, or an integer beyond 64 bits, by the library's.
    Decoding: orjson reads integers beyond 64 bits as floats, and no event field is a float, so a
    state in which orjson finds a float is read again by the library's decoder.
    """

    def encode(self, obj: Any) -> bytes:
        if type(obj) is dict and all(type(value) in _FLAT for value in obj.values()):
            try:
                return orjson.dumps(obj, default=self._encode_obj, option=_ORJSON_OPTIONS)
            except orjson.JSONEncodeError:
                pass
        return super().encode(obj)

    def decode(self, data: bytes) -> Any:
        try:
            return self._revive(orjson.loads(data))
        except (_NotExact, orjson.JSONDecodeError):  # NaN, for one, is read by the library's decoder only
            return super().decode(data)

    def _revive(self, obj: Any) -> Any:
        """What the library's decoder's object hook makes of each object, innermost first."""
        kind = type(obj)
        if kind is dict:
            for key, value in obj.items():
                if type(value) in _NESTED:
                    obj[key] = self._revive(value)
            return self._decode_obj(obj)
        if kind is list:
            return [self._revive(item) for item in obj]
        if kind is float:
            raise _NotExact
        return obj


_NESTED = frozenset({dict, list, float})


class _NotExact(Exception):
    """orjson read a number the library's decoder would read otherwise."""


class ReportingMapper(Mapper[UUID]):
    """The library's mapper, writing the id of the request being served into each stored event.

    The library's events have no metadata of their own: the id goes into the stored state beside
    the event's fields (`request_id`), comes back as an attribute of the event object, and is
    not part of the published event's canonical bytes (`infra.integration_events.METADATA_FIELDS`).
    """

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        request_id = current_request_id()
        if request_id is None or REQUEST_ID_FIELD in vars(domain_event):
            return super().to_stored_event(domain_event)
        stamped = copy.copy(domain_event)  # the aggregate's own event object stays as it was
        object.__setattr__(stamped, REQUEST_ID_FIELD, request_id)
        return super().to_stored_event(stamped)


def construct_mapper(application: Application[UUID]) -> Mapper[UUID]:
    """`Application.construct_mapper` with `ReportingMapper` and `ReportingTranscoder`."""
    transcoder = ReportingTranscoder()
    application.register_transcodings(transcoder)
    return application.factory.mapper(transcoder=transcoder, mapper_class=ReportingMapper)


class AnswerRecord(Protocol):
    """An Idempotency-Key answer to store in the transaction of a save (`idempotency=` of `Application.save`)."""

    @property
    def subject(self) -> str: ...

    @property
    def key(self) -> str: ...

    @property
    def fingerprint(self) -> bytes: ...

    @property
    def render(self) -> Callable[[Sequence[int]], bytes]: ...


@dataclass(frozen=True)
class StoredResponse:
    """The answer stored for an Idempotency-Key: the fingerprint of the request it answered, its body."""

    fingerprint: bytes
    body: bytes


@dataclass
class VersionsRead:
    """The versions of the aggregates one attempt of a command reads, from one query at its start.

    A command reads several aggregates (the agency, the submission, the template and catalogue its
    form is built from, the previous months for outlier warnings): each read is a cached aggregate
    whose version must be checked against the store, one round trip each. Read together, the
    versions take one; a cached aggregate at the version read is current as of that query. The
    versions of other aggregates, read later in the attempt, are kept too. A save in the scope
    empties it, so that what follows reads the store again.
    """

    asked: frozenset[UUID] = frozenset()
    found: dict[UUID, int] = field(default_factory=dict)

    def clear(self) -> None:
        self.asked, self.found = frozenset(), {}

    def add(self, asked: Sequence[UUID], found: dict[UUID, int]) -> None:
        """Versions read later in the attempt (an aggregate it had not named): they answer again too."""
        self.asked |= frozenset(asked)
        self.found.update(found)


# Per thread and task: each request's handler runs in a context of its own.
_VERSIONS_READ: ContextVar[VersionsRead | None] = ContextVar("versions_read", default=None)


def _forget_versions_read() -> None:
    read = _VERSIONS_READ.get()
    if read is not None:
        read.clear()


class LibraryEventStore:
    """Get and save through an `eventsourcing` application; the answers and versions are the subclass's."""

    def __init__(self) -> None:
        self._app: Application[UUID] | None = None

    @property
    def application(self) -> Application[UUID]:
        if self._app is None:
            raise RuntimeError("the event store is not open")
        return self._app

    def get(self, aggregate_id: UUID, *, read_only: bool = False) -> Aggregate | None:
        read = _VERSIONS_READ.get()
        if read is not None and aggregate_id in read.asked:
            version = read.found.get(aggregate_id)
            if version is None:
                return None  # no event when the versions were read
            cached = self.cached(aggregate_id)
            if cached is not None and cached.version == version:
                return cached if read_only else copy.deepcopy(cached)
        try:
            aggregate: object = self.application.repository.get(aggregate_id, deepcopy_from_cache=not read_only)
        except AggregateNotFoundError:
            return None
        return aggregate if isinstance(aggregate, Aggregate) else None

    def cached(self, aggregate_id: UUID) -> Aggregate | None:
        """The cached aggregate as last read or saved here, perhaps not the latest; never to be changed."""
        cache = self.application.repository.cache
        if cache is None:
            return None
        try:
            aggregate: object = cache.get(aggregate_id)
        except KeyError:
            return None
        return aggregate if isinstance(aggregate, Aggregate) else None

    def versions(self, aggregate_ids: Sequence[UUID]) -> dict[UUID, int]:
        read = _VERSIONS_READ.get()
        if read is None:
            return self.query_versions(aggregate_ids)
        if not read.asked.issuperset(aggregate_ids):
            read.add(aggregate_ids, self.query_versions([i for i in aggregate_ids if i not in read.asked]))
        return {i: read.found[i] for i in aggregate_ids if i in read.found}

    def query_versions(self, aggregate_ids: Sequence[UUID]) -> dict[UUID, int]:
        """The current version of each of these aggregates that exists, from the store itself."""
        raise NotImplementedError

    @contextmanager
    def versions_read_together(self) -> Iterator[Callable[[Sequence[UUID]], None]]:
        """The port's scope in which one query's versions answer `versions` and `get` (see `VersionsRead`)."""
        read = VersionsRead()

        def read_now(aggregate_ids: Sequence[UUID]) -> None:
            read.clear()
            read.add(aggregate_ids, self.query_versions(aggregate_ids))

        token = _VERSIONS_READ.set(read)
        try:
            yield read_now
        finally:
            _VERSIONS_READ.reset(token)

    def save(self, aggregate: Aggregate, answer: AnswerRecord | None = None, secrets: Sequence[Any] = ()) -> list[int]:
        _forget_versions_read()
        recordings = self.application.save(aggregate, idempotency=answer, secrets=tuple(secrets))
        self._cache(aggregate)
        metrics.events_stored(event_type_name(type(recording.domain_event)) for recording in recordings)
        return [recording.notification.id for recording in recordings]

    def save_all(self, aggregates: Sequence[Aggregate], answer: AnswerRecord | None = None) -> list[int]:
        """Several aggregates' pending events and the answer in one transaction (an all-or-nothing import)."""
        _forget_versions_read()
        recordings = self.application.save(*aggregates, idempotency=answer)
        self._cache(*aggregates)
        return [recording.notification.id for recording in recordings]

    def _cache(self, *aggregates: Aggregate) -> None:
        """Saved aggregates into the store's cache, so that the next command on one does not read its events again.

        The library fills its cache only as it reads (with fast-forward on, a get brings a cached
        aggregate up to date from the store, so a copy put here can never be served stale). A copy,
        because the handler still reads the one it saved.
        """
        cache = self.application.repository.cache
        if cache is None:
            return
        for aggregate in aggregates:
            cache.put(aggregate.id, copy.deepcopy(aggregate))

    def topic_states(self, topic: str, after: int) -> list[tuple[int, bytes]]:
        """(position, stored state) of every event of one topic after `after`, in order."""
        found: list[tuple[int, bytes]] = []
        while batch := self.application.recorder.select_notifications(
            start=after, limit=10_000, topics=(topic,), inclusive_of_start=False
        ):
            found += [(n.id, n.state) for n in batch]
            after = batch[-1].id
        return found
