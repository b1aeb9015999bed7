"""Schemathesis against both services' OpenAPI, with real tokens.

Every operation gets generated requests from the callers the authorization matrix admits
(an agency token names its own agency, so the requests get past authorization). Each
response must be no 5xx and conform to the schema: a documented status, a documented
content type, a body that validates against the declared schema, the declared headers.
"""

from __future__ import annotations

from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from domain.identity import Role
from tests.conftest import Stack, StackFactory
from tests.e2e.test_authorization_matrix import MATRIX

EXAMPLES = 15
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
ROLES = {
    "own": (Role.AGENCY_REPORTER, "P01"),
    "reviewer": (Role.MINISTRY_REVIEWER, None),
    "auditor": (Role.AUDITOR, None),
    "admin": (Role.ADMIN, None),
}


def callers(service: str, method: str, path: str) -> list[str]:
    """The agency token where it is admitted, and one ministry-side role."""
    allowed = [c for c in MATRIX[(service, method, path)].allowed if c in ROLES]
    ministry = [c for c in allowed if c != "own"]
    return (["own"] if "own" in allowed else []) + ministry[:1]


def run_operation(operation: Any, caller: str, token: str) -> int:
    """EXAMPLES generated cases of one operation as one caller; returns how many ran."""
    headers = {"Authorization": f"Bearer {token}"}
    ran = 0

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=operation.as_strategy())
    def call(case: schemathesis.Case) -> None:
        nonlocal ran
        if caller == "own":  # the agency token names its own agency, to get past authorization
            if case.path_parameters and "agency" in case.path_parameters:
                case.path_parameters["agency"] = "P01"
            if isinstance(case.query, dict) and "agency" in case.query:
                case.query["agency"] = "P01"
        if isinstance(case.query, dict) and isinstance(case.query.get("wait_ms"), int):
            # A generated min_position is seldom reached: the wait would only slow the run down
            # (read-your-writes waits are tested in tests/e2e/test_ministry_reports.py).
            case.query["wait_ms"] = min(case.query["wait_ms"], 50)
        response = case.call(headers=headers, timeout=30)
        case.validate_response(response, checks=CHECKS, headers=headers)
        ran += 1

    call()
    return ran


def fuzz(service: str, base_url: str, tokens: dict[str, str]) -> int:
    """Every operation of the service as the callers admitted; returns how many cases ran."""
    schema = schemathesis.openapi.from_url(base_url + "/openapi.json")
    ran = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in ("/health", "/ready"):
            continue
        for caller in callers(service, operation.method.upper(), operation.path):
            ran += run_operation(operation, caller, tokens[caller])
    return ran


def test_generated_requests_get_no_5xx_and_conform_to_the_schema(stack_factory: StackFactory) -> None:
    stack: Stack = stack_factory("ingest", "reports")
    tokens = {caller: stack.token(role, agency) for caller, (role, agency) in ROLES.items()}
    ingest = fuzz("ingest", stack.ingest_url, tokens)
    reports = fuzz("reports", stack.reports_url, tokens)
    print(f"\nschemathesis: {ingest} generated requests to the write API, {reports} to the reports API")
    assert ingest >= 15 * EXAMPLES
    assert reports >= 15 * EXAMPLES


def test_the_checks_see_an_undocumented_answer(stack_factory: StackFactory) -> None:
    """The same checks refuse a response the schema does not declare (the test above can fail)."""
    stack: Stack = stack_factory("reports")
    schema = schemathesis.openapi.from_url(stack.reports_url + "/openapi.json")
    operation = schema["/report-definitions"]["GET"]
    case = operation.Case()
    undocumented = httpx.Response(
        418, json={"oops": True}, request=httpx.Request("GET", stack.reports_url + "/report-definitions")
    )
    failed: list[Any] = []
    try:
        case.validate_response(undocumented, checks=CHECKS)
    except Exception as error:  # schemathesis raises a group of the failed checks
        failed.append(error)
    assert failed, "a 418 with an undeclared body passes the checks"
