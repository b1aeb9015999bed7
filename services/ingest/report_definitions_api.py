"""Write API for derived report types: the ministry defines a report from indicators already collected."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from domain.identity import Principal, Role
from domain.report_definitions import ReportSpec
from services.http.auth import require_roles
from services.ingest.commands import Idempotency, IngestService
from services.ingest.idempotency import check_key, fingerprint

router = APIRouter(tags=["report definitions"])

Ministry = Annotated[Principal, Depends(require_roles(Role.MINISTRY_REVIEWER, Role.ADMIN))]


class ReportDefinitionIn(BaseModel):
    """A derived report: indicators, a period type and a scope. Posting an existing code revises it."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    name_vi: str = Field(min_length=1, max_length=500)
    name_en: str = Field(default="", max_length=500)
    period_kind: Literal["month", "quarter", "half_year", "year"]
    scope: Literal["agency", "region", "national"]
    indicators: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(min_length=1, max_length=500)


def _service(request: Request) -> IngestService:
    return request.app.state.service  # type: ignore[no-any-return]


@router.post("/report-definitions", status_code=201)
def define_report(
    body: ReportDefinitionIn,
    request: Request,
    principal: Ministry,
    svc: Annotated[IngestService, Depends(_service)],
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Response:
    """Define or revise a report type; it can be produced at once for every period that has data.

    Answers the definition, its `revision` and the `position` of the stored event
    (null when nothing changed); pass `position` as `min_position` to the reports API.
    """
    spec = ReportSpec.from_dict(body.model_dump())
    idempotency = None
    if idempotency_key is not None:
        fp = fingerprint(request.method, request.url.path, body.model_dump(mode="json"))
        idempotency = Idempotency(principal.subject, check_key(idempotency_key), fp)
    result = svc.define_report(principal, spec, idempotency=idempotency)
    return Response(result.body, status_code=result.status_code, media_type="application/json")
