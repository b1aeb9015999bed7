"""Every text of the access pages, and every refusal of the access rules they show, reads in Vietnamese."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest

from domain.access import (
    ApiToken,
    check_roles,
    check_token_role,
    clean_display_name,
    clean_label,
    clean_reason,
    clean_username,
)
from domain.errors import DomainError
from domain.identity import Principal, Role
from services.ingest.application.access import check_password
from services.ingest.application.tokens import expiry_of
from services.web.i18n import Language, translations
from services.web.labels import ROLES
from services.web.pages import account, admin

WEB = Path(__file__).resolve().parents[2] / "services" / "web"
TEMPLATES = [
    "_fields.html",
    "account.html",
    "admin_people.html",
    "admin_person.html",
    "admin_person_new.html",
    "admin_token.html",
    "admin_token_issued.html",
    "admin_token_new.html",
    "admin_tokens.html",
]
MODULES = ["pages/admin.py", "pages/account.py", "forms.py", "naming.py"]
MESSAGE = re.compile(r"""(?:\b_|gettext\(request,)\(?\s*(["'])((?:(?!\1).)+)\1""")


def used_messages() -> set[str]:
    found = set()
    for name in TEMPLATES + MODULES:
        text = (WEB / ("templates/" + name if name.endswith(".html") else name)).read_text(encoding="utf-8")
        found |= {m.group(2) for m in MESSAGE.finditer(text)}
    labels = [ROLES, admin.CHANGE_LABELS, admin.TOKEN_STATUS_LABELS, admin.DONE, account.ENDED]
    found |= {text for mapping in labels for text in mapping.values()}
    found |= {admin.LATE, admin.TAKEN, *(entry.label for entry in admin.NAV)}
    return found


def test_every_text_of_the_pages_is_translated() -> None:
    vietnamese = translations(Language.VI)
    messages = used_messages()
    assert len(messages) > 120, "the extraction finds the pages' texts"
    missing = sorted(m for m in messages if vietnamese.gettext(m) == m)
    assert missing == []


ADMIN = Principal("user:quantri", Role.ADMIN)
REFUSALS: list[Callable[[], object]] = [
    lambda: clean_username("Cán bộ!"),
    lambda: clean_display_name(" "),
    lambda: check_roles([], None),
    lambda: check_roles([Role.AUDITOR], "P01"),
    lambda: check_roles([Role.AGENCY_REPORTER], None),
    lambda: check_password("ngắn", "a"),
    lambda: check_password("aaaaaaaaaaaa", "a"),
    lambda: clean_reason("x" * 3000),
    lambda: clean_label(""),
    lambda: check_token_role(Role.AUDITOR, "P01"),
    lambda: check_token_role(Role.AGENCY_REPORTER, None),
    lambda: expiry_of(date(2026, 1, 1), date(2026, 1, 2)),
    lambda: expiry_of(date(2026, 1, 2) + timedelta(days=3700), date(2026, 1, 2)),
    lambda: ApiToken.issue("t", "x", Role.AUDITOR, "P01", None, ADMIN),
]


@pytest.mark.parametrize("refusal", REFUSALS)
def test_every_refusal_the_pages_show_is_translated(refusal: Callable[[], object]) -> None:
    with pytest.raises(DomainError) as error:
        refusal()
    assert translations(Language.VI).gettext(error.value.detail) != error.value.detail, error.value.detail
