"""One agency's monthly submission: enter values, read it back, and its lifecycle (submit, approve, return, reopen)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from domain.identity import Principal, Role
from services.http.auth import AgencyReporter, Reader, Reviewer, require_agency_access
from services.ingest.application import submissions as handle
from services.ingest.application.commands import Action, ChangeStatus, EnterValues, Entry, expected_version
from services.ingest.http.dependencies import IdempotencyKey, IfMatch, Write, answer, idempotency
from services.ingest.http.schemas import ReasonIn, ValuesIn

router = APIRouter(prefix="/agencies/{agency}/periods/{period}", tags=["submissions"])


@router.post("/values")
def enter_values(
    agency: str,
    period: str,
    body: ValuesIn,
    request: Request,
    principal: AgencyReporter,
    write: Write,
    idempotency_key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    """Submit or correct indicator values; each accepted value becomes one event."""
    require_agency_access(principal, agency, write=True)
    key = idempotency(principal, idempotency_key, request, body)
    entries = tuple(Entry(item.indicator, item.value) for item in body.values)
    command = EnterValues(agency, period, entries, body.reason, expected_version(if_match))
    return answer(handle.enter_values(write, principal, command, key))


@router.get("/submission")
def read_submission(agency: str, period: str, principal: Reader, write: Write) -> dict[str, Any]:
    """The submission as stored now (strongly consistent)."""
    require_agency_access(principal, agency, write=False)
    return handle.read_submission(write, agency, period).to_json()


class Step:
    """What a lifecycle route takes besides its principal: the period's report, an optional reason, the headers."""

    def __init__(
        self,
        agency: str,
        period: str,
        request: Request,
        write: Write,
        body: ReasonIn | None = None,
        idempotency_key: IdempotencyKey = None,
        if_match: IfMatch = None,
    ) -> None:
        self.agency, self.period, self.request, self.write = agency, period, request, write
        self.body = body or ReasonIn()
        self.idempotency_key, self.if_match = idempotency_key, if_match

    def take(self, action: Action, principal: Principal) -> Response:
        if principal.role is Role.AGENCY_REPORTER:
            require_agency_access(principal, self.agency, write=True)
        key = idempotency(principal, self.idempotency_key, self.request, self.body)
        command = ChangeStatus(self.agency, self.period, action, self.body.reason, expected_version(self.if_match))
        return answer(handle.change_status(self.write, principal, command, key))


Steps = Annotated[Step, Depends()]


@router.post("/submit")
def submit_report(step: Steps, principal: AgencyReporter) -> Response:
    return step.take(Action.SUBMIT, principal)


@router.post("/approve")
def approve_report(step: Steps, principal: Reviewer) -> Response:
    return step.take(Action.APPROVE, principal)


@router.post("/return")
def return_report(step: Steps, principal: Reviewer) -> Response:
    return step.take(Action.RETURN, principal)


@router.post("/reopen")
def reopen_report(step: Steps, principal: Reviewer) -> Response:
    return step.take(Action.REOPEN, principal)
