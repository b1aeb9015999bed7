"""The layers hold (import-linter), and breaking one is caught: a forbidden import fails the contracts."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
PACKAGES = ("domain", "infra", "services", "entrypoints")
LINT = Path(sys.executable).with_name("lint-imports")


def lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def status(output: str, contract: str) -> str:
    """KEPT or BROKEN, for the contract whose name contains `contract`, from lint-imports' summary."""
    summary = output.split("Broken contracts")[0]
    start = summary.index(contract)
    kept, broken = summary.find("KEPT", start), summary.find("BROKEN", start)
    found = [i for i in (kept, broken) if i >= 0]
    return "BROKEN" if min(found) == broken else "KEPT"


def test_the_code_keeps_every_contract() -> None:
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("domain/periods.py", "import psycopg", "The domain does no I/O"),
        ("domain/periods.py", "import services.reports", "Layers"),
        ("services/ingest/application/__init__.py", "import fastapi", "know nothing of HTTP"),
        ("services/readmodels/__init__.py", "import starlette", "know nothing of HTTP"),
        ("services/ingest/application/__init__.py", "import infra.event_store", "only through its ports"),
        ("services/http/__init__.py", "import psycopg", "know nothing of SQL"),
        ("infra/settings.py", "import services.projector", "Layers"),
    ],
)
def test_a_forbidden_import_breaks_a_contract(tmp_path: Path, module: str, line: str, contract: str) -> None:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    target.write_text(target.read_text("utf-8") + f"\n{line}  # noqa\n", "utf-8")
    assert status(lint(ROOT).stdout, contract) == "KEPT"
    result = lint(tmp_path)
    assert result.returncode != 0
    assert status(result.stdout, contract) == "BROKEN", result.stdout
