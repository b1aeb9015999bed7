"""Nobody gets in where they don't belong.

- The matrix: every endpoint of both services x every caller (P01's reporter naming P01, P79's
  reporter naming P01, reviewer, auditor, admin, no token) -> the expected status of each cell.
  The endpoint list comes from the services' OpenAPI: an endpoint without a row here fails
  the test, so no endpoint ships without its authorization rule.
- What an agency token reads names no other agency and none of its tokens.
- No request body accepts a field the server sets (actor, agency, position, ...).
- Tokens: revoked through the admin API or by the CLI, and expired ones, are refused on the next
  request; only hashes are stored; the admin listing shows neither secret nor hash.
- Limits: page size of every list endpoint; requests per token; failed authentications per address.

An agency token naming another agency gets 403 `wrong-agency`, not 404: agency codes are public
(the list of provinces and units is published), so a 404 would hide nothing, and a 403 tells the
client exactly what is wrong (docs/API.md).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest

from domain.identity import Role
from entrypoints.bootstrap import postgres_write_side
from infra.clock import vietnam_today
from infra.db import connect
from infra.integration_events import EventType
from infra.runtime.ports import wait_until
from infra.settings import Settings
from services.ingest.application.commands import RevokeToken
from services.ingest.application.seed import SEED_ADMIN
from services.ingest.application.tokens import revoke_token
from tests.conftest import Stack, StackFactory
from tests.helpers import auth, form_indicators, open_month, store_events

CALLERS = ("own", "other", "reviewer", "auditor", "admin", "anonymous")
EVERYONE = ("own", "other", "reviewer", "auditor", "admin")
AGENCY_READERS = ("own", "reviewer", "auditor", "admin")
MINISTRY = ("reviewer", "auditor", "admin")
PUBLIC = {"/health", "/ready", "/docs", "/openapi.json", "/docs/oauth2-redirect", "/redoc"}
TEMPLATE = "UNIFIED-PROVINCIAL"
AGENCY_REPORT = "DX-PUBLIC-SERVICES-MONTHLY"  # a derived report of agency scope, monthly (seed data)


@dataclass(frozen=True)
class Row:
    """The callers admitted, each with its expected status; every other caller gets 403, no token 401.

    `params`, `body` and the path may use the placeholders of `World.values()`.
    """

    allowed: dict[str, int]
    params: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    content: bytes | None = None  # a raw body (an uploaded file) instead of JSON, with its content type
    content_type: str = "text/csv"


def cells(callers: tuple[str, ...], status: int = 200) -> dict[str, int]:
    return dict.fromkeys(callers, status)


AGENCY_FILTER = {"agency": "P01"}
NEW_REPORT = {
    "code": "MATRIX-TEST",
    "name_vi": "Báo cáo thử ma trận",
    "period_kind": "month",
    "scope": "national",
    "indicators": ["{integer}"],
}

MATRIX: dict[tuple[str, str, str], Row] = {
    # ---- ingest: the write API ----
    ("ingest", "POST", "/agencies/{agency}/periods/{period}/values"): Row(
        {"own": 200}, body={"values": [{"indicator": "{integer}", "value": 7}]}
    ),
    ("ingest", "GET", "/agencies/{agency}/periods/{period}/submission"): Row(cells(AGENCY_READERS)),
    # The period is incomplete, so a submit is refused by the domain (authorization passed).
    ("ingest", "POST", "/agencies/{agency}/periods/{period}/submit"): Row({"own": 422}, body={}),
    # A draft cannot be approved, returned or reopened (authorization passed).
    ("ingest", "POST", "/agencies/{agency}/periods/{period}/approve"): Row({"reviewer": 409}, body={}),
    ("ingest", "POST", "/agencies/{agency}/periods/{period}/return"): Row({"reviewer": 409}, body={"reason": "x"}),
    ("ingest", "POST", "/agencies/{agency}/periods/{period}/reopen"): Row({"reviewer": 409}, body={"reason": "x"}),
    # A draft cannot be recalled: only a submitted report nobody reviewed yet (authorization passed).
    ("ingest", "POST", "/agencies/{agency}/periods/{period}/recall"): Row({"own": 409}, body={"reason": "x"}),
    ("ingest", "GET", "/templates/{code}/form"): Row(cells(EVERYONE), params={"period": "{period}"}),
    ("ingest", "POST", "/admin/catalogue"): Row({"admin": 200}, body={"indicators": [], "rules": []}),
    # A version must start after the latest one: refused by the domain (authorization passed).
    ("ingest", "POST", "/admin/templates/{code}/versions"): Row(
        {"admin": 422}, body={"effective_from": "2020-01", "indicators": ["{integer}"]}
    ),
    ("ingest", "POST", "/admin/agencies"): Row(
        {"admin": 201},
        body={"code": "P01", "name_vi": "x", "kind": "provincial_department", "effective_from": "2008-01-01"},
    ),
    ("ingest", "POST", "/report-definitions"): Row({"reviewer": 201, "admin": 201}, body=NEW_REPORT),
    # Registry changes: refused by the domain or unchanged (authorization passed); P01 stays as it is.
    ("ingest", "POST", "/admin/agencies/{agency}/rename"): Row(
        {"admin": 422}, body={"effective_from": "2000-01-01", "name_vi": "Tên cũ hơn mọi tên"}
    ),
    ("ingest", "POST", "/admin/agencies/{agency}/close"): Row(
        {"admin": 422}, body={"effective_to": "2030-01-01", "successor": "NO-SUCH-AGENCY"}
    ),
    ("ingest", "POST", "/admin/agencies/{agency}/template"): Row({"admin": 200}, body={"template": TEMPLATE}),
    ("ingest", "POST", "/admin/agencies/{agency}/electronic-code"): Row(
        {"admin": 200},
        body={"electronic_code": "000.00.00.H24"},  # P01's own: unchanged
    ),
    # Imports: an agency's own values, uploaded by the agency; what they did, read as the agency's data.
    # The agency is the credential's: any agency's reporter imports its own values.
    ("ingest", "POST", "/imports"): Row(
        {"own": 202, "other": 202}, params={"period": "{period}"}, content=b"indicator,value\n{integer},7\n"
    ),
    ("ingest", "GET", "/imports/{job}"): Row(cells(AGENCY_READERS)),
    ("ingest", "GET", "/imports/{job}/rejections"): Row(cells(AGENCY_READERS)),
    ("ingest", "GET", "/imports/files/{sha256}"): Row(cells(AGENCY_READERS)),
    ("ingest", "GET", "/imports/files/{sha256}/content"): Row(cells(AGENCY_READERS)),
    ("ingest", "GET", "/agencies/{agency}/periods/{period}/template.xlsx"): Row(cells(AGENCY_READERS)),
    ("ingest", "GET", "/agencies/{agency}/periods/{period}/values.csv"): Row(cells(AGENCY_READERS)),
    # The national feed's definitions are public reference data.
    ("ingest", "GET", "/national-feed/reporting-regime"): Row(cells(EVERYONE)),
    ("ingest", "GET", "/national-feed/report-form"): Row(
        cells(EVERYONE), params={"template": TEMPLATE, "period": "{period}"}
    ),
    ("ingest", "GET", "/national-feed/reporting-period-catalogue"): Row(cells(EVERYONE), params={"year": 2026}),
    ("ingest", "GET", "/national-feed/indicator-catalogue"): Row(cells(EVERYONE)),
    ("ingest", "POST", "/admin/tokens"): Row(
        {"admin": 201}, body={"role": "auditor", "agency": None, "label": "ma trận"}
    ),
    ("ingest", "GET", "/admin/tokens"): Row({"admin": 200}),
    ("ingest", "GET", "/admin/tokens/{subject}"): Row({"admin": 200}),
    ("ingest", "POST", "/admin/tokens/{subject}/revoke"): Row({"admin": 200}, body={"reason": "ma trận"}),
    # ---- reports: the read API ----
    ("reports", "GET", "/agencies/{agency}/periods/{period}/report"): Row(cells(AGENCY_READERS)),
    ("reports", "GET", "/agencies/{agency}/periods/{period}/report/as-of"): Row(
        cells(AGENCY_READERS), params={"position": "{position}"}
    ),
    ("reports", "GET", "/audit/events"): Row(cells(AGENCY_READERS), params=AGENCY_FILTER),
    ("reports", "GET", "/audit/events.csv"): Row(cells(AGENCY_READERS), params=AGENCY_FILTER),
    ("reports", "GET", "/audit/events.xlsx"): Row(cells(AGENCY_READERS), params=AGENCY_FILTER),
    ("reports", "GET", "/audit/public-key"): Row(cells(EVERYONE)),
    ("reports", "GET", "/audit/checkpoints"): Row(cells(EVERYONE)),
    ("reports", "POST", "/audit/checkpoints"): Row({"admin": 201}, params={"wait_ms": 10_000}),
    ("reports", "GET", "/audit/checkpoints/latest"): Row(cells(EVERYONE)),
    # An agency proves only its own agency's events: P79's token asking about P01's event gets 403.
    ("reports", "GET", "/audit/proofs/inclusion"): Row(cells(AGENCY_READERS), params={"position": "{position}"}),
    ("reports", "GET", "/audit/proofs/consistency"): Row(
        cells(EVERYONE), params={"first": "{tree_size}", "second": "{tree_size}"}
    ),
    ("reports", "GET", "/rollups"): Row(cells(MINISTRY), params={"period": "{period}"}),
    ("reports", "GET", "/rollups/as-of"): Row(cells(MINISTRY), params={"period": "{period}", "position": "{position}"}),
    ("reports", "GET", "/compliance"): Row(cells(MINISTRY), params={"period": "{period}"}),
    ("reports", "GET", "/compliance/rates"): Row(cells(MINISTRY), params={"period": "{period}"}),
    ("reports", "GET", "/report-definitions"): Row(cells(EVERYONE)),
    # The registry and the templates are public reference data.
    ("reports", "GET", "/agencies"): Row(cells(EVERYONE)),
    ("reports", "GET", "/agencies/{agency}"): Row(cells(EVERYONE)),
    ("reports", "GET", "/templates"): Row(cells(EVERYONE)),
    ("reports", "GET", "/templates/{code}"): Row(cells(EVERYONE), params={"period": "{period}"}),
    ("reports", "GET", "/report-definitions/{code}/report"): Row(
        cells(AGENCY_READERS), params={"period": "{period}", "agency": "P01"}
    ),
    ("reports", "GET", "/exports/values"): Row(cells(AGENCY_READERS), params={"period": "{period}", **AGENCY_FILTER}),
    ("reports", "GET", "/national-feed/report-figures"): Row(
        cells(AGENCY_READERS), params={"period": "{period}", **AGENCY_FILTER}
    ),
    ("reports", "GET", "/national-feed/report-status"): Row(
        cells(AGENCY_READERS), params={"period": "{period}", **AGENCY_FILTER}
    ),
}

# Path parameters per endpoint (the rest: agency P01, the open month).
CODES = {
    "/templates/{code}/form": TEMPLATE,
    "/admin/templates/{code}/versions": TEMPLATE,
    "/templates/{code}": TEMPLATE,
}
ROLE_OF = {
    "own": Role.AGENCY_REPORTER,
    "other": Role.AGENCY_REPORTER,
    "reviewer": Role.MINISTRY_REVIEWER,
    "auditor": Role.AUDITOR,
    "admin": Role.ADMIN,
}


@dataclass
class World:
    """A stack with data of two agencies in the event store, the read models and the transparency log."""

    stack: Stack
    tokens: dict[str, str]
    subjects: dict[str, str]
    period: str
    integer: str
    position: int
    tree_size: int
    victim: str  # a token the admin revokes in the matrix
    p79_marker: int
    job: str  # P01's import
    sha256: str  # its file

    @property
    def urls(self) -> dict[str, str]:
        return {"ingest": self.stack.ingest_url, "reports": self.stack.reports_url}

    def values(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "integer": self.integer,
            "position": self.position,
            "tree_size": self.tree_size,
        }

    def fill(self, template: Any) -> Any:
        """Placeholders replaced, keeping their type when the whole string is one placeholder."""
        values = self.values()
        if isinstance(template, str):
            if template.startswith("{") and template.endswith("}") and template[1:-1] in values:
                return values[template[1:-1]]
            return template
        if isinstance(template, dict):
            return {key: self.fill(value) for key, value in template.items()}
        if isinstance(template, list):
            return [self.fill(item) for item in template]
        return template

    def request(self, service: str, method: str, path: str, caller: str) -> httpx.Response:
        row = MATRIX[(service, method, path)]
        concrete = path.format(
            agency="P01",
            period=self.period,
            code=AGENCY_REPORT if path.startswith("/report-definitions/") else CODES.get(path, TEMPLATE),
            subject=self.victim,
            job=self.job,
            sha256=self.sha256,
        )
        headers = auth(self.tokens[caller]) if caller in self.tokens else {}
        params = {k: str(v) for k, v in self.fill(row.params).items()}
        if row.content is not None:
            content = row.content.replace(b"{integer}", self.integer.encode())
            headers = {**headers, "Content-Type": row.content_type}
            return httpx.request(
                method, self.urls[service] + concrete, params=params, content=content, headers=headers, timeout=30
            )
        return httpx.request(
            method,
            self.urls[service] + concrete,
            params=params,
            json=self.fill(row.body),
            headers=headers,
            timeout=30,
        )


def _post_values(stack: Stack, token: str, agency: str, period: str, values: dict[str, int]) -> int:
    response = httpx.post(
        f"{stack.ingest_url}/agencies/{agency}/periods/{period}/values",
        json={"values": [{"indicator": k, "value": v} for k, v in values.items()]},
        headers=auth(token),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    position: int = response.json()["position"]
    return position


def build_world(stack: Stack) -> World:
    callers = {
        "own": (Role.AGENCY_REPORTER, "P01"),
        "other": (Role.AGENCY_REPORTER, "P79"),
        "reviewer": (Role.MINISTRY_REVIEWER, None),
        "auditor": (Role.AUDITOR, None),
        "admin": (Role.ADMIN, None),
        "victim": (Role.AUDITOR, None),
    }
    issued = dict(zip(callers, stack.issue_tokens(list(callers.values())), strict=True))
    tokens = {caller: token.secret for caller, token in issued.items() if caller != "victim"}
    period = open_month()
    integers = [i["code"] for i in form_indicators(stack.ingest_url, tokens["own"], TEMPLATE, period, "integer")]
    marker = 987_654_321
    _post_values(stack, tokens["other"], "P79", period.code, {integers[1]: marker, integers[2]: marker + 1})
    position = _post_values(stack, tokens["own"], "P01", period.code, {integers[0]: 11, integers[1]: 12})
    uploaded = httpx.post(
        f"{stack.ingest_url}/imports",
        params={"period": period.code, "dry_run": "true"},
        content=f"agency,period,indicator,value\nP01,{period},{integers[0]},11\n".encode(),
        headers={**auth(tokens["own"]), "Content-Type": "text/csv"},
        timeout=30,
    )
    assert uploaded.status_code == 202, uploaded.text
    admin = auth(tokens["admin"])
    # The read models and the transparency log hold both agencies' events.
    report = httpx.get(
        f"{stack.reports_url}/agencies/P01/periods/{period}/report",
        params={"min_position": position, "wait_ms": 10_000},
        headers=admin,
        timeout=15,
    )
    assert report.status_code == 200, report.text
    checkpoint = httpx.post(
        f"{stack.reports_url}/audit/checkpoints", params={"wait_ms": 10_000}, headers=admin, timeout=15
    )
    assert checkpoint.status_code == 201, checkpoint.text
    assert checkpoint.json()["last_position"] >= position
    return World(
        stack,
        tokens,
        {caller: token.token for caller, token in issued.items()},
        period.code,
        integers[0],
        position,
        int(checkpoint.json()["tree_size"]),
        issued["victim"].token,
        marker,
        uploaded.json()["id"],
        uploaded.json()["file"]["sha256"],
    )


@pytest.fixture
def world(stack_factory: StackFactory) -> World:
    return build_world(stack_factory("ingest", "relay", "project", "reports", "checkpoint"))


def operations(base_url: str) -> dict[tuple[str, str], set[str]]:
    """(method, path) -> the roles the operation declares (`x-roles`, services/http/auth.py)."""
    spec = httpx.get(base_url + "/openapi.json").json()
    return {
        (method.upper(), path): set(operation.get("x-roles", ()))
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if path not in PUBLIC
    }


def test_every_endpoint_every_role(world: World) -> None:
    declared = {(service, *op): roles for service, url in world.urls.items() for op, roles in operations(url).items()}
    assert set(declared) - set(MATRIX) == set(), "endpoints without a matrix row"
    assert set(MATRIX) - set(declared) == set(), "matrix rows of endpoints that do not exist"
    for key, row in MATRIX.items():
        assert {ROLE_OF[c].value for c in row.allowed} == declared[key], f"{key}: the declared roles"

    failures = []
    for (service, method, path), row in MATRIX.items():
        assert set(row.allowed) <= set(EVERYONE), path
        for caller in CALLERS:
            response = world.request(service, method, path, caller)
            expected = row.allowed.get(caller, 401 if caller == "anonymous" else 403)
            where = f"{caller:9} {method:4} {service}{path}: {response.status_code} (expected {expected})"
            if response.status_code != expected:
                failures.append(f"{where} {response.text[:200]}")
            elif expected == 401:
                assert response.headers["www-authenticate"] == "Bearer", where
            elif expected == 403:
                # Who may not: the wrong role (forbidden) or an agency token naming another agency.
                code = response.json()["code"]
                agency_refused = caller == "other" and "own" in row.allowed
                assert code == ("wrong-agency" if agency_refused else "forbidden"), where
    assert failures == [], "\n" + "\n".join(failures)


def _agencies_named(value: Any) -> set[str]:
    """Every agency code a JSON document names in an `agency` member."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "agency" and isinstance(item, str):
                found.add(item)
            found |= _agencies_named(item)
    elif isinstance(value, list):
        for item in value:
            found |= _agencies_named(item)
    return found


