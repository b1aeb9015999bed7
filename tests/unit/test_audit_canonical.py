"""The fast canonical bytes (infra/canonical.py) are the contract's bytes, byte for byte.

The contract is `from_domain_event(...).to_bytes()` (infra/integration_events.py). Every kind of
event the domain makes goes through the library's own mapper (as the event store stores it) and
then through both paths.
"""

from __future__ import annotations

import itertools
import struct
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, Mapper, UUIDAsHex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.access import Account, ApiToken
from domain.agencies import Agency, AgencyKind
from domain.catalogue import Catalogue
from domain.identity import Principal, Role
from domain.ids import event_id
from domain.rules import Expression, Rule
from domain.values import ValueType
from infra.canonical import (
    CanonicalMapper,
    Fallback,
    RawRow,
    StoredRow,
    _parse_copy,
    event_bytes,
    fast_canonical,
    fast_event_id,
)
from infra.event_store_base import DateAsISO
from infra.integration_events import MODELS, EventType, IntegrationEvent, from_domain_event
from tests.unit.test_submission import AGENCY, ON_TIME, REVIEWER, indicator, make_form, new_submission


def library_mapper() -> Mapper[Any]:
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO(), DateAsISO()):
        transcoder.register(transcoding)
    return Mapper(transcoder)


def every_kind_of_event() -> list[Any]:
    from domain.periods import CIRCULAR_02_2023

    form = make_form()
    submission = new_submission(form)
    submission.enter_values(
        [("TOTAL", 100), ("BROADBAND", 0), ("RATE", "12.50"), ("HAS_PLAN", True), ("NOTE", 'Sở TT&TT =1+1 "q"')],
        form,
        AGENCY,
    )
    submission.enter_values([("TOTAL", 120), ("RATE", "0.0000001"), ("HAS_PLAN", False)], form, AGENCY)
    submission.submit(form, CIRCULAR_02_2023, ON_TIME, AGENCY)
    submission.return_for_revision(REVIEWER, "Thiếu số liệu")
    submission.enter_values([("TOTAL", 121)], form, AGENCY, reason="Sửa theo yêu cầu")
    submission.submit(form, CIRCULAR_02_2023, ON_TIME, AGENCY)
    submission.approve(REVIEWER)
    submission.reopen(REVIEWER, "Kiểm tra lại")
    submission.enter_values([("TOTAL", 122)], form, AGENCY, reason="Bổ sung")
    submission.submit(form, CIRCULAR_02_2023, ON_TIME, AGENCY, "Đã bổ sung")
    submission.recall(AGENCY, "Gửi nhầm")
    # Imported values name their file; a value stored before imports existed has no `source` at all.
    imported = "sha256:" + "ab" * 32
    submission.enter_values([("TOTAL", 123), ("BROADBAND", 7)], form, AGENCY, reason="Nhập từ tệp", source=imported)
    events: list[Any] = list(submission.collect_events())
    # The reference data of the form: catalogue and template events.
    events += form_events()
    catalogue = Catalogue(actor="admin:a")
    catalogue.define(indicator("X.Y", ValueType.DECIMAL, minimum=Decimal("0.5")), "admin:a", "admin")
    catalogue.define_rule(
        Rule("R1", "Quy tắc", "x <= 10", Expression(("X.Y",)), "<=", Expression(constant=Decimal(10))),
        "admin:a",
        "admin",
    )
    events += list(catalogue.collect_events())
    agency = Agency.register(
        "P99",
        "Sở Khoa học và Công nghệ Hà Nội",
        "Hanoi DOST",
        AgencyKind.PROVINCIAL_DEPARTMENT,
        None,
        "Hà Nội",
        "T",
        date(2025, 3, 1),
        "admin:a",
        "admin",
    )
    agency.rename(date(2025, 7, 1), "Sở KH&CN Hà Nội", "Hanoi DOST", "admin:a", "admin")
    agency.assign_template("T2", "admin:a", "admin")
    agency.assign_electronic_code("000.00.00.H99", "admin:a", "admin")
    agency.close(date(2025, 12, 31), "P01", "admin:a", "admin")
    events += list(agency.collect_events())
    events += access_events()
    return events


def access_events() -> list[Any]:
    admin = Principal("user:quantri", Role.ADMIN)
    account = Account.create("nguyenvana", "Nguyễn Văn A", "P99", [Role.AGENCY_REPORTER], admin)
    account.password_set(admin)
    account.rename("Nguyễn Văn Ánh", admin)
    account.disable(admin, "nghỉ phép")
    account.enable(admin)
    account.sign_out_everywhere(admin)
    ministry = Account.create("reviewer", "Trần Thị B", None, [Role.MINISTRY_REVIEWER], admin)
    ministry.set_roles([Role.AUDITOR], admin)
    token = ApiToken.issue("dhis2-p99", "DHIS2", Role.AGENCY_REPORTER, "P99", datetime(2027, 1, 1, tzinfo=UTC), admin)
    token.revoke(admin, "thay khoá")
    return [*account.collect_events(), *ministry.collect_events(), *token.collect_events()]


