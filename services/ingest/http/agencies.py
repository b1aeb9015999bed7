"""The agency registry (admin): register, rename, close or merge an agency, assign its template and its
electronic identifier code.

Every change is an event of the agency aggregate with the date it takes effect; refusals are
problems and store nothing.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response

from services.http.auth import Admin
from services.ingest.application import registry as handle
from services.ingest.application.commands import (
    AssignElectronicCode,
    AssignTemplate,
    CloseAgency,
    RegisterAgency,
    RenameAgency,
)
from services.ingest.http.dependencies import Writing, answer
from services.ingest.http.schemas import AgencyIn, CloseIn, ElectronicCodeIn, RenameIn, TemplateIn

router = APIRouter(prefix="/admin/agencies", tags=["administration"])

AgencyCode = Annotated[str, Path(min_length=1, max_length=100)]


@router.post("", status_code=201)
def register_agency(body: AgencyIn, principal: Admin, call: Writing) -> Response:
    key = call.idempotency(principal, body)
    return answer(handle.register_agency(call.write, principal, RegisterAgency.from_dict(body.model_dump()), key), 201)


@router.post("/{agency}/rename")
def rename_agency(agency: AgencyCode, body: RenameIn, principal: Admin, call: Writing) -> Response:
    """Rename an agency from a date (e.g. the 2025-03-01 renames to Departments of Science and Technology).

    Answers the agency with every name and the `position` of the stored event (null when unchanged).
    """
    command = RenameAgency(agency, body.effective_from, body.name_vi, body.name_en)
    return answer(handle.rename_agency(call.write, principal, command, call.idempotency(principal, body)))


@router.post("/{agency}/close")
def close_agency(agency: AgencyCode, body: CloseIn, principal: Admin, call: Writing) -> Response:
    """Close an agency after `effective_to`, or merge it into `successor` (in force the next day).

    Its past submissions stay its own; periods after the closure are not open to it.
    """
    command = CloseAgency(agency, body.effective_to, body.successor)
    return answer(handle.close_agency(call.write, principal, command, call.idempotency(principal, body)))


@router.post("/{agency}/template")
def assign_template(agency: AgencyCode, body: TemplateIn, principal: Admin, call: Writing) -> Response:
    """Assign the template the agency fills from now on (submissions already opened keep theirs)."""
    command = AssignTemplate(agency, body.template)
    return answer(handle.assign_template(call.write, principal, command, call.idempotency(principal, body)))


@router.post("/{agency}/electronic-code")
def assign_electronic_code(agency: AgencyCode, body: ElectronicCodeIn, principal: Admin, call: Writing) -> Response:
    """Assign the agency's electronic identifier code (QCVN 102:2016), which the national feed names it by.

    Refused when the code is malformed or another agency holds it.
    """
    command = AssignElectronicCode(agency, body.electronic_code)
    return answer(handle.assign_electronic_code(call.write, principal, command, call.idempotency(principal, body)))
