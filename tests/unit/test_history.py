"""The agency's own history (for outlier warnings) stops at the first month the system has periods for."""

from __future__ import annotations

from domain.periods import Period
from entrypoints.bootstrap import in_memory_write_side


def test_the_first_supported_month_has_no_history_and_no_error() -> None:
    ws = in_memory_write_side()
    assert ws.history.previous_values("P01", Period.parse("2000-01")) == {}
    assert ws.history.previous_values("P01", Period.parse("2000-03")) == {}