def form_events() -> list[Any]:
    import tests.unit.test_submission as module

    captured: list[Aggregate] = []
    original = module.Template.open

    def keep(*args: Any, **kwargs: Any) -> Any:
        template = original(*args, **kwargs)
        captured.append(template)
        return template

    module.Template.open = keep  # type: ignore[method-assign]
    try:
        make_form()
    finally:
        module.Template.open = original  # type: ignore[method-assign]
    return [e for aggregate in captured for e in aggregate.collect_events()]


def rows(events: list[Any]) -> list[StoredRow]:
    mapper = library_mapper()
    stored = [mapper.to_stored_event(e) for e in events]
    return [StoredRow(n, str(s.originator_id), s.originator_version, s.topic, s.state) for n, s in enumerate(stored, 7)]


def contract(row: StoredRow) -> bytes:
    from eventsourcing.persistence import StoredEvent

    stored = StoredEvent(UUID(row.originator_id), row.originator_version, row.topic, row.state)
    return from_domain_event(library_mapper().to_domain_event(stored), row.position).to_bytes()


def test_fast_bytes_equal_the_contract_for_every_kind_of_event() -> None:
    events = every_kind_of_event()
    kinds = {MODELS[type(e)].event_type for e in events}
    # Every event type but the report definitions'.
    assert set(EventType) - {EventType.REPORT_DEFINITION_CREATED, EventType.REPORT_DEFINITION_REVISED} <= kinds
    for row in rows(events):
        expected = contract(row)
        event_id_text, fast = fast_canonical(row)
        assert fast == expected, row.topic
        assert event_id_text == str(event_id(UUID(row.originator_id), row.originator_version))
        # The projector's fast form of a parsed event is the same bytes as well.
        assert event_bytes(IntegrationEvent.from_bytes(expected)) == expected


def test_a_value_stored_before_imports_existed_maps_alike_on_both_paths() -> None:
    """Events stored without a `source` field (before imports) keep their bytes: `data` stays empty."""
    value_rows = [row for row in rows(every_kind_of_event()) if row.topic.endswith(("Submitted", "Corrected"))]
    old = value_rows[0]
    state = old.state.replace(b',"source":null', b"").replace(b'"source":null,', b"")
    assert b"source" not in state
    legacy = StoredRow(old.position, old.originator_id, old.originator_version, old.topic, state)
    assert fast_canonical(legacy)[1] == contract(legacy)
    assert b'"data":{}' in contract(legacy)
    imported = next(row for row in value_rows if b"sha256:" in row.state)
    assert b'"data":{"source":"sha256:' in fast_canonical(imported)[1]


def test_event_ids_match_domain_ids() -> None:
    for version in (1, 2, 77, 10**9):
        originator = uuid4()
        assert fast_event_id(originator, version) == str(event_id(originator, version))


def test_unknown_shapes_fall_back_to_the_contract_and_unreadable_rows_are_findings() -> None:
    (row,) = rows(every_kind_of_event()[:1])
    state = row.state[:-1] + b',"x":{"_type_":"other","_data_":1}}'
    odd = StoredRow(row.position, row.originator_id, row.originator_version, row.topic, state)
    with pytest.raises(Fallback):
        fast_canonical(odd)
    leaf = CanonicalMapper(None).leaf(odd)
    assert leaf.canonical is None
    assert leaf.error
    assert leaf.event_id == str(event_id(UUID(row.originator_id), row.originator_version))
    garbage = StoredRow(row.position, row.originator_id, row.originator_version, row.topic, b"\x00not json")
    assert CanonicalMapper(None).leaf(garbage).canonical is None


def test_instants_in_other_offsets_and_without_microseconds() -> None:
    (row,) = rows(every_kind_of_event()[1:2])
    for stamp in ("2026-11-22T15:15:02+07:00", "2026-11-22T08:15:02.000001+00:00", "2026-11-22T08:15:02+00:00"):
        old = row.state[row.state.index(b'"_data_":"') + 10 : row.state.index(b'"}')]
        state = row.state.replace(old, stamp.encode())
        changed = StoredRow(row.position, row.originator_id, row.originator_version, row.topic, state)
        assert fast_canonical(changed)[1] == contract(changed)
        expected = datetime.fromisoformat(stamp).astimezone(UTC).strftime("%H:%M:%S")
        assert expected in fast_canonical(changed)[1].decode()


# ---- generated events: the fast path is the contract or defers to it -----------------------------

EVENTS = every_kind_of_event()
_KEEP = ("originator_id", "originator_version", "originator_topic")


