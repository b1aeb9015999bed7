"""The system clock, for the write side's `Clock` port: today's date in Vietnam."""

from __future__ import annotations

from datetime import UTC, date, datetime

from domain.periods import vietnam_date


def vietnam_today() -> date:
    """Today's calendar date in Vietnam, whatever the server's time zone."""
    return vietnam_date(datetime.now(UTC))


class SystemClock:
    def today(self) -> date:
        return vietnam_today()
