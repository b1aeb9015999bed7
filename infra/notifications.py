"""Projection advances over PostgreSQL LISTEN/NOTIFY: the projector announces them, the web app listens.

After a batch commits, the projector notifies `CHANNEL` once per projection whose position advanced
(payload: `{"projection": name, "position": P}`, see `announce`). A web process holds ONE listening
connection (`ProjectionListener`, a thread of its own) and hands each advance to a callback, which
fans it out to the open pages. A notification is a wake-up, not data: a page that gets one reads the
read model again. Notifications sent while the listener was disconnected are lost, so after every
(re)connection it calls `on_resync`: every open page reads again once.

See docs/DECISIONS.md, *Live pages*.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

import orjson
import psycopg
from psycopg.rows import TupleRow

from infra.db import connect
from infra.settings import Settings

log = logging.getLogger("reporting.notifications")

CHANNEL = "reporting_projections"
WAIT_SECONDS = 0.5  # how often the listener looks at its stop flag
PING_SECONDS = 10.0  # a silent connection is checked this often (a dead peer sends no error)
RETRY_SECONDS = 1.0


def announce(conn: psycopg.Connection[TupleRow], advanced: Mapping[str, int]) -> None:
    """Notify the listeners that each projection of `advanced` applied events up to its position.

    Sent outside the batch's transaction, after it committed: whoever reads on a notification
    sees what it announces.
    """
    if not advanced:
        return
    payloads = [
        orjson.dumps({"projection": name, "position": position}).decode() for name, position in advanced.items()
    ]
    conn.execute("SELECT pg_notify(%s, payload) FROM unnest(%s::text[]) AS p(payload)", (CHANNEL, payloads))


def parse(payload: str) -> tuple[str, int] | None:
    """(projection, position) from a notification's payload; None for anything else on the channel."""
    try:
        data = orjson.loads(payload)
        name, position = data["projection"], data["position"]
    except (orjson.JSONDecodeError, TypeError, KeyError):
        return None
    if not isinstance(name, str) or not isinstance(position, int) or isinstance(position, bool):
        return None
    return name, position


class ProjectionListener:
    """One LISTEN connection in a daemon thread, reconnecting after a failure; `start`, then `stop`."""

    def __init__(
        self,
        settings: Settings,
        on_advance: Callable[[str, int], None],
        on_resync: Callable[[], None],
        *,
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        self.settings = settings
        self.on_advance = on_advance
        self.on_resync = on_resync
        self.retry_seconds = retry_seconds
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="projection-listener", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.connected.clear()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except psycopg.Error as error:
                log.warning("projection listener lost its connection, reconnecting: %s", error)
            self.connected.clear()
            self._stop.wait(self.retry_seconds)

    def _listen(self) -> None:
        with connect(self.settings) as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            self.connected.set()
            self.on_resync()  # whatever was announced while we were not listening
            last_ping = time.monotonic()
            while not self._stop.is_set():
                for notify in conn.notifies(timeout=WAIT_SECONDS):
                    parsed = parse(notify.payload)
                    if parsed is not None:
                        self.on_advance(*parsed)
                if time.monotonic() - last_ping >= PING_SECONDS:
                    conn.execute("SELECT 1")
                    last_ping = time.monotonic()
