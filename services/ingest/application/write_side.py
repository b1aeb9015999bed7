"""The write application as the composition root built it: its ports, its configuration, its reference data."""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.periods import Clock, ReportingRegime
from services.ingest.application.ports import (
    ElectronicCodes,
    EventStore,
    PasswordHasher,
    SignInThrottle,
    ValueHistory,
)
from services.ingest.application.reference import Reference

MAX_VALUES_PER_BATCH = 1000


@dataclass
class WriteSide:
    store: EventStore
    clock: Clock
    regime: ReportingRegime  # the deadlines (data: infra/seed/regime.json by default)
    history: ValueHistory
    passwords: PasswordHasher
    throttle: SignInThrottle
    max_values_per_batch: int = MAX_VALUES_PER_BATCH
    electronic_codes: ElectronicCodes = field(kw_only=True)  # the agencies' national codes
    reference: Reference = field(init=False)

    def __post_init__(self) -> None:
        self.reference = Reference(self.store)
