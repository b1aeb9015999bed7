"""The OpenAPI of both services, read without a server: the rules every endpoint must follow.

- every endpoint but health and docs requires a bearer token and declares the roles it admits
  (`x-roles`, taken from its `require_roles` dependency);
- no request body admits a member it does not declare (`extra="forbid"`), at any depth: a client
  can never set a field the server sets (actor, agency, position, ...);
- every endpoint declares its refusals as problem details, 503 and 429 with Retry-After.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from entrypoints.apps import ingest_app, reports_app
from infra.settings import Settings

PUBLIC = {"/health", "/ready"}


@pytest.fixture(params=["ingest", "reports"])
def spec(request: pytest.FixtureRequest) -> dict[str, Any]:
    factory = ingest_app if request.param == "ingest" else reports_app
    app: FastAPI = factory(Settings())  # the lifespan (database, broker) does not run
    return app.openapi()


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if path not in PUBLIC
    ]


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


def open_objects(spec: dict[str, Any], schema: dict[str, Any], where: str, seen: set[str]) -> list[str]:
    """The places in `schema` where an object admits undeclared members."""
    if "$ref" in schema:
        if schema["$ref"] in seen:
            return []
        seen.add(schema["$ref"])
    schema = resolve(spec, schema)
    found: list[str] = []
    if schema.get("type") == "object" or "properties" in schema:
        if schema.get("additionalProperties", True) is not False:
            found.append(where)
        for name, member in schema.get("properties", {}).items():
            found += open_objects(spec, member, f"{where}.{name}", seen)
    for key in ("items",):
        if key in schema:
            found += open_objects(spec, schema[key], f"{where}[]", seen)
    for key in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(key, []):
            found += open_objects(spec, option, where, seen)
    return found


def test_every_endpoint_requires_a_token_and_declares_its_roles(spec: dict[str, Any]) -> None:
    unprotected = [f"{m} {p}" for m, p, op in operations(spec) if {"HTTPBearer": []} not in op.get("security", [])]
    assert unprotected == []
    undeclared = [f"{m} {p}" for m, p, op in operations(spec) if not op.get("x-roles")]
    assert undeclared == [], "every endpoint admits its roles through require_roles (services/http/auth.py)"


def test_no_request_body_admits_undeclared_members(spec: dict[str, Any]) -> None:
    bodies = 0
    for method, path, operation in operations(spec):
        body = operation.get("requestBody")
        if body is None or "application/json" not in body["content"]:
            continue  # none, or an uploaded file (not a set of fields)
        bodies += 1
        schema = body["content"]["application/json"]["schema"]
        assert open_objects(spec, schema, f"{method} {path}", set()) == []
    assert bodies >= (8 if "ingest" in spec["info"]["title"] else 0)


def test_the_checker_sees_an_open_object() -> None:
    spec: dict[str, Any] = {"components": {"schemas": {"Open": {"type": "object", "properties": {}}}}}
    nested = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"x": {"$ref": "#/components/schemas/Open"}},
    }
    assert open_objects(spec, nested, "body", set()) == ["body.x"]


def test_every_endpoint_declares_its_refusals(spec: dict[str, Any]) -> None:
    for method, path, operation in operations(spec):
        responses = operation["responses"]
        for status in ("401", "403", "422", "429", "503"):
            assert "application/problem+json" in responses[status]["content"], f"{method} {path} {status}"
        assert "Retry-After" in responses["503"]["headers"]
        assert "Retry-After" in responses["429"]["headers"]
