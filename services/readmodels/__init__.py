"""Read models: each one package with its schema, projection, queries and as-of fold.

- `report_view`: each agency's current value per indicator and period;
- `reference`: agencies, indicators, templates and report definitions;
- `rollups`: figures across agencies and periods;
- `compliance`: each report's lifecycle and timeliness;
- `audit_trail`: every event of the log, with its canonical bytes;
- `access`: people's accounts and systems' API tokens (the administrators' pages).

Each package's `migrations/` folder holds its tables' SQL; `read_model_migrations` lists them for the
migrations runner (`infra.migrate`), which the composition root calls.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable

from infra.db import Pool

__all__ = ["READ_MODELS", "Pool", "read_model_migrations"]

READ_MODELS = ("report_view", "reference", "rollups", "compliance", "audit_trail", "access")


def read_model_migrations() -> list[Traversable]:
    """The migration folder of every read model."""
    return [resources.files(f"services.readmodels.{name}.migrations") for name in READ_MODELS]
