"""Derived report types: the ministry defines a report from indicators already collected."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from domain.report_definitions import ReportSpec
from services.http.auth import ReviewerOrAdmin
from services.ingest.application import catalogue as handle
from services.ingest.application.commands import DefineReport
from services.ingest.http.dependencies import Writing, answer
from services.ingest.http.schemas import ReportDefinitionIn

router = APIRouter(tags=["report definitions"])


@router.post("/report-definitions", status_code=201)
def define_report(body: ReportDefinitionIn, principal: ReviewerOrAdmin, call: Writing) -> Response:
    """Define or revise a report type; it can be produced at once for every period that has data.

    Answers the definition, its `revision` and the `position` of the stored event
    (null when nothing changed); pass `position` as `min_position` to the reports API.
    """
    command = DefineReport(ReportSpec.from_dict(body.model_dump()))
    return answer(handle.define_report(call.write, principal, command, call.idempotency(principal, body)), 201)
