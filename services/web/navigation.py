"""The main menu: each page module declares its entries (`NAV`), and a person sees the ones their roles open."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from babel.support import Translations

from domain.identity import Role
from services.ingest.application.access import Person


@dataclass(frozen=True)
class NavEntry:
    label: str  # an English message id, translated when shown
    href: str
    roles: frozenset[Role]
    order: int = 50


@dataclass(frozen=True)
class NavItem:
    label: str
    href: str
    current: bool


def navigation(person: Person | None, path: str, entries: Sequence[NavEntry], translate: Translations) -> list[NavItem]:
    if person is None:
        return []
    gettext = translate.gettext
    items = []
    for entry in sorted(entries, key=lambda e: (e.order, e.href)):
        if entry.roles & person.principal.roles:
            current = path == entry.href or (entry.href != "/" and path.startswith(entry.href + "/"))
            items.append(NavItem(gettext(entry.label), entry.href, current))
    return items
