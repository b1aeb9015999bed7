"""One agency's monthly submission: enter values, read it back, and its lifecycle (submit, recall, approve, return,
reopen)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from domain.identity import Principal, Role
from services.http.auth import AgencyReporter, Reader, Reviewer, require_agency_access
from services.ingest.application import submissions as handle
from services.ingest.application.commands import Action, ChangeStatus, EnterValues, Entry, expected_version
from services.ingest.http.dependencies import IdempotencyKey, IfMatch, Write, answer, idempotency
from services.ingest.http.schemas import ReasonIn, StatusOut, ValuesIn

router = APIRouter(prefix="/agencies/{agency}/periods/{period}", tags=["submissions"])
F = TypeVar("F", bound=Callable[..., Any])


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

# How a retry behaves: part of every lifecycle route's description in the OpenAPI.
RETRIES = (
    "With an `Idempotency-Key`, a retry of the same request gets the first answer again, byte for byte, "
    "whatever happened to the report since; the same key with another body is a 422 `idempotency-key-reused`. "
    'With `If-Match: "<version>"` the step is refused with 409 `version-conflict` if the report changed since.'
)


def lifecycle_route(path: str, summary: str, description: str, answers: str) -> Callable[[F], F]:
    """A lifecycle step's route: its summary, what it does and refuses, how a retry behaves, what it answers."""
    return router.post(
        path,
        summary=summary,
        description=f"{description}\n\n{RETRIES}",
        responses={200: {"model": StatusOut, "description": answers}},
    )


@lifecycle_route(
    "/submit",
    "Submit the period's report",
    "The agency submits its report for the month: every required indicator present and every rule of severity "
    "`error` passing (otherwise 422 `validation-failed` lists each failure). A late submission is accepted and "
    "recorded as late (`deadline`, `late`, `days_late`, on the Vietnamese calendar day). An optional `reason` "
    "(a note to the reviewer, e.g. what was corrected) is kept with the event.",
    "the report, now `submitted`, with the outlier warnings of its values",
)
def submit_report(step: Steps, principal: AgencyReporter) -> Response:
    return step.take(Action.SUBMIT, principal)


@lifecycle_route(
    "/recall",
    "Recall a submitted report to correct it",
    "The agency withdraws the report it submitted while no reviewer has approved or returned it (409 "
    "`invalid-transition` otherwise: once reviewed, the ministry returns or reopens it). The `reason` is "
    "required (422 `reason-required`); corrections made after it need a reason too, then the report is "
    "submitted again.",
    "the report, now `recalled`",
)
def recall_report(step: Steps, principal: AgencyReporter) -> Response:
    return step.take(Action.RECALL, principal)


@lifecycle_route(
    "/approve",
    "Approve a submitted report",
    "A ministry reviewer approves a submitted report (`reason` optional); only a `submitted` report can be "
    "approved (409 `invalid-transition` otherwise). An approved report is locked until the ministry reopens it.",
    "the report, now `approved`",
)
def approve_report(step: Steps, principal: Reviewer) -> Response:
    return step.take(Action.APPROVE, principal)


@lifecycle_route(
    "/return",
    "Return a submitted report for revision",
    "A ministry reviewer returns a submitted report to the agency. The `reason` is required (422 "
    "`reason-required`) and shown to the agency on its form and home page; the agency corrects the values "
    "(each correction with a reason) and submits again.",
    "the report, now `returned`",
)
def return_report(step: Steps, principal: Reviewer) -> Response:
    return step.take(Action.RETURN, principal)


@lifecycle_route(
    "/reopen",
    "Reopen an approved report",
    "A ministry reviewer reopens an approved report so that the agency can correct it; the `reason` is "
    "required (422 `reason-required`).",
    "the report, now `reopened`",
)
def reopen_report(step: Steps, principal: Reviewer) -> Response:
    return step.take(Action.REOPEN, principal)
