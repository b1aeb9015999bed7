"""Helpers for browser tests: screenshots for a person to look at, and axe-core accessibility checks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
APP_AXE_URL = "/static/vendor/axe-core/axe.min.js"
AXE_JS = REPO_ROOT / "services" / "web" / "static" / "vendor" / "axe-core" / "axe.min.js"

_RUN_AXE = """async (impacts) => {
    const result = await axe.run(document, {resultTypes: ["violations"]});
    return result.violations
        .filter((v) => impacts.includes(v.impact))
        .map((v) => ({id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(" "))}));
}"""


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page PNG as test-artifacts/screenshots/<name>.png; returns its path."""
    if not re.fullmatch(r"[\w.-]+", name):
        raise ValueError(f"a screenshot name is letters, digits, '.', '-' and '_': {name!r}")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    return path


@dataclass(frozen=True)
class Violation:
    id: str
    impact: str
    help: str
    targets: tuple[str, ...]  # CSS selectors of the offending nodes

    def __str__(self) -> str:
        return f"{self.id} ({self.impact}): {self.help} at {', '.join(self.targets)}"


@cache
def _axe_source() -> str:
    return AXE_JS.read_text(encoding="utf-8")


def axe_violations(page: Page, impacts: tuple[str, ...] = ("serious", "critical")) -> list[Violation]:
    """Run the vendored axe-core on the page; its violations of these impacts.

    On the web app's pages the script is loaded from the app's own static files (its strict
    Content-Security-Policy admits them and no inline script); elsewhere it goes in inline.
    """
    if page.evaluate("typeof window.axe") == "undefined":
        if page.evaluate("Boolean(document.querySelector('script[src^=\"/static/\"]'))"):
            page.add_script_tag(url=APP_AXE_URL)
        else:
            page.add_script_tag(content=_axe_source())
    found: list[dict[str, Any]] = page.evaluate(_RUN_AXE, list(impacts))
    return [Violation(v["id"], v["impact"], v["help"], tuple(v["targets"])) for v in found]


def describe(violations: list[Violation]) -> str:
    """An assertion message: one violation a line."""
    return "\n".join(str(v) for v in violations) or "no violations"
