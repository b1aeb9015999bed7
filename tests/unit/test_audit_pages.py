"""The auditors' console without a server: its Vietnamese catalogue is complete, and the Python that
decides what the pages show (comparisons, typed instants, values, filters) does what it says."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.extract import extract_from_file
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.requests import Request

from domain.identity import Role
from services.web import labels
from services.web.i18n import Language, translations
from services.web.pages import audit_as_of, audit_common, audit_home, audit_proofs, audit_trail
from services.web.pages.audit_as_of import Change, Summary, compare
from services.web.pages.audit_common import Fields, local_input, parse_local_instant, query, value_text

WEB = Path(__file__).resolve().parents[2] / "services" / "web"
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def request(language: str = "vi") -> Request:
    return Request(
        {"type": "http", "method": "GET", "path": "/", "headers": [(b"cookie", f"lang={language}".encode())]}
    )


def message_ids() -> set[str]:
    """Every message id the console's templates and page modules show."""
    found: set[str] = set()
    for template in sorted((WEB / "templates" / "audit").glob("*.html")):
        options = {"extensions": "jinja2.ext.i18n"}
        for _, message, _, _ in extract_from_file("jinja2.ext.babel_extract", str(template), {"_": None}, (), options):
            found.add(message if isinstance(message, str) else message[0])
    for module in sorted((WEB / "pages").glob("audit_*.py")):
        for _, message, _, _ in extract_from_file("python", str(module), {"gettext": (2,), "say": (1,)}):
            found.add(message if isinstance(message, str) else message[0])
    tables = (
        audit_common.EVENT_LABELS,
        labels.ROLES,
        labels.REGIONS,
        labels.GROUPS,
        labels.KINDS,
        audit_as_of.CHANGE_LABELS,
    )
    for table in tables:
        found |= set(table.values())
    found |= {group for group, _ in audit_common.EVENT_GROUPS} | {tab.label for tab in audit_common.TABS}
    found |= {entry.label for entry in audit_home.NAV}
    found |= {text for _, *texts in audit_proofs.CHECKS for text in texts}
    return found


def test_every_message_of_the_console_is_in_vietnamese_with_the_same_placeholders() -> None:
    ids = message_ids()
    assert len(ids) > 250  # the extraction found the templates' and the modules' messages
    catalogue = translations(Language.VI)
    untranslated = sorted(i for i in ids if catalogue.gettext(i) == i)
    assert untranslated == []
    differing = {
        i: catalogue.gettext(i)
        for i in ids
        if set(PLACEHOLDER.findall(i)) != set(PLACEHOLDER.findall(catalogue.gettext(i)))
    }
    assert differing == {}


def test_every_event_type_has_words_and_a_place_in_the_filter() -> None:
    from infra.integration_events import EventType

    grouped = [t for _, types in audit_common.EVENT_GROUPS for t in types]
    assert sorted(grouped) == sorted(EventType)
    assert set(audit_common.EVENT_LABELS) == set(EventType)


def test_a_comparison_marks_changed_added_removed_and_same() -> None:
    then = {"a": 1, "b": 2, "c": 3}
    now = {"a": 1, "b": 5, "d": 4}
    compared = compare(then, now, lambda x, y: x == y)
    assert [(c.key, c.then, c.now, c.change) for c in compared] == [
        ("a", 1, 1, Change.SAME),
        ("b", 2, 5, Change.CHANGED),
        ("c", 3, None, Change.REMOVED),
        ("d", None, 4, Change.ADDED),
    ]
    assert Summary.of(compared) == Summary(changed=1, added=1, removed=1, same=1)


def test_instants_are_typed_in_vietnam_time() -> None:
    expected = datetime(2026, 10, 15, 8, 30, 5, tzinfo=VIETNAM)
    assert parse_local_instant("2026-10-15T08:30:05") == expected
    assert parse_local_instant("15/10/2026 08:30:05") == expected
    assert parse_local_instant("2026-10-15T01:30:05Z") == expected
    assert parse_local_instant("2026-10-15T08:30") == expected.replace(second=0)
    assert parse_local_instant("15/10/2026") is None
    assert parse_local_instant("hôm qua") is None
    assert local_input(datetime(2026, 10, 15, 1, 30, 5, 123, tzinfo=UTC)) == "2026-10-15T08:30:05"


@pytest.mark.parametrize(
    ("value", "vi", "en"),
    [
        (1234567, "1.234.567", "1,234,567"),
        ("12.50", "12,50", "12.50"),
        (True, "có", "yes"),
        (None, "—", "—"),
        ("=1+1", "=1+1", "=1+1"),
        ("NaN", "NaN", "NaN"),
    ],
)
def test_values_are_shown_in_the_readers_formats(value: object, vi: str, en: str) -> None:
    assert value_text(request("vi"), value) == vi
    assert value_text(request("en"), value) == en


def test_a_wrong_field_gets_its_own_message() -> None:
    fields = Fields({"period": " 2026q3 ", "position": "1.234", "at": "không phải ngày", "bad": "a\x00b"})
    assert fields.period("period", request()) is not None
    assert fields.position("position", request()) == 1234
    assert fields.instant("at", request()) is None
    assert fields.text("bad", request()) is None
    assert set(fields.errors) == {"at", "bad"}
    assert fields.errors["at"] == "Hãy nhập ngày giờ dạng 15/10/2026 08:30."
    wrong = Fields({"period": "2026-13"})
    assert wrong.period("period", request()) is None
    assert "2026Q3" in wrong.errors["period"]


def test_a_query_keeps_what_is_set_and_repeats_lists() -> None:
    assert query({"agency": "P01", "period": "", "event_type": ["A", "B"], "after": 0, "x": None}) == (
        "?agency=P01&event_type=A&event_type=B&after=0"
    )
    assert query({"agency": ""}) == ""


EVERYONE = frozenset(Role)
MINISTRY = frozenset({Role.MINISTRY_REVIEWER, Role.AUDITOR, Role.ADMIN})
# Every page of the console and who may open it (a clerk: their own agency's data only, checked on the
# real stack in tests/browser/test_audit_console.py). A route missing here fails the test.
ROUTE_ROLES = {
    "/audit": EVERYONE,
    "/audit/events": EVERYONE,
    "/audit/events.csv": EVERYONE,
    "/audit/events.xlsx": EVERYONE,
    "/audit/as-of/report": EVERYONE,
    "/audit/as-of/rollups": MINISTRY,  # as the reports API's /rollups/as-of
    "/audit/checkpoints": EVERYONE,
    "/audit/checkpoints/{checkpoint_id}.note": EVERYONE,
    "/audit/checkpoints/latest.json": EVERYONE,
    "/audit/verify": EVERYONE,
    "/audit/proofs/inclusion.json": EVERYONE,
}


def _declared_roles(dependant: Dependant) -> list[frozenset[Role]]:
    found = [dependency.call.roles for dependency in dependant.dependencies if hasattr(dependency.call, "roles")]
    for dependency in dependant.dependencies:
        found += _declared_roles(dependency)
    return found


def test_every_console_route_declares_who_may_open_it() -> None:
    declared = {}
    for module in (audit_home, audit_trail, audit_as_of, audit_proofs):
        for route in module.router.routes:
            assert isinstance(route, APIRoute)
            roles = _declared_roles(route.dependant)
            assert len(roles) == 1, f"{route.path} declares its roles once"
            declared[route.path] = roles[0]
    assert declared == ROUTE_ROLES
