"""Scopes: parsing, expansion of a selection, membership."""

from __future__ import annotations

import pytest

from domain.scope import Dimension, InvalidScope, Scope, scopes_of


@pytest.mark.parametrize("text", ["national", "region", "kind", "region:Đồng bằng sông Hồng", "kind:ministry_unit"])
def test_parse_round_trips(text: str) -> None:
    assert str(Scope.parse(text)) == text


@pytest.mark.parametrize("text", ["", "nation", "region:", "national:x", "kind:", "province:P01"])
def test_bad_scopes_are_refused(text: str) -> None:
    with pytest.raises(InvalidScope):
        Scope.parse(text)


def test_a_selection_expands_to_one_scope_per_value() -> None:
    assert Scope.parse("region").expand(["B", "A", "B"], ["k"]) == [
        Scope(Dimension.REGION, "A"),
        Scope(Dimension.REGION, "B"),
    ]
    assert Scope.parse("kind:k").expand(["A"], ["k", "j"]) == [Scope(Dimension.KIND, "k")]
    assert Scope.NATIONAL.expand(["A"], ["k"]) == [Scope.NATIONAL]


def test_membership() -> None:
    assert Scope.NATIONAL.contains("k", None)
    assert Scope.parse("region:A").contains("k", "A")
    assert not Scope.parse("region:A").contains("k", "B")
    assert not Scope.parse("region:A").contains("k", None)
    assert Scope.parse("kind:k").contains("k", "A")
    assert not Scope.parse("kind:j").contains("k", "A")


def test_an_agency_counts_in_national_its_kind_and_its_region() -> None:
    assert [str(s) for s in scopes_of("k", "A")] == ["national", "kind:k", "region:A"]
    assert [str(s) for s in scopes_of("k", None)] == ["national", "kind:k"]
