#!/usr/bin/env python3
"""Fetch the vendored front-end libraries from the npm registry and rewrite MANIFEST.json.

The pages load these files from the app's own origin; running the app never needs Node or npm.
This script records how they were obtained and re-runs an update: for each pinned package it runs
`npm pack <name>@<version>` in a temporary directory, checks the tarball against the registry's
`dist.integrity` (sha512), copies the chosen files (code and licence texts) to `<name>/` beside this
script, and writes MANIFEST.json with the tarball URL, the integrity and the sha256 of every file.

To update a library, change its version in PACKAGES and run `python3 services/web/static/vendor/vendor.py`.
Stdlib only; needs `npm` on PATH.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "MANIFEST.json"


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    code: dict[str, str]  # path in the tarball (under package/) -> file name in <name>/
    licences: dict[str, str]


PACKAGES = (
    # htmx-ext-sse 2.x declares htmx.org ^2.0.2 as its peer, so htmx stays on its 2.x line.
    Package("htmx.org", "2.0.11", {"dist/htmx.min.js": "htmx.min.js"}, {"LICENSE": "LICENSE"}),
    Package("htmx-ext-sse", "2.2.4", {"dist/sse.js": "sse.js"}, {"LICENSE": "LICENSE"}),
    Package(
        "echarts",
        "6.1.0",
        {"dist/echarts.min.js": "echarts.min.js"},  # the full build: canvas and SVG renderers
        {"LICENSE": "LICENSE", "NOTICE": "NOTICE", "licenses/LICENSE-d3": "LICENSE-d3"},
    ),
    Package(
        "axe-core",
        "4.14.1",
        {"axe.min.js": "axe.min.js"},
        {"LICENSE": "LICENSE", "LICENSE-3RD-PARTY.txt": "LICENSE-3RD-PARTY.txt"},
    ),
)


class VendorError(RuntimeError):
    """The registry's answer or the tarball is not what was expected."""


def _npm(*args: str, cwd: Path) -> Any:
    result = subprocess.run(["npm", *args, "--json"], cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise VendorError(f"npm {' '.join(args)} failed: {result.stderr.strip()[-500:]}")
    return json.loads(result.stdout)


def _sri_sha512(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def _member(archive: tarfile.TarFile, path: str) -> bytes:
    """One regular file of the tarball (npm puts everything under package/)."""
    info = archive.getmember(f"package/{path}")
    handle = archive.extractfile(info) if info.isfile() else None
    if handle is None:
        raise VendorError(f"package/{path} is not a regular file")
    with handle:
        return handle.read()


def fetch(package: Package, work: Path) -> dict[str, Any]:
    """Pack, check and copy one package; returns its manifest entry."""
    spec = f"{package.name}@{package.version}"
    dist = _npm("view", spec, "dist", cwd=work)
    packed = _npm("pack", spec, "--ignore-scripts", "--pack-destination", str(work), cwd=work)
    tarball = work / packed[0]["filename"]
    data = tarball.read_bytes()
    if _sri_sha512(data) != dist["integrity"]:
        raise VendorError(f"{spec}: the tarball does not match the registry's integrity {dist['integrity']}")
    target = HERE / package.name
    if target.exists():
        shutil.rmtree(target)
    target.mkdir()
    files = []
    with tarfile.open(tarball, "r:gz") as archive:
        meta = json.loads(_member(archive, "package.json"))
        if (meta.get("name"), meta.get("version")) != (package.name, package.version):
            raise VendorError(f"{spec}: the tarball holds {meta.get('name')}@{meta.get('version')}")
        for kind, chosen in (("code", package.code), ("license", package.licences)):
            for source, name in chosen.items():
                content = _member(archive, source)
                (target / name).write_bytes(content)
                files.append(
                    {
                        "path": f"{package.name}/{name}",
                        "source": f"package/{source}",
                        "kind": kind,
                        "sha256": hashlib.sha256(content).hexdigest(),
                    }
                )
    return {
        "name": package.name,
        "version": package.version,
        "license": meta.get("license"),  # as the package declares it (SPDX), if it does
        "tarball": dist["tarball"],
        "integrity": dist["integrity"],
        "files": files,
    }


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="vendor-") as name:
        entries = [fetch(package, Path(name)) for package in PACKAGES]
    manifest = {
        "about": "Front-end libraries served from this app's origin; written by vendor.py, checked by "
        "tests/unit/test_vendor_assets.py.",
        "packages": entries,
    }
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")
    for entry in entries:
        print(f"{entry['name']}@{entry['version']}: {len(entry['files'])} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