def _values(kind: type) -> st.SearchStrategy[Any]:
    """Values of the same Python type as a stored field's: what the library's transcoder gets."""
    if kind is bool:
        return st.booleans()
    if kind is int:
        return st.integers(min_value=-(2**70), max_value=2**70)  # past 64 bits too: orjson's limit
    if kind is str:
        return st.text(max_size=40)  # quotes, backslashes, control characters, any plane
    if kind is Decimal:
        return st.decimals(allow_nan=False, allow_infinity=False) | st.decimals(places=4, allow_nan=False)
    if kind is date:
        return st.dates()
    if kind is datetime:
        offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
        return st.datetimes(timezones=offsets)
    if kind is type(None):
        return st.none() | st.text(max_size=5)
    return st.nothing()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_generated_events_of_every_type_give_the_contracts_bytes_or_its_error(data: st.DataObject) -> None:
    mapper = library_mapper()
    for n, original in enumerate(EVENTS):
        fields = dict(vars(original))
        for name, value in fields.items():
            strategy = _values(type(value))
            if name not in _KEEP and data.draw(st.booleans()) and strategy is not st.nothing():
                fields[name] = data.draw(strategy)
        event = object.__new__(type(original))
        event.__dict__.update(fields)
        try:
            stored = mapper.to_stored_event(event)
        except (TypeError, ValueError, UnicodeError):
            continue  # the library would not have stored it either
        row = StoredRow(n + 1, str(stored.originator_id), stored.originator_version, stored.topic, stored.state)
        try:
            expected: bytes | None = contract(row)
        except Exception:
            expected = None
        try:
            mapped: tuple[str, bytes] | None = fast_canonical(row)
        except Exception:
            mapped = None  # the verifier asks the contract: its bytes or its error by construction
        if mapped is not None:
            assert expected is not None, f"the fast path mapped what the contract refuses: {row.state!r}"
            assert mapped[1] == expected, row.state
            assert mapped[0] == str(event_id(UUID(row.originator_id), row.originator_version))


# ---- the event store's binary COPY, parsed ---------------------------------------------------------

COPY_ROWS = st.lists(
    st.tuples(
        st.integers(1, 2**63 - 1),
        st.uuids().map(lambda u: str(u).encode()),
        st.integers(1, 2**63 - 1),
        st.none() | st.text(max_size=60),
        st.none() | st.binary(max_size=300),
    ),
    max_size=30,
)


def binary_copy(rows: list[RawRow]) -> bytes:
    """What PostgreSQL sends for COPY (SELECT notification_id, originator_version, originator_id::text, ...)."""
    out = bytearray(b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0))
    for position, originator_id, version, topic, state in rows:
        out += struct.pack(">hiqiqi", 5, 8, position, 8, version, 36) + originator_id
        for value in (None if topic is None else topic.encode(), state):
            out += struct.pack(">i", -1) if value is None else struct.pack(">i", len(value)) + value
    return bytes(out + b"\xff\xff")


@given(rows=COPY_ROWS, cuts=st.lists(st.integers(0, 20_000), max_size=12))
def test_the_binary_copy_parses_to_its_rows_however_it_is_split(rows: list[RawRow], cuts: list[int]) -> None:
    data = binary_copy(rows)
    points = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
    blocks = [data[a:b] for a, b in itertools.pairwise(points)]
    assert _parse_copy(blocks) == rows
    assert _parse_copy([memoryview(data)]) == rows


@given(rows=COPY_ROWS.filter(bool), cut=st.integers(1, 400))
def test_a_truncated_or_padded_copy_is_an_error(rows: list[RawRow], cut: int) -> None:
    data = binary_copy(rows)
    with pytest.raises(ValueError, match="COPY"):
        _parse_copy([data[: max(len(data) - cut, 0)]])
    with pytest.raises(ValueError, match="COPY"):
        _parse_copy([data + b"\x00\x05"])
    with pytest.raises(ValueError, match="COPY"):
        _parse_copy([b"PGCOPX" + data[6:]])


@pytest.mark.parametrize(
    "occurred_at",
    [
        "2025-01-03T10:00:00.123456Z",
        "2025-01-03T10:00:00Z",  # no microseconds: orjson would leave them out
        "2025-01-03T17:00:00.000001+07:00",  # not UTC: orjson would keep the offset
        "0999-01-03T10:00:00.5Z",  # before the year 1000
    ],
)
@pytest.mark.parametrize("data", [{}, {"z": 1, "a": {"y": 2, "b": [1, {"d": 1, "c": 2}]}}])
def test_the_projectors_fast_bytes_equal_the_models_for_any_instant_and_data(
    occurred_at: str, data: dict[str, Any]
) -> None:
    event = IntegrationEvent.model_validate(
        {
            "event_id": str(uuid4()),
            "position": 5,
            "event_type": EventType.VALUE_SUBMITTED.value,
            "aggregate": "submission",
            "aggregate_id": str(uuid4()),
            "aggregate_version": 2,
            "agency": "A1",
            "period": "2025-01",
            "indicator": "I1",
            "value": 3,
            "occurred_at": occurred_at,
            "data": data,
        }
    )
    assert event_bytes(event) == event.to_bytes()
