"""The browser harness itself: the page fixture's settings, screenshots, and an axe check that can fail."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.browser.conftest import chromium_executable
from tests.browser.helpers import axe_violations, describe, screenshot
from tests.browser.static_server import serve_directory

PAGE = """<!doctype html>
<html lang="vi">
<head><meta charset="utf-8"><title>Báo cáo thử nghiệm</title></head>
<body>
<main>
  <h1>Báo cáo tháng 3</h1>
  <p>Số liệu của Sở Tài chính.</p>
  <img id="chart" src="chart.svg" width="120" height="60"{alt}>
</main>
</body>
</html>
"""
CHART = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="60">'
    '<rect x="10" y="20" width="20" height="40" fill="#1f77b4"/>'
    '<rect x="50" y="5" width="20" height="55" fill="#1f77b4"/>'
    "</svg>"
)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "missing-alt.html").write_text(PAGE.format(alt=""), encoding="utf-8")
    (tmp_path / "with-alt.html").write_text(PAGE.format(alt=' alt="Biểu đồ cột"'), encoding="utf-8")
    (tmp_path / "chart.svg").write_text(CHART, encoding="utf-8")
    with serve_directory(tmp_path) as base:
        yield base


def test_the_page_is_vietnamese_at_laptop_size(page: Page, site: str) -> None:
    page.goto(f"{site}/with-alt.html")
    assert page.evaluate("navigator.language") == "vi-VN"
    assert page.evaluate("[window.innerWidth, window.innerHeight]") == [1366, 768]
    assert page.evaluate("window.isSecureContext") is True


def test_axe_finds_a_missing_alt(page: Page, site: str) -> None:
    page.goto(f"{site}/missing-alt.html")
    violations = axe_violations(page)
    assert [(v.id, v.targets) for v in violations] == [("image-alt", ("#chart",))], describe(violations)


def test_axe_finds_nothing_once_the_alt_is_there(page: Page, site: str) -> None:
    page.goto(f"{site}/with-alt.html")
    page.wait_for_function("document.getElementById('chart').complete")
    violations = axe_violations(page)
    assert violations == [], describe(violations)
    path = screenshot(page, "harness-with-alt")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 1000


def test_a_missing_browser_fails_rather_than_skips(tmp_path: Path) -> None:
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y chromium"):
        chromium_executable(tmp_path / "no-chromium")
