"""The indicator catalogue (admin): define or revise indicators and cross-indicator rules."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from services.http.auth import Admin
from services.ingest.application import catalogue as handle
from services.ingest.application.commands import DefineIndicators
from services.ingest.http.dependencies import Writing, answer
from services.ingest.http.schemas import IndicatorsIn

router = APIRouter(tags=["administration"])


@router.post("/admin/catalogue")
def define_indicators(body: IndicatorsIn, principal: Admin, call: Writing) -> Response:
    command = DefineIndicators.from_dicts(
        [item.model_dump(exclude_none=True) for item in body.indicators],
        [item.model_dump(exclude_none=True) for item in body.rules],
    )
    return answer(handle.define_indicators(call.write, principal, command, call.idempotency(principal, body)))
