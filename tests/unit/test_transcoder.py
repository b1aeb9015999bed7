"""The event store's transcoder gives exactly what the library's JSON transcoder gives, encoding and decoding."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, UUIDAsHex
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.event_store_base import DateAsISO, ReportingTranscoder


def _registered(transcoder: JSONTranscoder) -> JSONTranscoder:
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO(), DateAsISO()):
        transcoder.register(transcoding)
    return transcoder


LIBRARY = _registered(JSONTranscoder())
OURS = _registered(ReportingTranscoder())

zones = st.sampled_from([UTC, timezone(timedelta(hours=7)), timezone(timedelta(hours=-3, minutes=-30))])
flat_values = st.one_of(
    st.text(),
    st.integers(),  # beyond 64 bits too
    st.booleans(),
    st.none(),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.datetimes(timezones=zones),
    st.dates(),
)
flat_states = st.dictionaries(st.text(), flat_values, max_size=12)
json_like = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text()),
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(st.text(), children, max_size=4)),
    max_leaves=20,
)


@settings(max_examples=400)
@given(flat_states)
def test_a_flat_state_is_encoded_to_the_same_bytes(state: dict[str, Any]) -> None:
    assert OURS.encode(state) == LIBRARY.encode(state)


@settings(max_examples=300)
@given(st.dictionaries(st.text(), st.one_of(flat_values, st.lists(flat_values, max_size=3)), max_size=6))
def test_any_state_decodes_to_what_the_library_decodes(state: dict[str, Any]) -> None:
    stored = LIBRARY.encode(state)
    assert OURS.decode(stored) == LIBRARY.decode(stored) == state


@settings(max_examples=300)
@given(json_like)
def test_any_json_decodes_as_the_library_decodes_it(document: Any) -> None:
    stored = json.dumps(document).encode()
    decoded = OURS.decode(stored)
    assert decoded == LIBRARY.decode(stored)
    assert type(decoded) is type(LIBRARY.decode(stored))


def test_a_value_event_state_is_encoded_by_orjson_and_the_rest_by_the_library() -> None:
    state = {"timestamp": datetime(2026, 12, 1, 8, 0, tzinfo=UTC), "indicator": "DT01", "value": Decimal("1.50")}
    assert OURS.encode(state) == (
        b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-12-01T08:00:00+00:00"},'
        b'"indicator":"DT01","value":{"_type_":"decimal_str","_data_":"1.50"}}'
    )
    assert OURS.decode(OURS.encode({"n": 2**70})) == {"n": 2**70}, "an integer beyond 64 bits stays exact"
    nested = {"effective": [date(2026, 1, 1)], "name": "Sở Tài chính"}
    assert OURS.encode(nested) == LIBRARY.encode(nested)
