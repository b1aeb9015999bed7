"""Browser fixtures: one headless Debian Chromium for the browser tests, a fresh Vietnamese-locale page per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = ViewportSize(width=1366, height=768)
LOCALE = "vi-VN"


def chromium_executable(path: Path = CHROMIUM) -> str:
    """The browser binary; a missing one fails the test (it must never be skipped)."""
    if not path.is_file():
        pytest.fail(
            f"{path} is missing: install Debian's Chromium with `apt-get install -y chromium` "
            "(.ci/run does this); never `playwright install`",
            pytrace=False,
        )
    return str(path)


# Package scope: Playwright's sync API runs an event loop in this thread while the browser is open,
# so it must close before the tests of other packages run (asyncio.run refuses to nest).
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    executable = chromium_executable()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT, locale=LOCALE)
    yield context.new_page()
    context.close()
