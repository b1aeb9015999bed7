"""What the pages are built from: the write application, the read models' queries, the session store.

The composition root (`entrypoints/bootstrap.py`) builds it; pages reach it through `web_side`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from fastapi import Request

from services.http.read_side import ReadSide
from services.ingest.application.imports.side import ImportSide
from services.ingest.application.write_side import WriteSide
from services.web.live import LiveUpdates
from services.web.people import Sessions


@dataclass
class WebSide:
    write: WriteSide
    read: ReadSide
    sessions: Sessions
    session_idle: timedelta
    session_lifetime: timedelta
    imports: ImportSide = field(kw_only=True)  # uploads of files of values (pages/imports.py)
    live: LiveUpdates = field(default_factory=LiveUpdates)  # projection advances -> open pages


async def web_side(request: Request) -> WebSide:
    web: WebSide = request.app.state.web
    return web
