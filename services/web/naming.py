"""How the pages name what the access rules know: roles, agencies, the actors of events.

Labels are English message ids, translated where shown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from starlette.requests import Request

from domain.identity import Role
from services.readmodels.reference.snapshot import AgencyInfo
from services.web.labels import ROLES
from services.web.templating import gettext, language_of
from services.web.web_side import WebSide

MINISTRY = "ministry"  # the agency choice of a ministry account or token


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


def who(actor: str | None) -> str:
    """An actor as people read it: a person by username, a system or the command line as recorded."""
    if not actor:
        return ""
    return actor.removeprefix("user:")


def role_choices(request: Request) -> list[Choice]:
    return [Choice(role.value, gettext(request, ROLES[role])) for role in Role]


def agencies_of(web: WebSide) -> Mapping[str, AgencyInfo]:
    """The agency registry as the reference read model holds it (read once per page)."""
    return web.read.reference.snapshot().agencies


def agency_choices(request: Request, agencies: Mapping[str, AgencyInfo], *, include_all: bool) -> list[Choice]:
    """The ministry and every agency of the registry, by code (closed agencies too: they keep their reports)."""
    choices = [Choice("", gettext(request, "All" if include_all else "— Choose —"))]
    choices.append(Choice(MINISTRY, gettext(request, "The ministry (ministry account)")))
    for code in sorted(agencies):
        info = agencies[code]
        closed = f" ({gettext(request, 'closed')})" if info.effective_to is not None else ""
        choices.append(Choice(code, f"{code} — {_name(request, info)}{closed}"))
    return choices


def _name(request: Request, info: AgencyInfo) -> str:
    """The agency's current name in the reader's language (Vietnamese when it has no English one)."""
    return info.name_en if language_of(request).value == "en" and info.name_en else info.name_vi


def agency_label(request: Request, agencies: Mapping[str, AgencyInfo], agency: str | None) -> str:
    if agency is None:
        return gettext(request, "The ministry")
    info = agencies.get(agency)
    return agency if info is None else f"{agency} — {_name(request, info)}"


def role_labels(request: Request, roles: Sequence[str]) -> list[str]:
    return [gettext(request, ROLES[role]) for role in roles]
