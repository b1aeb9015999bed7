"""Schemathesis against both services' OpenAPI, with real tokens: no generated input produces a 5xx."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings

from domain.identity import Role
from tests.conftest import Stack

EXAMPLES = 25


def fuzz(base_url: str, headers: dict[str, str]) -> int:
    """Every operation of the service, EXAMPLES generated cases each; returns how many operations ran."""
    schema = schemathesis.openapi.from_url(base_url + "/openapi.json")
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy())
        def call(case: schemathesis.Case) -> None:
            response = case.call(headers=headers, timeout=30)
            assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text[:300]}"

        call()
        operations += 1
    return operations


def test_no_input_gives_a_server_error(stack: Stack) -> None:
    agency = {"Authorization": f"Bearer {stack.token(Role.AGENCY_REPORTER, 'P01')}"}
    admin = {"Authorization": f"Bearer {stack.token(Role.ADMIN)}"}
    auditor = {"Authorization": f"Bearer {stack.token(Role.AUDITOR)}"}
    assert fuzz(stack.ingest_url, agency) >= 10
    assert fuzz(stack.ingest_url, admin) >= 10
    assert fuzz(stack.reports_url, auditor) >= 1