def test_an_agency_token_reads_nothing_of_another_agency(world: World) -> None:
    """Every read the agency token may make, as P01: no P79 data, no P79 token subject, no P79 value."""
    foreign = (world.subjects["other"], str(world.p79_marker), str(world.p79_marker + 1))
    reads = [key for key, row in MATRIX.items() if key[1] == "GET" and "own" in row.allowed]
    assert len(reads) >= 10
    for service, method, path in reads:
        response = world.request(service, method, path, "own")
        assert response.status_code == 200, f"{path}: {response.text[:200]}"
        kind = response.headers["content-type"]
        if kind.startswith("application/json"):
            assert _agencies_named(response.json()) <= {"P01"}, path
            text = response.text
        elif kind.startswith("text/csv"):
            text = response.text
            rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
            assert rows, path
            assert {row["agency"] for row in rows} <= {"P01", ""}, path
        else:
            continue  # the XLSX export holds the rows of the CSV one
        for secret in foreign:
            assert secret not in text, f"{path} shows {secret}"
    # The same reads name P79 for the ministry: the test above can see a leak.
    ministry = httpx.get(
        f"{world.stack.reports_url}/audit/events", params={"agency": "P79"}, headers=auth(world.tokens["auditor"])
    )
    assert str(world.p79_marker) in ministry.text


