"""Agencies' electronic identifier codes on the write side: seeded, validated, unique, folded from the store."""

from __future__ import annotations

import pytest

from domain.agencies import Agency, agency_id
from domain.errors import InvalidAgencyChange
from domain.identity import Principal, Role
from entrypoints.bootstrap import in_memory_write_side
from infra.memory_event_store import InMemoryEventStore
from services.ingest.application.commands import AssignElectronicCode
from services.ingest.application.outcomes import AgencyChanged
from services.ingest.application.ports import agency_of
from services.ingest.application.registry import assign_electronic_code
from services.ingest.application.seed import load_seed
from services.ingest.application.write_side import WriteSide

ADMIN = Principal("admin:test", Role.ADMIN)


@pytest.fixture(scope="module")
def seeded() -> WriteSide:
    ws = in_memory_write_side()
    load_seed(ws)
    return ws


def fresh() -> WriteSide:
    ws = in_memory_write_side()
    load_seed(ws)
    return ws


def test_the_seed_gives_every_agency_its_code(seeded: WriteSide) -> None:
    codes = seeded.electronic_codes.codes()
    assert codes["MIC"] == "000.00.00.G22"
    assert codes["P01"] == "000.00.00.H24"
    assert len(codes) == 94
    assert agency_of(codes, "000.00.00.H24") == "P01"
    assert agency_of(codes, "000.00.00.H99") is None
    assert seeded.reference.agency("P01").electronic_code == "000.00.00.H24"


def test_assigning_a_code_is_an_event_and_counts_at_once() -> None:
    ws = fresh()
    store = ws.store
    assert isinstance(store, InMemoryEventStore)
    before = store.event_count()
    outcome = assign_electronic_code(ws, ADMIN, AssignElectronicCode("P01", "000.00.00.H99"))
    assert isinstance(outcome, AgencyChanged)
    assert outcome.agency["electronic_code"] == "000.00.00.H99"
    assert store.event_count() == before + 1
    assert ws.electronic_codes.codes()["P01"] == "000.00.00.H99"
    # The same code again changes nothing.
    again = assign_electronic_code(ws, ADMIN, AssignElectronicCode("P01", "000.00.00.H99"))
    assert isinstance(again, AgencyChanged)
    assert again.position is None
    agency = store.get(agency_id("P01"))
    assert isinstance(agency, Agency)
    assert agency.electronic_code == "000.00.00.H99"


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("000.00.00.h24", "letters are capitals"),
        ("000.00.00.H24 ", "spaces"),
        ("0000000H24", "no dots"),
        ("000..H24", "empty group"),
        ("000.00.00.Ư24", "digits 0-9"),
        ("0" * 20 + "." + "1" * 20, "at most 35"),
    ],
)
def test_a_malformed_code_is_refused_with_what_to_fix(seeded: WriteSide, code: str, message: str) -> None:
    with pytest.raises(InvalidAgencyChange, match=message):
        assign_electronic_code(seeded, ADMIN, AssignElectronicCode("P79", code))


def test_a_code_another_agency_holds_is_refused() -> None:
    ws = fresh()
    with pytest.raises(InvalidAgencyChange, match="already the electronic identifier code of P01"):
        assign_electronic_code(ws, ADMIN, AssignElectronicCode("P79", "000.00.00.H24"))
    assert ws.electronic_codes.codes()["P79"] == "000.00.00.H29"
