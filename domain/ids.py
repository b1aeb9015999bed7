"""Deterministic aggregate ids, so that one (agency, period) is one submission."""

from __future__ import annotations

from uuid import UUID, uuid5

# Fixed forever: changing it would orphan every stored aggregate.
NAMESPACE = UUID("6f1c1f5e-2f5e-4c59-9a1e-4d7c8b0a5e11")


def aggregate_id(kind: str, *parts: str) -> UUID:
    return uuid5(NAMESPACE, "/".join((kind, *parts)))


def event_id(originator_id: UUID, originator_version: int) -> UUID:
    """A stable id for a stored event, the same wherever it is recomputed."""
    return uuid5(NAMESPACE, f"event/{originator_id}/{originator_version}")
