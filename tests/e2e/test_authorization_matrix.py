"""Every endpoint of both services x every role x own/other agency: the expected answer for each cell.

The endpoint list comes from the services' OpenAPI: an endpoint without a row
here fails the test, so no endpoint can ship without its authorization rule.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from domain.identity import Role
from infra.db import connect
from infra.settings import Settings
from infra.tokens import create_token, revoke_token
from tests.conftest import Stack, StackFactory
from tests.helpers import auth, open_month

# Callers: P01's agency reporter ("own"), P79's reporter naming P01 ("other"), the other roles, no token.
CALLERS = ("own", "other", "reviewer", "auditor", "admin", "anonymous")
ALLOWED = "allowed"  # the request passes authorization (its outcome may still be a domain 4xx)
PUBLIC = {"/health", "/ready", "/docs", "/openapi.json", "/docs/oauth2-redirect", "/redoc"}

# (service, method, path) -> who passes authorization; everyone else gets 401 (no token) or 403.
MATRIX: dict[tuple[str, str, str], set[str]] = {
    ("ingest", "POST", "/agencies/{agency}/periods/{period}/values"): {"own"},
    ("ingest", "GET", "/agencies/{agency}/periods/{period}/submission"): {"own", "reviewer", "auditor", "admin"},
    ("ingest", "POST", "/agencies/{agency}/periods/{period}/submit"): {"own"},
    ("ingest", "POST", "/agencies/{agency}/periods/{period}/approve"): {"reviewer"},
    ("ingest", "POST", "/agencies/{agency}/periods/{period}/return"): {"reviewer"},
    ("ingest", "POST", "/agencies/{agency}/periods/{period}/reopen"): {"reviewer"},
    ("ingest", "GET", "/templates/{code}/form"): {"own", "other", "reviewer", "auditor", "admin"},
    ("ingest", "POST", "/admin/catalogue"): {"admin"},
    ("ingest", "POST", "/admin/templates/{code}/versions"): {"admin"},
    ("ingest", "POST", "/admin/agencies"): {"admin"},
    ("reports", "GET", "/agencies/{agency}/periods/{period}/report"): {"own", "reviewer", "auditor", "admin"},
}

BODIES: dict[str, Any] = {
    "/agencies/{agency}/periods/{period}/values": {"values": [{"indicator": "TEL.MOBILE_SUBSCRIBERS", "value": 1}]},
    "/admin/catalogue": {"indicators": [], "rules": []},
    "/admin/templates/{code}/versions": {"effective_from": "2020-01", "indicators": ["TEL.MOBILE_SUBSCRIBERS"]},
    "/admin/agencies": {"code": "P01", "name_vi": "x", "kind": "provincial_department", "effective_from": "2008-01-01"},
}


def operations(base_url: str) -> set[tuple[str, str]]:
    spec = httpx.get(base_url + "/openapi.json").json()
    return {(method.upper(), path) for path, item in spec["paths"].items() for method in item if path not in PUBLIC}


def test_every_endpoint_every_role(stack: Stack) -> None:
    urls = {"ingest": stack.ingest_url, "reports": stack.reports_url}
    documented = {(service, *op) for service, url in urls.items() for op in operations(url)}
    assert documented == set(MATRIX), f"endpoints without a matrix row: {documented - set(MATRIX)}"

    tokens = {
        "own": stack.token(Role.AGENCY_REPORTER, "P01"),
        "other": stack.token(Role.AGENCY_REPORTER, "P79"),
        "reviewer": stack.token(Role.MINISTRY_REVIEWER),
        "auditor": stack.token(Role.AUDITOR),
        "admin": stack.token(Role.ADMIN),
    }
    period = open_month().code
    cells = 0
    for (service, method, path), allowed in MATRIX.items():
        for caller in CALLERS:
            # Every request names agency P01: "own" is P01's reporter, "other" is P79's.
            concrete = path.format(agency="P01", period=period, code="UNIFIED-PROVINCIAL")
            headers = auth(tokens[caller]) if caller in tokens else {}
            response = httpx.request(
                method,
                urls[service] + concrete,
                json=BODIES.get(path) if method == "POST" else None,
                params={"period": period} if path.endswith("/form") else None,
                headers=headers,
                timeout=30,
            )
            where = f"{caller} {method} {service}{path}: {response.status_code} {response.text[:200]}"
            if caller in allowed:
                assert response.status_code not in (401, 403), where
                assert response.status_code < 500, where
            elif caller == "anonymous":
                assert response.status_code == 401, where
                assert response.headers["www-authenticate"] == "Bearer"
            else:
                assert response.status_code == 403, where
                assert response.json()["code"] in ("forbidden", "wrong-agency"), where
            cells += 1
    assert cells == len(MATRIX) * len(CALLERS)


def test_revoked_and_expired_tokens_are_refused_at_once(stack: Stack) -> None:
    url = f"{stack.ingest_url}/templates/UNIFIED-PROVINCIAL/form"
    params = {"period": open_month().code}
    with connect(stack.settings) as conn:
        issued = create_token(conn, Role.AUDITOR)
        expired = create_token(conn, Role.AUDITOR, expires_at=datetime.now(UTC) - timedelta(seconds=1))
        assert httpx.get(url, params=params, headers=auth(issued.secret)).status_code == 200
        assert revoke_token(conn, issued.principal.subject)
    assert httpx.get(url, params=params, headers=auth(issued.secret)).status_code == 401
    assert httpx.get(url, params=params, headers=auth(expired.secret)).status_code == 401
    with connect(stack.settings) as conn:
        stored = conn.execute(
            "SELECT token_hash FROM api_tokens WHERE subject = %s", (issued.principal.subject,)
        ).fetchone()
    assert stored is not None
    assert issued.secret.encode() not in bytes(stored[0]), "only the hash is stored"
    assert len(bytes(stored[0])) == 32


def test_rate_limits_per_token_and_for_failed_authentication(stack_factory: StackFactory, settings: Settings) -> None:
    limited = stack_factory(
        "ingest", settings_override=replace(settings, rate_limit_per_token=2, auth_failures_per_minute=3)
    )
    url = f"{limited.ingest_url}/templates/UNIFIED-PROVINCIAL/form"
    params = {"period": open_month().code}
    token = limited.token(Role.AUDITOR)
    statuses = [httpx.get(url, params=params, headers=auth(token)).status_code for _ in range(8)]
    assert statuses[:4] == [200] * 4, "a burst of twice the rate passes"
    assert 429 in statuses[4:]
    refused = httpx.get(url, params=params, headers=auth(token))
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["code"] == "rate-limited"
    other = limited.token(Role.AUDITOR)
    assert httpx.get(url, params=params, headers=auth(other)).status_code == 200, "limits are per token"

    guesses = [httpx.get(url, params=params, headers=auth(f"rpt_guess{n}")).status_code for n in range(5)]
    assert guesses[:3] == [401] * 3
    assert guesses[3:] == [429, 429], "token guessing is slowed down"
