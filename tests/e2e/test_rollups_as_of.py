"""Time travel for ministry roll-ups (docs/AUDIT.md): `/rollups/as-of` equals what `/rollups` showed.

A test catalogue and template, three agencies in two regions, values for January and February 2024
entered in three rounds: the first values; a first correction (and a fourth agency registered, one
renamed); a second correction, a late first report by another agency (submitted), and one agency
closed before February's window. After each round the live roll-ups (national and per region, the
month and its quarter) are read once the projector shows the round (read-your-writes
`min_position`); at the end, the as-of endpoint at each round's position and instant must answer the
same figures, coverage and expected counts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from domain.identity import Role
from tests.conftest import Stack, StackFactory
from tests.helpers import auth

TEMPLATE = "TEST-ASOF"
INDICATORS = [
    # code, value type, over time, over agencies
    ("TAO.STOCK", "integer", "last", "sum"),
    ("TAO.FLOW", "decimal", "sum", "sum"),
    ("TAO.RATIO", "percentage", "average", "average"),
    ("TAO.LOW", "integer", "min", "min"),
]
CODES = [i[0] for i in INDICATORS]
QUERIES = [(scope, period) for scope in ("national", "region") for period in ("2024-02", "2024Q1")]


def _post(stack: Stack, path: str, token: str, body: Any = None) -> int:
    response = httpx.post(stack.ingest_url + path, json=body, headers=auth(token), timeout=30)
    assert response.status_code in (200, 201), f"{path}: {response.status_code} {response.text}"
    position: int = response.json()["position"]
    return position


def _register(stack: Stack, admin: str, code: str, region: str) -> int:
    body = {
        "code": code,
        "name_vi": f"Đơn vị thử nghiệm {code}",
        "kind": "provincial_department",
        "region": region,
        "effective_from": "2023-01-01",
        "template": TEMPLATE,
    }
    return _post(stack, "/admin/agencies", admin, body)


def _enter(stack: Stack, token: str, agency: str, month: str, values: dict[str, Any]) -> int:
    body = {"values": [{"indicator": k, "value": v} for k, v in values.items()]}
    return _post(stack, f"/agencies/{agency}/periods/{month}/values", token, body)


def _rollups(stack: Stack, token: str, path: str, scope: str, period: str, **params: Any) -> dict[str, Any]:
    response = httpx.get(
        f"{stack.reports_url}{path}",
        params={"scope": scope, "period": period, "indicator": CODES, **params},
        headers=auth(token),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def comparable(body: dict[str, Any]) -> dict[str, Any]:
    """Everything the roll-ups say about the data: figures, coverage, expected counts, periods, scopes.

    Not `position` (the live answer's is how far its read models had got, at least the round's last
    write; the as-of answer's is the prefix it folded) nor `as_of`: freshness metadata, not the data.
    """
    return {key: value for key, value in body.items() if key not in ("position", "as_of")}


def test_rollups_as_of_equal_the_live_rollups_at_three_moments(stack_factory: StackFactory) -> None:
    stack = stack_factory("ingest", "relay", "project", "reports")
    admin, reviewer, auditor = (stack.token(r) for r in (Role.ADMIN, Role.MINISTRY_REVIEWER, Role.AUDITOR))
    definitions = [
        {
            "code": code,
            "name_vi": f"Chỉ tiêu thử {code}",
            "name_en": code,
            "group": "digital_transformation",
            "unit": "đơn vị",
            "value_type": value_type,
            "aggregation_time": over_time,
            "aggregation_agencies": over_agencies,
            "min": 0,
            "max": 100 if value_type == "percentage" else None,
        }
        for code, value_type, over_time, over_agencies in INDICATORS
    ]
    before_catalogue = _post(stack, "/admin/catalogue", admin, {"indicators": definitions}) - 1
    version = {
        "effective_from": "2024-01",
        "indicators": CODES,
        "name_vi": "Biểu thử",
        "applies_to": "provincial_department",
    }
    _post(stack, f"/admin/templates/{TEMPLATE}/versions", admin, version)
    for code, region in (("T01", "asof_north"), ("T02", "asof_north"), ("T03", "asof_south")):
        _register(stack, admin, code, region)
    token = {code: stack.token(Role.AGENCY_REPORTER, code) for code in ("T01", "T02", "T03")}

    def round_1() -> int:
        _enter(
            stack, token["T01"], "T01", "2024-01", {"TAO.STOCK": 100, "TAO.FLOW": "1.5", "TAO.RATIO": 50, "TAO.LOW": 5}
        )
        _enter(
            stack, token["T01"], "T01", "2024-02", {"TAO.STOCK": 110, "TAO.FLOW": "2.25", "TAO.RATIO": 60, "TAO.LOW": 3}
        )
        _enter(
            stack, token["T02"], "T02", "2024-01", {"TAO.STOCK": 50, "TAO.FLOW": "10", "TAO.RATIO": 80, "TAO.LOW": 9}
        )
        return _enter(
            stack, token["T02"], "T02", "2024-02", {"TAO.STOCK": 55, "TAO.FLOW": "4", "TAO.RATIO": 70, "TAO.LOW": 2}
        )

    def round_2() -> int:
        # First correction: T01's February stock; T02's February minimum (the national holder) gets worse.
        _enter(stack, token["T01"], "T01", "2024-02", {"TAO.STOCK": 120})
        _enter(stack, token["T02"], "T02", "2024-02", {"TAO.LOW": 6})
        _post(stack, "/admin/agencies/T01/rename", admin, {"effective_from": "2024-02-01", "name_vi": "Tên mới T01"})
        return _register(stack, admin, "T04", "asof_south")  # one more agency expected from now on

    def round_3() -> int:
        # Second correction of the same value; T03 reports February for the first time, late, and submits;
        # T02 is closed before February's window (15 Jan - 14 Feb): no longer expected for it.
        _enter(stack, token["T01"], "T01", "2024-02", {"TAO.STOCK": 125, "TAO.FLOW": "2.5"})
        _enter(
            stack, token["T03"], "T03", "2024-02", {"TAO.STOCK": 30, "TAO.FLOW": "0.5", "TAO.RATIO": 40, "TAO.LOW": 4}
        )
        _post(stack, "/agencies/T03/periods/2024-02/submit", token["T03"])
        return _post(stack, "/admin/agencies/T02/close", admin, {"effective_to": "2024-01-10"})

    seen: list[tuple[int, datetime, dict[tuple[str, str], dict[str, Any]]]] = []
    for play in (round_1, round_2, round_3):
        position = play()
        live = {
            (scope, period): _rollups(stack, reviewer, "/rollups", scope, period, min_position=position, wait_ms=10_000)
            for scope, period in QUERIES
        }
        seen.append((position, datetime.now(UTC), live))

    # The rounds changed what the ministry saw: February's national stock and its coverage.
    def feb_stock(live: dict[tuple[str, str], dict[str, Any]]) -> tuple[Any, int, int]:
        row = next(f for f in live[("national", "2024-02")]["figures"] if f["indicator"] == "TAO.STOCK")
        return row["value"], row["agencies_reported"], row["agencies_expected"]

    # 110 + 55 of 3 expected; 120 + 55 of 4 (T04 registered); 125 + 55 + 30 of 3 (T02 closed, T03 late).
    assert [feb_stock(live) for _, _, live in seen] == [(165, 2, 3), (175, 2, 4), (210, 3, 3)]

    for position, instant, live in seen:
        for scope, period in QUERIES:
            for when in ({"position": position}, {"at": instant.isoformat()}):
                past = _rollups(stack, auditor, "/rollups/as-of", scope, period, **when)
                assert past["as_of"]["position"] >= position, when
                assert comparable(past) == comparable(live[(scope, period)]), (scope, period, when)

    # Before the catalogue defined them, these indicators did not exist: as the live endpoint did then, 404.
    response = httpx.get(
        f"{stack.reports_url}/rollups/as-of",
        params={"period": "2024-02", "indicator": CODES, "position": before_catalogue},
        headers=auth(auditor),
    )
    assert response.status_code == 404, response.text
    # Same exports as the live endpoint; bad questions are 422 problems; agencies are not admitted.
    first = seen[0][0]
    csv = httpx.get(
        f"{stack.reports_url}/rollups/as-of",
        params={"period": "2024Q1", "indicator": CODES, "position": first, "format": "csv"},
        headers=auth(reviewer),
    )
    assert csv.status_code == 200, csv.text
    assert csv.headers["X-Read-Position"] == str(first)
    for params in ({}, {"position": first, "at": seen[0][1].isoformat()}, {"at": "2024-02-01T00:00:00"}):
        response = httpx.get(
            f"{stack.reports_url}/rollups/as-of", params={"period": "2024-02", **params}, headers=auth(auditor)
        )
        assert response.status_code == 422, (params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    response = httpx.get(
        f"{stack.reports_url}/rollups/as-of",
        params={"period": "2024-02", "position": first},
        headers=auth(token["T01"]),
    )
    assert response.status_code == 403
