"""The request being served: its id, its channel, who made it and on what, in a context variable.

The HTTP edge (`services/http/observability.py`) binds one for the whole request: the id it
accepted from `X-Request-ID` or generated. The event store writes the id into every event the
request stores (`infra.event_store_base.ReportingMapper`), the relay carries it in the Kafka
headers, and the projector logs it when it applies the event: one id from the edge to the read
model. The write application counts values by the channel (api, web, import); the request's log
line names the subject, agency and period recorded here.

Work outside HTTP that stores events (an import job, the seed) may bind its own:
`with request_context.bound(RequestContext(new_request_id(), channel="import")): ...`, or
`with request_context.channel("import"):` inside a request to count its values as imported.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

REQUEST_ID_HEADER = "X-Request-ID"
# What a client may send as its own id: ids of the usual tracing schemes (UUIDs, hex trace ids,
# `name:123`), never anything that could break a log line or a header.
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
NO_CHANNEL = "internal"  # values stored outside any request (the seed, demo data, scripts)


@dataclass
class RequestContext:
    """Mutable on purpose: dependencies running in worker threads fill in who is asking."""

    request_id: str
    channel: str = NO_CHANNEL
    subject: str | None = None  # the token's subject or the person's username
    role: str | None = None
    agency: str | None = None
    period: str | None = None


_current: ContextVar[RequestContext | None] = ContextVar("reporting_request", default=None)


def new_request_id() -> str:
    return uuid.uuid4().hex


def accepted_request_id(value: str | None) -> str | None:
    """The client's request id if it is acceptable (None otherwise: the edge generates one)."""
    if value is None or not _VALID_REQUEST_ID.fullmatch(value):
        return None
    return value


def current() -> RequestContext | None:
    return _current.get()


def current_request_id() -> str | None:
    context = _current.get()
    return None if context is None else context.request_id


def current_channel() -> str:
    context = _current.get()
    return NO_CHANNEL if context is None else context.channel


@contextmanager
def bound(context: RequestContext) -> Iterator[RequestContext]:
    """`context` is the current request's within the block (threads started from it inherit a copy)."""
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


@contextmanager
def channel(name: str) -> Iterator[RequestContext]:
    """Values stored within the block count under channel `name`; a context with a new id if none is bound."""
    context = _current.get()
    if context is None:
        with bound(RequestContext(new_request_id(), channel=name)) as fresh:
            yield fresh
        return
    before = context.channel
    context.channel = name
    try:
        yield context
    finally:
        context.channel = before


def identify(subject: str, role: str | None = None) -> None:
    """Who is asking, once authenticated (a no-op outside a request)."""
    context = _current.get()
    if context is not None:
        context.subject = subject
        context.role = role
