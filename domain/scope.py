"""Scopes of a roll-up: the whole country, one region, or one kind of agency.

Written `national`, `region:<region>` and `kind:<agency kind>`; `region` and `kind` alone
ask for each region or each kind (a selection, resolved against the registry by the reader).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from domain.errors import DomainError


class InvalidScope(DomainError):
    code = "invalid-scope"


class Dimension(StrEnum):
    NATIONAL = "national"
    REGION = "region"
    KIND = "kind"


@dataclass(frozen=True, order=True)
class Scope:
    dimension: Dimension
    value: str | None = None  # None: the whole country, or (with a dimension) each of its values

    NATIONAL: ClassVar[Scope]

    def __post_init__(self) -> None:
        if self.dimension is Dimension.NATIONAL and self.value is not None:
            raise InvalidScope("the national scope has no value")

    @classmethod
    def parse(cls, text: str) -> Scope:
        """`national`, `region`, `kind`, `region:<region>` or `kind:<agency kind>`."""
        name, colon, value = text.partition(":")
        try:
            dimension = Dimension(name)
        except ValueError:
            dimension = None
        if dimension is None or (colon and (not value or dimension is Dimension.NATIONAL)):
            raise InvalidScope("scope is national, region, kind, region:<region> or kind:<agency kind>")
        return cls(dimension, value or None)

    @property
    def is_selection(self) -> bool:
        """`region` or `kind` alone: one scope per region or kind."""
        return self.dimension is not Dimension.NATIONAL and self.value is None

    def expand(self, regions: Iterable[str], kinds: Iterable[str]) -> list[Scope]:
        """The scopes this one stands for, given the regions and kinds the registry knows."""
        if not self.is_selection:
            return [self]
        values = regions if self.dimension is Dimension.REGION else kinds
        return [Scope(self.dimension, value) for value in sorted(set(values))]

    def contains(self, kind: str, region: str | None) -> bool:
        """Whether an agency of this kind and region counts in the scope."""
        if self.dimension is Dimension.NATIONAL:
            return True
        if self.dimension is Dimension.REGION:
            return self.value is None or region == self.value
        return self.value is None or kind == self.value

    def __str__(self) -> str:
        if self.value is None:
            return str(self.dimension)
        return f"{self.dimension}:{self.value}"


Scope.NATIONAL = Scope(Dimension.NATIONAL)


def scopes_of(kind: str, region: str | None) -> list[Scope]:
    """Every single scope an agency counts in: national, its kind, its region (if it has one)."""
    scopes = [Scope.NATIONAL, Scope(Dimension.KIND, kind)]
    if region:
        scopes.append(Scope(Dimension.REGION, region))
    return scopes
