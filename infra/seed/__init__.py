"""The seed data files: the reporting regime, catalogue, rules, templates, agencies and report definitions."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any


def seed_file(name: str) -> Any:
    """One file of this package, parsed (e.g. `regime.json`)."""
    return json.loads(resources.files("infra.seed").joinpath(name).read_text("utf-8"))
