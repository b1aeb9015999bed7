"""The vendored front-end libraries: exactly what MANIFEST.json says, licensed, and loading nothing from outside."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

VENDOR = Path(__file__).resolve().parents[2] / "services" / "web" / "static" / "vendor"
EXPECTED_PACKAGES = {"htmx.org", "htmx-ext-sse", "echarts", "axe-core"}

# A URL in a position where the browser would fetch it: markup attributes, module imports, workers,
# fetch/EventSource/WebSocket, CSS url(), assignments to .src/.href, source maps, or any CDN host.
_URL = r"""["'`]?(?:(?:https?|wss?):)?//"""
_LOADERS = [
    rf"<(?:script|link|img|iframe|source|embed|object)\b[^>]*\b(?:src|href|data)\s*=\s*{_URL}",
    rf"\bimport\s*\(\s*{_URL}",
    rf"\bfrom\s*{_URL}",
    rf"\bimportScripts\s*\(\s*{_URL}",
    rf"\bfetch\s*\(\s*{_URL}",
    rf"\bnew\s+(?:Worker|SharedWorker|EventSource|WebSocket)\s*\(\s*{_URL}",
    rf"\burl\(\s*{_URL}",
    rf"\.(?:src|href)\s*=\s*{_URL}",
    rf"""\bsetAttribute\(\s*["'](?:src|href)["']\s*,\s*{_URL}""",
    r"(?:https?:)?//(?:[\w-]+\.)*(?:unpkg\.com|jsdelivr\.net|cdnjs\.cloudflare\.com|googleapis\.com|gstatic\.com)\b",
    r"(?:https?:)?//cdn\.[\w.-]+",
]
_URL_REST = r"""[^\s"'`)<>]*"""  # the rest of the URL, for the message
_LOADER = re.compile("(?:" + "|".join(f"(?:{p})" for p in _LOADERS) + ")" + _URL_REST, re.IGNORECASE)
_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_LINE_COMMENT = re.compile(r"^\s*//.*$", re.MULTILINE)
_REMOTE_SOURCE_MAP = re.compile(r"sourceMappingURL=(?:https?:)?//\S*")  # a comment, but the dev tools fetch it


def runtime_urls(source: str) -> list[str]:
    """Remote URLs that this JavaScript would load when run (comments, such as licence headers, ignored)."""
    code = _LINE_COMMENT.sub("", _BLOCK_COMMENT.sub("", source))
    return [m.group(0) for m in _LOADER.finditer(code)] + _REMOTE_SOURCE_MAP.findall(source)


def _manifest() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VENDOR / "MANIFEST.json").read_text())
    return data


def _packages() -> list[dict[str, Any]]:
    packages: list[dict[str, Any]] = _manifest()["packages"]
    return packages


def _files(kind: str) -> list[dict[str, Any]]:
    return [f for p in _packages() for f in p["files"] if f["kind"] == kind]


def _vendor_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("vendor_script", VENDOR / "vendor.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


def test_the_manifest_lists_the_pinned_packages() -> None:
    pins = {p.name: p.version for p in _vendor_script().PACKAGES}
    listed = {p["name"]: p["version"] for p in _packages()}
    assert set(listed) == EXPECTED_PACKAGES
    assert listed == pins, "MANIFEST.json is stale: re-run services/web/static/vendor/vendor.py"


@pytest.mark.parametrize("package", _packages(), ids=lambda p: p["name"])
def test_each_package_names_its_registry_tarball_and_integrity(package: dict[str, Any]) -> None:
    name, version = package["name"], package["version"]
    assert package["tarball"] == f"https://registry.npmjs.org/{name}/-/{name}-{version}.tgz"
    algorithm, _, digest = package["integrity"].partition("-")
    assert algorithm == "sha512"
    assert len(base64.b64decode(digest, validate=True)) == 64


@pytest.mark.parametrize("entry", [f for p in _packages() for f in p["files"]], ids=lambda f: f["path"])
def test_each_vendored_file_has_its_recorded_sha256(entry: dict[str, Any]) -> None:
    path = VENDOR / entry["path"]
    assert path.is_file(), f"{entry['path']} is in the manifest but missing"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"], f"{entry['path']} was modified"


@pytest.mark.parametrize("package", _packages(), ids=lambda p: p["name"])
def test_each_package_has_code_and_a_licence(package: dict[str, Any]) -> None:
    kinds = [f["kind"] for f in package["files"]]
    assert "code" in kinds
    licences = [VENDOR / f["path"] for f in package["files"] if f["kind"] == "license"]
    assert licences, f"{package['name']} has no licence file"
    assert all(p.is_file() and p.stat().st_size > 100 for p in licences)


def test_nothing_unlisted_is_vendored() -> None:
    listed = {f["path"] for p in _packages() for f in p["files"]} | {"MANIFEST.json", "vendor.py"}
    present = {p.relative_to(VENDOR).as_posix() for p in VENDOR.rglob("*") if p.is_file()}
    present = {p for p in present if "__pycache__" not in p}
    assert present == listed


@pytest.mark.parametrize("entry", _files("code"), ids=lambda f: f["path"])
def test_no_vendored_code_loads_from_a_remote_host(entry: dict[str, Any]) -> None:
    found = runtime_urls((VENDOR / entry["path"]).read_text(encoding="utf-8"))
    assert found == [], f"{entry['path']} would load {found[:5]}"


@pytest.mark.parametrize(
    "source",
    [
        '<script src="https://cdn.example.org/lib.js"></script>',
        "<link rel=stylesheet href='//fonts.example.org/a.css'>",
        'import("https://esm.example.org/x.js")',
        'import x from "https://esm.example.org/x.js"',
        "el.src = 'https://example.org/tracker.js'",
        'new EventSource("https://example.org/stream")',
        "background: url(https://example.org/a.png)",
        "//# sourceMappingURL=https://example.org/x.js.map",
        'var base = "https://cdn.jsdelivr.net/npm/x";',
    ],
)
def test_the_url_check_flags_remote_loads(source: str) -> None:
    assert runtime_urls(source)


@pytest.mark.parametrize(
    "source",
    [
        "/*! see https://cdn.jsdelivr.net/npm/htmx.org for docs */ var a = 1;",
        "  // loaded from https://unpkg.com/htmx.org in the README",
        'document.createElementNS("http://www.w3.org/2000/svg", "svg")',
        'helpUrlBase:"https://dequeuniversity.com/rules/"',
        'el.src = "/static/vendor/htmx.org/htmx.min.js"',
        "//# sourceMappingURL=htmx.min.js.map",
    ],
)
def test_the_url_check_ignores_comments_namespaces_and_links(source: str) -> None:
    assert runtime_urls(source) == []
