"""What a rebuild accepts before it touches a database: forked workers only where they cannot collide."""

from __future__ import annotations

import pytest

from infra.settings import Settings
from services.projector.projections import all_projections
from services.projector.rebuild import Rebuild


def test_every_projection_but_the_rollups_can_be_shared_out_between_workers() -> None:
    local = [p.name for p in all_projections() if p.key_local]
    assert "rollups" not in local
    assert {"report_view", "audit_trail", "compliance", "access", "reference"} <= set(local)
    rebuild = Rebuild(Settings(), local, workers=2)
    assert rebuild.workers == 2
    assert rebuild.names == tuple(local)


@pytest.mark.parametrize(
    ("names", "from_store", "workers", "message"),
    [
        (["rollups"], False, 2, "rebuild rollups with one worker"),
        ([], False, 3, "rebuild rollups with one worker"),  # every projection, the roll-ups among them
        (["report_view"], True, 2, "from the event store runs in one worker"),
        (["report_view"], False, 0, "at least one worker"),
    ],
)
def test_workers_that_could_collide_are_refused(names: list[str], from_store: bool, workers: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Rebuild(Settings(), names, from_store=from_store, workers=workers)
