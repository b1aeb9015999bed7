"""Who may open and post what on the entry form, the review queue and the home page, over real HTTP.

Each route × each person (P01's clerk naming P01, P79's clerk naming P01, a reviewer, an auditor, an
administrator, nobody signed in) gets the expected status; a post without the session's CSRF token is
refused; a refused post stores nothing. The form of another agency is neither readable nor writable by a
clerk.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from domain.identity import Role
from infra.db import connect
from tests.conftest import Stack, StackFactory
from tests.helpers import open_month

PEOPLE = {
    "own": ("canbo.p01", Role.AGENCY_REPORTER, "P01"),
    "other": ("canbo.p79", Role.AGENCY_REPORTER, "P79"),
    "reviewer": ("thamdinh", Role.MINISTRY_REVIEWER, None),
    "auditor": ("kiemtoan", Role.AUDITOR, None),
    "admin": ("quantri", Role.ADMIN, None),
}
READERS = {"own": 200, "other": 403, "reviewer": 200, "auditor": 200, "admin": 200}
CLERK = {"own": 200, "other": 403, "reviewer": 403, "auditor": 403, "admin": 403}
REVIEWER = {"own": 403, "other": 403, "reviewer": 200, "auditor": 403, "admin": 403}
EVERYONE = dict.fromkeys(PEOPLE, 200)


class Person:
    """A signed-in browser without a browser: the session cookie and the CSRF token of its pages."""

    def __init__(self, stack: Stack, username: str, password: str) -> None:
        self.client = httpx.Client(base_url=stack.web_url, follow_redirects=False, timeout=30)
        form = self.client.get("/sign-in").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert token is not None
        answer = self.client.post(
            "/sign-in", data={"username": username, "password": password, "csrf_token": token[1], "next": "/"}
        )
        assert answer.status_code == 303, answer.text
        home = self.client.get("/").text
        csrf = re.search(r'data-csrf="([^"]+)"', home)
        assert csrf is not None
        self.csrf = csrf[1]

    def post(self, path: str, data: dict[str, str], *, csrf: bool = True) -> httpx.Response:
        headers = {"X-CSRF-Token": self.csrf} if csrf else {}
        return self.client.post(path, data=data, headers=headers)


@pytest.fixture
def world(stack_factory: StackFactory) -> Iterator[tuple[Stack, dict[str, Person]]]:
    stack = stack_factory("web")
    people = {}
    for name, (username, role, agency) in PEOPLE.items():
        people[name] = Person(stack, username, stack.person(username, role, agency))
    yield stack, people
    for person in people.values():
        person.client.close()


def events(stack: Stack) -> int:
    with connect(stack.settings) as conn:
        row = conn.execute("SELECT count(*) FROM reporting_events").fetchone()
    return int(row[0]) if row else 0


def test_each_page_admits_its_people_and_no_clerk_reaches_another_agency(
    world: tuple[Stack, dict[str, Person]],
) -> None:
    stack, people = world
    period = open_month(0).code
    base = f"/agencies/P01/periods/{period}"
    value = {"v.POS.ITEMS": "3.000"}
    gets = {
        "/": EVERYONE,
        base: READERS,
        f"{base}/summary": READERS,
        f"{base}/cells/POS.ITEMS/history": READERS,
        f"{base}/submit": CLERK,
        "/review": REVIEWER,
    }
    posts: dict[str, tuple[dict[str, str], dict[str, int]]] = {
        f"{base}/check?indicator=POS.ITEMS": (value, CLERK),
        f"{base}/cells/POS.ITEMS": (value, CLERK),
        # A draft cannot be recalled or reviewed: the lifecycle refuses it (authorization passed).
        f"{base}/recall": ({"reason": "x"}, {**CLERK, "own": 409}),
        f"{base}/approve": ({}, {**REVIEWER, "reviewer": 409}),
        f"{base}/return": ({"reason": "x"}, {**REVIEWER, "reviewer": 409}),
        f"{base}/reopen": ({"reason": "x"}, {**REVIEWER, "reviewer": 409}),
        "/review/approve": ({"report": f"P01|{period}"}, REVIEWER),
    }
    found: dict[tuple[str, str, str], int] = {}
    expected: dict[tuple[str, str, str], int] = {}
    for path, cells in gets.items():
        for name, person in people.items():
            found[("GET", path, name)] = person.client.get(path).status_code
            expected[("GET", path, name)] = cells[name]
    for path, (data, cells) in posts.items():
        for name, person in people.items():
            found[("POST", path, name)] = person.post(path, data).status_code
            expected[("POST", path, name)] = cells[name]
    assert found == expected

    anonymous = httpx.Client(base_url=stack.web_url, follow_redirects=False)
    for path in gets:
        answer = anonymous.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/sign-in?next=")
    assert anonymous.post(f"{base}/cells/POS.ITEMS", data=value, headers={"HX-Request": "true"}).status_code == 401


def test_a_post_without_the_sessions_token_is_refused_and_stores_nothing(
    world: tuple[Stack, dict[str, Person]],
) -> None:
    stack, people = world
    base = f"/agencies/P01/periods/{open_month(0).code}"
    clerk = people["own"]
    before = events(stack)
    for path, data in ((f"{base}/cells/POS.ITEMS", {"v.POS.ITEMS": "12"}), (f"{base}/values", {"v.POS.ITEMS": "12"})):
        refused = clerk.post(path, data, csrf=False)
        assert refused.status_code == 403
        assert "không được gửi từ trang này" in refused.text  # in the page's language
        forged = clerk.client.post(path, data=data, headers={"X-CSRF-Token": "not-the-token"})
        assert forged.status_code == 403
    assert events(stack) == before
    other = people["other"]
    assert other.post(f"{base}/cells/POS.ITEMS", {"v.POS.ITEMS": "12"}).status_code == 403
    assert events(stack) == before, "another agency's clerk stored nothing"
    assert clerk.post(f"{base}/cells/POS.ITEMS", {"v.POS.ITEMS": "12"}).status_code == 200
    assert events(stack) == before + 2, "the opening of the month and the value"


def test_without_the_script_save_all_stores_the_changed_cells_or_refuses_them_all(
    world: tuple[Stack, dict[str, Person]],
) -> None:
    stack, people = world
    clerk = people["own"]
    base = f"/agencies/P01/periods/{open_month(0).code}"
    before = events(stack)
    refused = clerk.post(f"{base}/values", {"v.POS.ITEMS": "3.000", "v.POS.SERVICE_POINTS": "1.5", "request_key": "k1"})
    assert refused.status_code == 422
    assert 'id="cell-POS-2eSERVICE_POINTS"' in refused.text
    row = refused.text.split('id="row-POS-2eSERVICE_POINTS"')[1].split("</tr>")[0]
    assert 'aria-invalid="true"' in row
    assert "Có phải bạn muốn nhập 15 hoặc 1,5?" in row, "the error is next to its cell"
    assert 'value="1.5"' in row, "what was typed stays in the cell"
    assert events(stack) == before, "one refused value: nothing stored"

    saved = clerk.post(f"{base}/values", {"v.POS.ITEMS": "3.000", "v.POS.SERVICE_POINTS": "15", "request_key": "k2"})
    assert saved.status_code == 303
    assert saved.headers["location"].startswith(f"{base}?saved=all")
    assert events(stack) == before + 3, "the month opened and two values"
    again = clerk.post(f"{base}/values", {"v.POS.ITEMS": "3.000", "v.POS.SERVICE_POINTS": "15", "request_key": "k2"})
    assert again.status_code == 303
    assert events(stack) == before + 3, "the same form posted twice stores nothing twice"
