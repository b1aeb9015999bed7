"""A signed-in person's HTTP client for the web app (no browser): the sign-in form, then the session cookie."""

from __future__ import annotations

import re

import httpx

_HIDDEN_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def signed_in_client(web_url: str, username: str, password: str) -> httpx.Client:
    """A client holding `username`'s session; `.headers` carry the session's CSRF token for posts."""
    client = httpx.Client(base_url=web_url, timeout=15)
    form = client.get("/sign-in")
    found = _HIDDEN_TOKEN.search(form.text)
    assert found, "the sign-in form carries its token"
    answer = client.post("/sign-in", data={"username": username, "password": password, "csrf_token": found.group(1)})
    assert answer.status_code == 303, answer.text
    home = client.get("/")
    token = _HIDDEN_TOKEN.search(home.text)
    assert token, "a signed-in page carries the session's token"
    client.headers["X-CSRF-Token"] = token.group(1)
    return client