def _body_operations(base_url: str) -> set[str]:
    """Operations taking a JSON body (an uploaded file is not a set of fields)."""
    spec = httpx.get(base_url + "/openapi.json").json()
    return {
        f"{method.upper()} {path}"
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    }


def test_no_body_accepts_a_field_the_server_sets(world: World) -> None:
    """Each body-taking operation, with a body its caller could send plus a server field: 422, nothing stored."""
    server_fields = {"actor": "someone-else", "agency": "P79", "position": 1, "role": "admin", "recorded_at": "2020"}
    with connect(world.stack.settings) as conn:
        before = conn.execute("SELECT count(*) FROM reporting_events").fetchone()
    checked = set()
    for (service, method, path), row in MATRIX.items():
        if method != "POST" or row.body is None:
            continue
        caller = next(iter(row.allowed))
        for name, value in server_fields.items():
            body = {**world.fill(row.body), name: value}
            if name in body and name in (row.body or {}):
                continue  # a field of the request itself (e.g. the agency registered)
            concrete = path.format(agency="P01", period=world.period, code=CODES.get(path, TEMPLATE), subject="-")
            response = httpx.post(
                world.urls[service] + concrete, json=body, headers=auth(world.tokens[caller]), timeout=30
            )
            assert response.status_code == 422, f"{path} + {name}: {response.text[:200]}"
            assert response.json()["code"] == "invalid-request"
        checked.add(f"{method} {path}")
    every = _body_operations(world.stack.ingest_url) | _body_operations(world.stack.reports_url)
    assert every <= checked, f"operations with a body and no sample: {every - checked}"
    with connect(world.stack.settings) as conn:
        after = conn.execute("SELECT count(*) FROM reporting_events").fetchone()
    assert before == after, "nothing was stored"


