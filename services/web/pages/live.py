"""`GET /live`: the Server-Sent Events stream an open page listens to (services/web/live.py).

A page names the projections its fragments are read from (`watch=`); it gets a `changed` event
when one of them advanced and re-fetches those fragments. The events carry positions only.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sse_starlette import EventSourceResponse

from services.ingest.application.access import Person
from services.readmodels import READ_MODELS
from services.readmodels.errors import InvalidParameter
from services.web.live import unknown_projections
from services.web.navigation import NavEntry
from services.web.people import signed_in
from services.web.web_side import WebSide, web_side

router = APIRouter(include_in_schema=False)
NAV: tuple[NavEntry, ...] = ()
PING_SECONDS = 15  # a comment line now and then keeps proxies from closing a quiet stream


@router.get("/live")
async def live(
    person: Annotated[Person, Depends(signed_in)],
    web: Annotated[WebSide, Depends(web_side)],
    watch: Annotated[list[str], Query(max_length=len(READ_MODELS))],
) -> EventSourceResponse:
    unknown = unknown_projections(watch)
    if unknown:
        raise InvalidParameter(f"no read model {', '.join(unknown)}")
    return EventSourceResponse(web.live.stream(watch), ping=PING_SECONDS)
