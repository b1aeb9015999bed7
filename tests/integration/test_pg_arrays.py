"""Arrays built in PostgreSQL's binary format arrive as the arrays psycopg itself would send."""

from __future__ import annotations

from uuid import UUID

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.db import connect
from infra.pg_arrays import bytea_array, int8_array, text_array, uuid_array
from infra.settings import Settings

texts = st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.uuids(), max_size=30),
    st.lists(st.integers(-(2**63), 2**63 - 1), max_size=30),
    st.lists(texts, max_size=30),
    st.lists(st.binary(), max_size=30),
)
def test_each_array_reads_back_as_sent(
    empty_settings: Settings, uuids: list[UUID], ints: list[int], words: list[str], blobs: list[bytes]
) -> None:
    with connect(empty_settings) as conn:
        row = conn.execute(
            "SELECT %s::uuid[], %s::int8[], %s::text[], %s::bytea[]",
            (uuid_array(uuids), int8_array(ints), text_array(words), bytea_array(blobs)),
            binary=True,
        ).fetchone()
    assert row is not None
    assert (row[0], row[1], row[2], [bytes(b) for b in row[3]]) == (uuids, ints, words, blobs)


def test_a_row_per_element_through_unnest(empty_settings: Settings) -> None:
    ids = [UUID(int=n) for n in range(3)]
    with connect(empty_settings) as conn:
        rows = conn.execute(
            "SELECT * FROM unnest(%s::uuid[], %s::int8[], %s::text[], %s::bytea[])",
            (uuid_array(ids), int8_array([1, 2, 3]), text_array(["a", "Sở", ""]), bytea_array([b"x", b"", b"\x00"])),
            binary=True,
        ).fetchall()
    assert [(r[0], r[1], r[2], bytes(r[3])) for r in rows] == [
        (ids[0], 1, "a", b"x"),
        (ids[1], 2, "Sở", b""),
        (ids[2], 3, "", b"\x00"),
    ]
