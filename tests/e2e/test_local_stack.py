"""`reporting up`: the whole local system from one command, stopped cleanly by SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import psutil
import pytest

from infra.runtime.ports import free_port, port_is_free, wait_until
from tests.helpers import auth, open_month, tokens_cli

PERSON_LINE = re.compile(r"^\s+(agency_reporter|ministry_reviewer|auditor|admin)\s.*?username (\S+)", re.MULTILINE)
TOKEN_LINE = re.compile(r"^\s+(agency_reporter|ministry_reviewer|auditor|admin)\s.*?(rpt_\S+)$", re.MULTILINE)


def start_stack(data_dir: Path, ports: dict[str, int], output: Path) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "entrypoints.cli", "up", "--data-dir", str(data_dir)]
    for name, port in ports.items():
        args += [f"--{name}-port", str(port)]
    with output.open("wb") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


@pytest.fixture
def data_dir() -> Path:
    """`.local` in a folder of its own: where `reporting up` keeps its data by default, beside the checkout."""
    parent = Path(tempfile.mkdtemp(prefix="reporting-up-"))
    parent.chmod(0o755)
    folder = parent / ".local"
    folder.mkdir(mode=0o755)
    return folder


def test_up_serves_the_readme_flow_and_stops_without_leftovers(data_dir: Path) -> None:
    ports = {
        "postgres": free_port(),
        "kafka": free_port(),
        "ingest": free_port(),
        "reports": free_port(),
        "web": free_port(),
    }
    output = data_dir / "up.out"
    stack = start_stack(data_dir, ports, output)
    try:
        wait_until(lambda: "Demo API tokens:" in output.read_text() and "rpt_" in output.read_text(), 180, what="up")
        banner = output.read_text()
        tokens = dict(TOKEN_LINE.findall(banner))
        assert set(tokens) == {"agency_reporter", "ministry_reviewer", "auditor", "admin"}
        people = dict(PERSON_LINE.findall(banner))
        assert set(people) == {"agency_reporter", "ministry_reviewer", "auditor", "admin"}
        sign_in = f"http://127.0.0.1:{ports['web']}/sign-in"
        assert sign_in in banner
        assert httpx.get(sign_in).status_code == 200
        children = psutil.Process(stack.pid).children(recursive=True)
        assert len(children) >= 6, "the broker and the services run under the stack"
        # pg_ctl daemonises PostgreSQL: find the postmaster by its pid file.
        postmaster = psutil.Process(int((data_dir / "postgres" / "postmaster.pid").read_text().split()[0]))
        assert postmaster.is_running()
        children.append(postmaster)

        # The README's example: submit a value, read it back with read-your-writes.
        period = open_month()
        ingest, reports = f"http://127.0.0.1:{ports['ingest']}", f"http://127.0.0.1:{ports['reports']}"
        response = httpx.post(
            f"{ingest}/agencies/P01/periods/{period}/values",
            json={  # the demo's last month was returned: a correction gives its reason
                "values": [{"indicator": "TEL.MOBILE_SUBSCRIBERS", "value": 9_100_123}],
                "reason": "Số liệu thuê bao theo báo cáo của doanh nghiệp",
            },
            headers={**auth(tokens["agency_reporter"]), "Idempotency-Key": "readme-1"},
        )
        assert response.status_code == 200, response.text
        position = response.json()["position"]
        report = httpx.get(
            f"{reports}/agencies/P01/periods/{period}/report",
            params={"min_position": position},
            headers=auth(tokens["agency_reporter"]),
            timeout=15,
        )
        assert report.status_code == 200, report.text
        values = {v["indicator"]: v["value"] for v in report.json()["values"]}
        assert values["TEL.MOBILE_SUBSCRIBERS"] == 9_100_123

        # The token CLI, run beside the stack, reaches its database through the settings it wrote.
        assert (data_dir / "settings.env").stat().st_mode & 0o077 == 0
        beside = data_dir.parent
        issued = tokens_cli("create", "--role", "agency_reporter", "--agency", "P01", "--label", "DHIS2", cwd=beside)
        assert issued.returncode == 0, issued.stderr
        assert f"{ports['postgres']} database" in issued.stderr
        form = httpx.get(
            f"{ingest}/templates/UNIFIED-PROVINCIAL/form",
            params={"period": period.code},
            headers=auth(issued.stdout.strip()),
        )
        assert form.status_code == 200
        refused = tokens_cli("create", "--role", "agency_reporter", "--agency", "ZZ99", "--label", "x", cwd=beside)
        assert (refused.returncode, refused.stdout) == (2, "")
        assert "agency ZZ99 does not exist" in refused.stderr
    finally:
        stack.send_signal(signal.SIGTERM)
        assert stack.wait(60) == 0
    assert not [p for p in children if p.is_running() and p.status() != psutil.STATUS_ZOMBIE], "no orphans"
    assert all(port_is_free(port) for port in ports.values())
    assert not (data_dir / "stack.pid").exists()

    # A second start on the same folder works: same cluster, the broker's log is new.
    second = start_stack(data_dir, ports, data_dir / "up2.out")
    try:
        wait_until(lambda: "Demo API tokens:" in (data_dir / "up2.out").read_text(), 180, what="second banner")
        # The demo people keep the passwords printed at the first start.
        assert dict(PERSON_LINE.findall((data_dir / "up2.out").read_text())) == people
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(60) == 0


def test_up_refuses_a_taken_port(data_dir: Path) -> None:
    ports = {
        "postgres": free_port(),
        "kafka": free_port(),
        "ingest": free_port(),
        "reports": free_port(),
        "web": free_port(),
    }
    with _listening(ports["ingest"]):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "entrypoints.cli",
                "up",
                "--data-dir",
                str(data_dir),
                *[arg for name, port in ports.items() for arg in (f"--{name}-port", str(port))],
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env=os.environ.copy(),
        )
    assert result.returncode == 2
    assert f"port {ports['ingest']} is in use" in result.stderr


class _listening:
    def __init__(self, port: int) -> None:
        import socket

        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", port))
        self.socket.listen()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        self.socket.close()
