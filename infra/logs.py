"""Structured logs: one JSON object per line on standard error, from the standard library's logging.

Every line has `time` (UTC, ISO 8601, milliseconds), `level`, `logger`, `message`, `service` and
`pid`; a line written while a request is served also has its `request_id`. Fields of an event go
as `log.info("request", extra=fields(method="GET", ...))` and become members of the line. Never
log a secret: tokens, passwords, session cookies and request bodies stay out of every line.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping
from typing import Any, Final

import orjson

from infra import request_context

FIELDS: Final = "fields"
# Third-party loggers that chat at INFO (connections, retries): warnings and errors only.
QUIET_LOGGERS: Final = ("kafka", "httpx", "psycopg.pool", "uvicorn.access")
_RESERVED: Final = frozenset({"time", "level", "logger", "message", "service", "pid"})


def fields(**values: Any) -> dict[str, Mapping[str, Any]]:
    """The `extra=` of a log call carrying these members."""
    return {FIELDS: values}


class JSONFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        seconds = time.gmtime(record.created)
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", seconds) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "service": self.service,
            "pid": record.process,
        }
        request_id = request_context.current_request_id()
        if request_id is not None:
            entry["request_id"] = request_id
        extra = getattr(record, FIELDS, None)
        if isinstance(extra, Mapping):
            entry.update((k, v) for k, v in extra.items() if k not in _RESERVED)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """Ours, so that configuring again replaces it instead of adding a second one."""


def configure_logging(service: str, level: int = logging.INFO) -> None:
    """JSON lines for the whole process (idempotent: a uvicorn worker calls it again as it builds its app)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(handler)
    handler = _Handler(sys.stderr)
    handler.setFormatter(JSONFormatter(service))
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)  # Python's warnings too, as lines of their own (logger `py.warnings`)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
