"""TCP ports and condition waits for the local runtime."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable


class PortInUse(RuntimeError):
    """The port a local server should listen on is already taken."""

    def __init__(self, port: int, host: str = "127.0.0.1", what: str = "server") -> None:
        super().__init__(
            f"cannot start {what}: port {port} on {host} is already in use; "
            "stop whatever holds it or choose another port"
        )
        self.port = port
        self.host = host


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (the kernel picks it; another process may still take it)."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when a server could bind host:port now."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        # As servers do: connections of a stopped server lingering in TIME_WAIT must not count as "in use".
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05, what: str = "") -> None:
    """Poll `predicate` until it returns true; TimeoutError after `timeout` seconds.

    Exceptions raised by the predicate propagate, so it can fail fast (e.g. when the awaited process died).
    """
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what or 'a condition'}")
        time.sleep(interval)


def port_answers(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when a TCP connection to host:port is accepted."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_port(host: str, port: int, timeout: float) -> None:
    """Wait until something accepts TCP connections on host:port."""
    wait_until(lambda: port_answers(host, port), timeout, what=f"{host}:{port} to accept connections")