class DaysAgo:
    """A clock some days in the past: a token issued on it, valid through that day, has expired since."""

    def __init__(self, days: int) -> None:
        self.day = vietnam_today() - timedelta(days=days)

    def today(self) -> date:
        return self.day


def test_revoked_and_expired_tokens_are_refused_at_once(stack_factory: StackFactory) -> None:
    stack = stack_factory("ingest", "reports")
    form = f"{stack.ingest_url}/templates/{TEMPLATE}/form"
    report = f"{stack.reports_url}/report-definitions"
    params = {"period": open_month().code}
    admin, by_api, by_handler = stack.issue_tokens(
        [(Role.ADMIN, None), (Role.AGENCY_REPORTER, "P01"), (Role.AUDITOR, None)]
    )
    old = DaysAgo(2)
    (expired,) = stack.issue_tokens([(Role.AUDITOR, None)], valid_until=old.day, clock=old)
    for issued in (by_api, by_handler):
        assert httpx.get(form, params=params, headers=auth(issued.secret)).status_code == 200
        assert httpx.get(report, headers=auth(issued.secret)).status_code == 200

    # Through the admin API: the very next request, in both services, is refused.
    revoked = httpx.post(
        f"{stack.ingest_url}/admin/tokens/{by_api.token}/revoke", json={"reason": "lộ khoá"}, headers=auth(admin.secret)
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_by"] == admin.token
    assert revoked.json()["revoke_reason"] == "lộ khoá"
    assert httpx.get(form, params=params, headers=auth(by_api.secret)).status_code == 401
    assert httpx.get(report, headers=auth(by_api.secret)).status_code == 401
    again = httpx.post(f"{stack.ingest_url}/admin/tokens/{by_api.token}/revoke", headers=auth(admin.secret))
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"], "revoking twice keeps the first revocation"
    assert again.json()["position"] is None, "and records nothing"
    missing = httpx.post(f"{stack.ingest_url}/admin/tokens/no-such-subject/revoke", headers=auth(admin.secret))
    assert missing.status_code == 404

    # Through the write application alone (what the CLI and the pages call), and by expiry.
    with postgres_write_side(stack.settings) as write_side:
        revoke_token(write_side, SEED_ADMIN, RevokeToken(by_handler.token))
    for secret in (by_handler.secret, expired.secret):
        assert httpx.get(form, params=params, headers=auth(secret)).status_code == 401
        assert httpx.get(report, headers=auth(secret)).status_code == 401

    # Only hashes are stored; the listing shows neither secrets nor hashes.
    listing = httpx.get(f"{stack.ingest_url}/admin/tokens", headers=auth(admin.secret))
    assert listing.status_code == 200
    subjects = {t["subject"]: t for t in listing.json()["tokens"]}
    listed_at = datetime.fromisoformat(subjects[by_api.token]["revoked_at"])
    assert listed_at == datetime.fromisoformat(revoked.json()["revoked_at"]), "the row and the event agree"
    assert subjects[by_handler.token]["revoked_by"] == SEED_ADMIN.subject
    assert subjects[expired.token]["revoked_at"] is None
    with connect(stack.settings) as conn:
        stored = [bytes(r[0]) for r in conn.execute("SELECT token_hash FROM api_tokens").fetchall()]
    for issued in (admin, by_api, by_handler, expired):
        assert issued.secret not in listing.text
        assert all(issued.secret.encode() not in h for h in stored)
    assert all(len(h) == 32 for h in stored), "SHA-256 digests"
    assert all(h.hex() not in listing.text for h in stored)


def test_a_token_issued_over_the_api_shows_its_secret_once(stack_factory: StackFactory) -> None:
    """The secret is in the first answer; a retry with the key answers the token without it; no event,
    no stored answer holds it; the row and the event are there together."""
    stack = stack_factory("ingest")
    (admin,) = stack.issue_tokens([(Role.ADMIN, None)])
    url = f"{stack.ingest_url}/admin/tokens"
    last_day = vietnam_today() + timedelta(days=365)
    body = {"role": "agency_reporter", "agency": "P01", "label": "DHIS2 của Sở", "valid_until": last_day.isoformat()}
    headers = {**auth(admin.secret), "Idempotency-Key": "issue-1"}
    first = httpx.post(url, json=body, headers=headers)
    assert first.status_code == 201, first.text
    secret = first.json()["secret"]
    assert secret.startswith("rpt_")
    expires = datetime.fromisoformat(first.json()["expires_at"])
    midnight_after = datetime.combine(last_day, time(17), UTC)  # 00:00 in Vietnam (UTC+7) the next day
    assert expires == midnight_after, "the token works through its last day, Vietnam time"
    form = f"{stack.ingest_url}/templates/{TEMPLATE}/form"
    assert httpx.get(form, params={"period": open_month().code}, headers=auth(secret)).status_code == 200

    retry = httpx.post(url, json=body, headers=headers)
    assert retry.status_code == 201
    assert retry.json()["subject"] == first.json()["subject"]
    assert retry.json()["secret"] is None
    assert "shown once" in retry.json()["secret_note"]
    assert {k: v for k, v in retry.json().items() if not k.startswith("secret")} == {
        k: v for k, v in first.json().items() if not k.startswith("secret")
    }

    events = store_events(stack.settings)
    name = first.json()["subject"]
    issued = [e for e in events if e.event_type is EventType.TOKEN_ISSUED and e.data["token"] == name]
    assert len(issued) == 1, "one event for the request and its retry"
    assert (issued[0].agency, issued[0].actor) == ("P01", admin.token)
    with connect(stack.settings) as conn:
        answers = b"".join(bytes(r[0]) for r in conn.execute("SELECT response FROM idempotency_keys").fetchall())
        rows = conn.execute("SELECT count(*) FROM api_tokens WHERE subject = %s", (first.json()["subject"],)).fetchone()
    assert rows == (1,)
    assert secret.encode() not in answers
    assert all(secret not in e.to_bytes().decode() for e in events)

    # Refused alike over the API: an agency that does not exist, a role that does not fit its agency.
    for refused in (
        {"role": "agency_reporter", "agency": "ZZ99", "label": "x"},
        {"role": "auditor", "agency": "P01", "label": "x"},
        {"role": "agency_reporter", "label": "x"},
        {"role": "auditor", "label": "x", "valid_until": "2000-01-01"},
    ):
        answer = httpx.post(url, json=refused, headers=auth(admin.secret))
        assert answer.status_code == 422, answer.text
        assert answer.json()["code"] == "invalid-token", answer.text
    assert len(store_events(stack.settings)) == len(events), "nothing stored"


def test_list_endpoints_have_a_page_limit(stack_factory: StackFactory, settings: Settings) -> None:
    stack = stack_factory("ingest", "reports", settings_override=replace(settings, max_page_size=5))
    admin = stack.token(Role.ADMIN)
    for _ in range(11):
        stack.token(Role.AUDITOR)
    paged = 0
    for base in (stack.ingest_url, stack.reports_url):
        spec = httpx.get(base + "/openapi.json").json()
        for path, item in spec["paths"].items():
            for method, operation in item.items():
                if not any(p["name"] == "limit" for p in operation.get("parameters", [])):
                    continue
                assert method == "get", path
                # A list of one resource (an import's rejections) is asked of one that does not exist:
                # the page size is judged first, then the resource is not found.
                concrete = re.sub(r"\{[^}]+\}", str(uuid4()), path)
                allowed = {200} if concrete == path else {404}
                over = httpx.get(base + concrete, params={"limit": 6}, headers=auth(admin))
                assert over.status_code == 422, f"{path}: {over.text}"
                assert over.json()["code"] == "page-too-large"
                assert over.json()["maximum"] == 5
                at_limit = httpx.get(base + concrete, params={"limit": 5}, headers=auth(admin))
                assert at_limit.status_code in allowed, f"{path}: {at_limit.text}"
                paged += 1
    assert paged >= 3, "the token listing, the audit trail and the checkpoints"

    # Paging through the 12 tokens: pages of at most 5, each token once.
    seen: list[str] = []
    after = ""
    while True:
        page = httpx.get(f"{stack.ingest_url}/admin/tokens", params={"after": after}, headers=auth(admin)).json()
        assert len(page["tokens"]) <= 5
        seen += [t["subject"] for t in page["tokens"]]
        if page["next_after"] is None:
            break
        after = page["next_after"]
    assert len(seen) == len(set(seen)) == 12


def test_rate_limits_per_token_and_for_failed_authentication(stack_factory: StackFactory, settings: Settings) -> None:
    limited = stack_factory(
        "ingest", "reports", settings_override=replace(settings, rate_limit_per_token=1, auth_failures_per_minute=3)
    )
    for base, path, params in (
        (limited.ingest_url, f"/templates/{TEMPLATE}/form", {"period": open_month().code}),
        (limited.reports_url, "/report-definitions", {}),
    ):
        url = base + path
        token = limited.token(Role.AUDITOR)
        statuses = [httpx.get(url, params=params, headers=auth(token)).status_code for _ in range(6)]
        assert statuses[:2] == [200] * 2, "a burst of twice the rate passes"
        assert 429 in statuses[2:]
        refused = httpx.get(url, params=params, headers=auth(token))
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.json()["code"] == "rate-limited"
        # The limit frees up with time (1 per second): wait for it, no sleep.
        wait_until(
            lambda url=url, token=token, params=params: (
                httpx.get(url, params=params, headers=auth(token)).status_code == 200
            ),
            5,
            interval=0.2,
            what="the token's budget refills",
        )
        other = limited.token(Role.AUDITOR)
        assert httpx.get(url, params=params, headers=auth(other)).status_code == 200, "limits are per token"

        guesses = [httpx.get(url, params=params, headers=auth(f"rpt_guess{n}")).status_code for n in range(5)]
        assert guesses[:3] == [401] * 3
        assert guesses[3:] == [429, 429], "token guessing is slowed down"
        # Once over budget, the address is refused before any lookup: a right guess learns nothing.
        lucky = httpx.get(url, params=params, headers=auth(other))
        assert lucky.status_code == 429
        assert int(lucky.headers["retry-after"]) >= 1
