"""What a rebuild accepts before it touches a database: forked workers share out only what cannot collide."""

from __future__ import annotations

import pytest

from infra.settings import Settings
from services.projector.projections import all_projections
from services.projector.rebuild import Rebuild


def test_every_projection_but_the_rollups_follows_one_key() -> None:
    local = {p.name for p in all_projections() if p.key_local}
    assert local == {"report_view", "audit_trail", "compliance", "access", "reference"}
    assert Rebuild(Settings(), workers=2).workers == 2  # the roll-ups get a worker of their own


@pytest.mark.parametrize(
    ("from_store", "workers", "message"),
    [(True, 2, "from the event store runs in one worker"), (False, 0, "at least one worker")],
)
def test_workers_a_rebuild_cannot_use_are_refused(from_store: bool, workers: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Rebuild(Settings(), ["report_view"], from_store=from_store, workers=workers)
