"""Templates: the form of a template for a period, and publishing a template's versions (admin)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from services.http.auth import Admin, Reader
from services.ingest.application import catalogue as handle
from services.ingest.application.commands import PublishTemplate
from services.ingest.application.submissions import template_form
from services.ingest.http.dependencies import Write, Writing, answer
from services.ingest.http.schemas import TemplateVersionIn

router = APIRouter()


@router.get("/templates/{code}/form", tags=["reference"])
def read_form(code: str, period: str, principal: Reader, write: Write) -> dict[str, Any]:
    """The indicators and rules of a template for a period."""
    return template_form(write, code, period).describe()


@router.post("/admin/templates/{code}/versions", tags=["administration"], status_code=201)
def publish_template(code: str, body: TemplateVersionIn, principal: Admin, call: Writing) -> Response:
    """Create a template with its first version, or publish its next version (from a month not yet open)."""
    command = PublishTemplate(
        code,
        body.effective_from,
        tuple(body.indicators),
        name_vi=body.name_vi,
        name_en=body.name_en,
        applies_to=body.applies_to,
        base=body.base,
    )
    return answer(handle.publish_template(call.write, principal, command, call.idempotency(principal, body)), 201)
