"""The auditors' console: where each of its tools is, the signing key to compare, the log's state."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from services.ingest.application.access import Person
from services.readmodels.freshness import Freshness
from services.web.navigation import NavEntry
from services.web.pages.audit_common import AUDIT_READERS, MINISTRY_READERS, precise_instant, tabs
from services.web.pages.audit_proofs import latest_checkpoint, published_keys
from services.web.people import require
from services.web.templating import language_of, render
from services.web.web_side import WebSide, web_side

router = APIRouter(include_in_schema=False)
NAV = (NavEntry("Audit", "/audit", AUDIT_READERS, order=80),)


@router.get("/audit")
def console(
    request: Request,
    person: Annotated[Person, Depends(require(*AUDIT_READERS))],
    web: Annotated[WebSide, Depends(web_side)],
) -> Response:
    latest = latest_checkpoint(web)
    context = {
        "tabs": tabs(request, person),
        "keys": published_keys(request, web),
        "latest": latest,
        "latest_time": precise_instant(language_of(request), latest.signed.checkpoint.issued_at) if latest else "",
        "position": web.read.audit_trail.visible(Freshness()),
        "reads_rollups": bool(MINISTRY_READERS & person.principal.roles),
    }
    return render(request, "audit/home.html", context)
