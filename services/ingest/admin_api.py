"""Write API for the agency registry (admin role): rename, close or merge, assign a template.

Registering an agency (`POST /admin/agencies`), the catalogue and template versions
are in `services/ingest/api.py`. Every change is an event of the agency aggregate
with the date it takes effect; refusals are problems and store nothing.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from domain.identity import Principal, Role
from services.http.auth import require_roles
from services.ingest.commands import CommandResult, Idempotency, IngestService
from services.ingest.idempotency import check_key, fingerprint

router = APIRouter(tags=["administration"])

Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
AgencyCode = Annotated[str, Path(min_length=1, max_length=100)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


def _service(request: Request) -> IngestService:
    return request.app.state.service  # type: ignore[no-any-return]


Service = Annotated[IngestService, Depends(_service)]


class RenameIn(BaseModel):
    """A new name from `effective_from` (after the latest name's date); earlier periods keep theirs."""

    model_config = ConfigDict(extra="forbid")

    effective_from: date
    name_vi: str = Field(min_length=1, max_length=500)
    name_en: str = Field(default="", max_length=500)


class CloseIn(BaseModel):
    """The agency's last day; with `successor`, a merge (many agencies may merge into one)."""

    model_config = ConfigDict(extra="forbid")

    effective_to: date
    successor: str | None = Field(default=None, min_length=1, max_length=100)


class TemplateIn(BaseModel):
    """The template the agency fills for periods not opened yet."""

    model_config = ConfigDict(extra="forbid")

    template: str = Field(min_length=1, max_length=100)


def _idempotency(principal: Principal, key: str | None, request: Request, body: BaseModel) -> Idempotency | None:
    if key is None:
        return None
    fp = fingerprint(request.method, request.url.path, body.model_dump(mode="json"))
    return Idempotency(principal.subject, check_key(key), fp)


def _respond(result: CommandResult) -> Response:
    return Response(result.body, status_code=result.status_code, media_type="application/json")


@router.post("/admin/agencies/{agency}/rename")
def rename_agency(
    agency: AgencyCode,
    body: RenameIn,
    request: Request,
    principal: Admin,
    svc: Service,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Rename an agency from a date (e.g. the 2025-03-01 renames to Departments of Science and Technology).

    Answers the agency with every name and the `position` of the stored event (null when unchanged).
    """
    idempotency = _idempotency(principal, idempotency_key, request, body)
    return _respond(
        svc.rename_agency(principal, agency, body.effective_from, body.name_vi, body.name_en, idempotency=idempotency)
    )


@router.post("/admin/agencies/{agency}/close")
def close_agency(
    agency: AgencyCode,
    body: CloseIn,
    request: Request,
    principal: Admin,
    svc: Service,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Close an agency after `effective_to`, or merge it into `successor` (in force the next day).

    Its past submissions stay its own; periods after the closure are not open to it.
    """
    idempotency = _idempotency(principal, idempotency_key, request, body)
    return _respond(svc.close_agency(principal, agency, body.effective_to, body.successor, idempotency=idempotency))


@router.post("/admin/agencies/{agency}/template")
def assign_template(
    agency: AgencyCode,
    body: TemplateIn,
    request: Request,
    principal: Admin,
    svc: Service,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Assign the template the agency fills from now on (submissions already opened keep theirs)."""
    idempotency = _idempotency(principal, idempotency_key, request, body)
    return _respond(svc.assign_template(principal, agency, body.template, idempotency=idempotency))
