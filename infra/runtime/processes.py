"""Services of the system as child processes: `reporting <name>` with an environment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx


@dataclass
class Service:
    """One child process of the stack, restarted if it dies on its own."""

    name: str
    env: dict[str, str]
    log_path: Path
    command: tuple[str, ...] = ()  # `reporting` arguments; default: the name
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        self._log = self._log or open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the service
        self.process = subprocess.Popen(
            [sys.executable, "-m", "entrypoints.cli", *(self.command or (self.name,))],
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL, as a crash would: no clean-up runs (fault tests)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


def http_ready(base_url: str) -> bool:
    """Whether an HTTP service answers its /ready probe with 200."""
    try:
        return httpx.get(base_url + "/ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def log_path(name: str) -> Path:
    """Where a service started outside a stack (benchmarks) writes its output."""
    return Path(tempfile.gettempdir()) / f"reporting-{name}.log"
