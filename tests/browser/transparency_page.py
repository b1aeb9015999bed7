"""A page that loads services/web/static/js/transparency.js as the browser would, and calls it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

from tests.browser.helpers import REPO_ROOT
from tests.browser.static_server import serve_directory

MODULE = REPO_ROOT / "services" / "web" / "static" / "js" / "transparency.js"
INDEX = """<!doctype html>
<html lang="vi">
<head>
<meta charset="utf-8">
<title>Kiểm chứng nhật ký minh bạch</title>
<script type="module">
import * as transparency from "/js/transparency.js";
window.transparency = transparency;
</script>
</head>
<body><main><h1>Kiểm chứng nhật ký minh bạch</h1></main></body>
</html>
"""
_BYTES = "(s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0))"


@contextmanager
def transparency_site(root: Path) -> Iterator[str]:
    """Serve the module (copied as it is) and a page that imports it; yields the page's URL."""
    (root / "js").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(MODULE, root / "js" / "transparency.js")
    (root / "index.html").write_text(INDEX, encoding="utf-8")
    with serve_directory(root) as base:
        yield f"{base}/index.html"


class Verifier:
    """Calls the module's exports in the page; bytes go in as base64."""

    def __init__(self, page: Page, url: str) -> None:
        self.page = page
        page.goto(url)
        page.wait_for_function("window.transparency !== undefined")

    def _call(self, script: str, arg: Any) -> Any:
        return self.page.evaluate(f"async (arg) => {{ const bytes = {_BYTES}; {script} }}", arg)

    def verify_event(self, vector: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            "return transparency.verifyEvent({...arg, eventBytes: bytes(arg.eventBytes)});", vector
        )
        return result

    def verify_inclusion_response(self, response: dict[str, Any], vkey: str, event_b64: str | None = None) -> Any:
        script = (
            "const options = arg.event === null ? {} : {eventBytes: bytes(arg.event)};"
            "return transparency.verifyInclusionResponse(arg.response, arg.vkey, options);"
        )
        return self._call(script, {"response": response, "vkey": vkey, "event": event_b64})

    def verify_checkpoint(self, note: str, vkey: str) -> Any:
        script = (
            "const r = await transparency.verifyCheckpoint(arg.note, arg.vkey);"
            "return {ok: r.ok, checks: r.checks};"  # r.checkpoint holds BigInts and typed arrays
        )
        return self._call(script, {"note": note, "vkey": vkey})

    def hashes(self, arg: dict[str, str]) -> Any:
        """leafHash(data), nodeHash(left, right) and computeKeyId(name, key), from base64 arguments."""
        script = """
            const t = transparency;
            return {
                leaf: t.toBase64(await t.leafHash(bytes(arg.data))),
                node: t.toBase64(await t.nodeHash(bytes(arg.left), bytes(arg.right))),
                keyId: t.toHex(await t.computeKeyId(arg.name, bytes(arg.key))),
            };"""
        return self._call(script, arg)


def failed(result: dict[str, Any]) -> dict[str, str]:
    """The failed checks of a verify result, name -> detail."""
    return {c["name"]: c["detail"] for c in result["checks"] if not c["ok"]}
