"""Roll-ups, compliance board, derived reports and exports, against real services, with hand-computed figures.

One data set is entered over HTTP for a test template with one indicator per
aggregation type and five test agencies (two regions, two kinds, one closed in
April 2024), January-April 2024, with corrections (including one that lowers a
minimum's holder and one that lowers a maximum's), late submissions, a return
and a resubmission, and one on-time submission in the current month. Every
expected figure below is computed by hand in the comments.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest

from domain.identity import Role
from domain.periods import Period
from infra.clock import vietnam_today
from infra.db import connect
from infra.runtime.ports import free_port
from infra.runtime.processes import Service
from infra.settings import Settings
from tests.conftest import Stack, _fresh_database
from tests.helpers import auth, open_month

TEMPLATE = "TEST-AGG"
INDICATORS = [
    ("TST.STOCK", "Số trạm thử nghiệm", "integer", "last", "sum", "trạm"),
    ("TST.FLOW", "Doanh thu thử nghiệm", "decimal", "sum", "sum", "tỷ đồng"),
    ("TST.RATIO", "Tỷ lệ phủ sóng thử nghiệm", "percentage", "average", "average", "%"),
    ("TST.LOW", "Thời gian phản hồi ngắn nhất", "integer", "min", "min", "giờ"),
    ("TST.HIGH", "Thời gian xử lý dài nhất", "decimal", "max", "max", "giờ"),
    ("TST.FLAG", "Đã có kế hoạch", "boolean", "last", "none", ""),
    ("TST.NOTE", "Ghi chú", "text", "none", "none", ""),
]
AGENCIES = [
    # code, kind, region, effective_to
    ("T01", "provincial_department", "test_north", None),
    ("T02", "provincial_department", "test_north", None),
    ("T03", "ministry_unit", None, None),
    ("T04", "provincial_department", "test_south", None),  # never reports
    ("T05", "provincial_department", "test_south", "2024-04-30"),  # closed at the end of April 2024
]
# Values as first entered: agency -> month -> indicator -> value.
ENTERED: dict[str, dict[str, dict[str, Any]]] = {
    "T01": {
        "2024-01": {
            "TST.STOCK": 100,
            "TST.FLOW": "1.5",
            "TST.RATIO": 50,
            "TST.LOW": 5,
            "TST.HIGH": "1.5",
            "TST.FLAG": False,
            "TST.NOTE": "Ghi chú tháng một: số liệu ước tính",
        },
        "2024-02": {"TST.STOCK": 110, "TST.FLOW": "2.25", "TST.RATIO": 60, "TST.LOW": 3, "TST.HIGH": "2.5"},
        "2024-03": {
            "TST.STOCK": 125,
            "TST.FLOW": "3",
            "TST.RATIO": 65,
            "TST.LOW": 7,
            "TST.HIGH": "2",
            "TST.FLAG": True,
        },
    },
    "T02": {
        "2024-01": {
            "TST.STOCK": 50,
            "TST.FLOW": "10",
            "TST.RATIO": 80,
            "TST.LOW": 9,
            "TST.HIGH": "7.25",
            "TST.FLAG": True,
        },
        "2024-03": {"TST.STOCK": 70, "TST.FLOW": "0.75", "TST.RATIO": 90, "TST.LOW": 4, "TST.HIGH": "3"},
    },
    "T03": {"2024-02": {"TST.STOCK": 30, "TST.FLOW": "4.5", "TST.RATIO": 40, "TST.LOW": 6, "TST.HIGH": "4"}},
    "T05": {
        "2024-01": {"TST.STOCK": 10, "TST.FLOW": "1", "TST.RATIO": "33.3", "TST.LOW": 8, "TST.HIGH": "0.5"},
        "2024-04": {"TST.STOCK": 20, "TST.FLOW": "2", "TST.RATIO": "20", "TST.LOW": 2, "TST.HIGH": "6"},
    },
}
# Corrections in draft (no reason needed): T01 March stock 125 -> 120; T02 January flow 10 -> 8;
# T01 February low 3 -> 8 (its holder of the national February/Q1 minimum gets worse);
# T02 January high 7.25 -> 1 (the holder of the national January/Q1 maximum gets worse).
CORRECTIONS = [
    ("T01", "2024-03", "TST.STOCK", 120),
    ("T02", "2024-01", "TST.FLOW", "8"),
    ("T01", "2024-02", "TST.LOW", 8),
    ("T02", "2024-01", "TST.HIGH", "1"),
]
SEEDED_EXPECTED_2024_01 = 93  # 63 provincial departments + 30 ministry units with a template, active in January 2024


@dataclass
class Scenario:
    stack: Stack
    tokens: dict[str, str]
    positions: list[int]
    current_month: Period

    @property
    def last_position(self) -> int:
        return max(self.positions)

    def get(self, path: str, role: str = "reviewer", **params: Any) -> httpx.Response:
        params.setdefault("min_position", self.last_position)
        params.setdefault("wait_ms", 10_000)
        return httpx.get(self.stack.reports_url + path, params=params, headers=auth(self.tokens[role]), timeout=30)

    def json(self, path: str, role: str = "reviewer", **params: Any) -> dict[str, Any]:
        response = self.get(path, role, **params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert body["position"] >= self.last_position
        return body

    def figures(self, **params: Any) -> dict[tuple[str, str, str], dict[str, Any]]:
        body = self.json("/rollups", **params)
        return {(f["indicator"], f["period"], f["scope"]): f for f in body["figures"]}


def _post(scenario: Scenario, path: str, token: str, body: Any = None) -> dict[str, Any]:
    response = httpx.post(scenario.stack.ingest_url + path, json=body, headers=auth(token), timeout=30)
    assert response.status_code in (200, 201), f"{path}: {response.status_code} {response.text}"
    result: dict[str, Any] = response.json()
    if result.get("position") is not None:
        scenario.positions.append(int(result["position"]))
    return result


def _enter(scenario: Scenario, agency: str, month: str, values: dict[str, Any], reason: str | None = None) -> None:
    body = {"values": [{"indicator": k, "value": v} for k, v in values.items()], "reason": reason}
    _post(scenario, f"/agencies/{agency}/periods/{month}/values", scenario.tokens[agency], body)


def _act(scenario: Scenario, agency: str, month: str, action: str, role: str, reason: str | None = None) -> None:
    body = {"reason": reason} if reason else None
    _post(scenario, f"/agencies/{agency}/periods/{month}/{action}", scenario.tokens[role], body)


def _load_data(scenario: Scenario) -> None:
    admin = scenario.tokens["admin"]
    definitions = [
        {
            "code": code,
            "name_vi": name,
            "name_en": code,
            "group": "digital_transformation",
            "unit": unit,
            "value_type": value_type,
            "aggregation_time": over_time,
            "aggregation_agencies": over_agencies,
            "min": 0 if value_type in ("integer", "decimal", "percentage") else None,
            "max": 100 if value_type == "percentage" else None,
        }
        for code, name, value_type, over_time, over_agencies, unit in INDICATORS
    ]
    _post(scenario, "/admin/catalogue", admin, {"indicators": definitions})
    _post(
        scenario,
        f"/admin/templates/{TEMPLATE}/versions",
        admin,
        {
            "effective_from": "2024-01",
            "indicators": [i[0] for i in INDICATORS],
            "name_vi": "Biểu mẫu kiểm thử",
            "applies_to": "provincial_department",
        },
    )
    for code, kind, region, effective_to in AGENCIES:
        _post(
            scenario,
            "/admin/agencies",
            admin,
            {
                "code": code,
                "name_vi": f"Đơn vị thử nghiệm {code}",
                "name_en": code,
                "kind": kind,
                "region": region,
                "parent": "MIC",
                "effective_from": "2023-01-01",
                "effective_to": effective_to,
                "template": TEMPLATE,
            },
        )
    for code, *_ in AGENCIES:
        scenario.tokens[code] = scenario.stack.token(Role.AGENCY_REPORTER, code)
    for agency, months in ENTERED.items():
        for month, values in months.items():
            _enter(scenario, agency, month, values)
    for agency, month, indicator, value in CORRECTIONS:
        _enter(scenario, agency, month, {indicator: value})
    # Lifecycle: everything of 2024 is submitted late.
    _act(scenario, "T01", "2024-01", "submit", "T01")
    _act(scenario, "T03", "2024-02", "submit", "T03")
    _act(scenario, "T03", "2024-02", "approve", "reviewer")
    _act(scenario, "T05", "2024-01", "submit", "T05")
    _act(scenario, "T05", "2024-01", "return", "reviewer", "số trạm chưa đúng")
    # A correction after a return (with its reason), then a second (late) submission: stock 10 -> 12.
    _enter(scenario, "T05", "2024-01", {"TST.STOCK": 12}, reason="cập nhật số trạm theo yêu cầu")
    _act(scenario, "T05", "2024-01", "submit", "T05")
    # One on-time submission: the current month's deadline (the 15th of its month) is not past.
    _enter(scenario, "T02", scenario.current_month.code, {"TST.STOCK": 75})
    _act(scenario, "T02", scenario.current_month.code, "submit", "T02")


@pytest.fixture(scope="module")
def scenario(base_settings: Settings, seeded_template: str, work_dir: Path) -> Iterator[Scenario]:
    """One stack and one data set for the module (entering it is most of the time)."""
    name = _fresh_database(base_settings, seeded_template)
    settings = replace(
        base_settings,
        postgres_dbname=name,
        kafka_topic=f"events.{name}",
        ingest_port=free_port(),
        reports_port=free_port(),
    )
    env = {**os.environ, **settings.to_env()}
    logs = work_dir / "logs" / name
    logs.mkdir(parents=True, exist_ok=True)
    stack = Stack(settings, {n: Service(n, env, logs / f"{n}.log") for n in ("ingest", "relay", "project", "reports")})
    try:
        for service in stack.services:
            stack.start(service)
        tokens = {
            "reviewer": stack.token(Role.MINISTRY_REVIEWER),
            "admin": stack.token(Role.ADMIN),
            "auditor": stack.token(Role.AUDITOR),
        }
        built = Scenario(stack, tokens, [], open_month(0))
        _load_data(built)
        yield built
    finally:
        for service in stack.services.values():
            service.stop()


def _value(figure: dict[str, Any]) -> Any:
    return figure["value"]


# ---------------------------------------------------------------- roll-ups across agencies, per month


def test_monthly_figures_for_every_aggregation_type(scenario: Scenario) -> None:
    got = scenario.figures(**{"from": "2024-01", "to": "2024-06", "indicator": [i[0] for i in INDICATORS]})
    n = "national"
    # January: stock 100 (T01) + 50 (T02) + 12 (T05, corrected after the return) = 162, from 3 of 5 agencies.
    assert _value(got[("TST.STOCK", "2024-01", n)]) == 162
    assert got[("TST.STOCK", "2024-01", n)]["agencies_reported"] == 3
    assert got[("TST.STOCK", "2024-01", n)]["agencies_expected"] == 5
    # flow 1.5 + 8 (corrected from 10) + 1 = 10.5
    assert _value(got[("TST.FLOW", "2024-01", n)]) == "10.5"
    # ratio: mean of 50, 80, 33.3 = 163.3 / 3 = 54.4333333... -> 54.433333
    assert _value(got[("TST.RATIO", "2024-01", n)]) == "54.433333"
    # min of 5, 9, 8 = 5
    assert _value(got[("TST.LOW", "2024-01", n)]) == 5
    # max of 1.5, 1 (the former holder, 7.25, was corrected down), 0.5 = 1.5
    assert _value(got[("TST.HIGH", "2024-01", n)]) == "1.5"
    # boolean and text: no figure across agencies, but coverage counts.
    assert _value(got[("TST.FLAG", "2024-01", n)]) is None
    assert got[("TST.FLAG", "2024-01", n)]["agencies_reported"] == 2
    assert got[("TST.NOTE", "2024-01", n)]["agencies_reported"] == 1
    # February: stock 110 + 30 = 140; flow 2.25 + 4.5 = 6.75; ratio (60 + 40) / 2 = 50;
    # min of 8 (T01's 3 corrected to 8) and 6 = 6; max of 2.5 and 4 = 4.
    assert [_value(got[(code, "2024-02", n)]) for code in ("TST.STOCK", "TST.FLOW", "TST.RATIO", "TST.LOW")] == [
        140,
        "6.75",
        50,
        6,
    ]
    assert _value(got[("TST.HIGH", "2024-02", n)]) == 4
    # March: stock 120 (corrected from 125) + 70 = 190; flow 3 + 0.75 = 3.75; ratio (65 + 90) / 2 = 77.5;
    # min(7, 4) = 4; max(2, 3) = 3.
    assert [_value(got[(i[0], "2024-03", n)]) for i in INDICATORS[:5]] == [190, "3.75", "77.5", 4, 3]
    # April: only T05 (closed on 30 April, still in April's window of 15 Mar - 14 Apr).
    assert [_value(got[(i[0], "2024-04", n)]) for i in INDICATORS[:5]] == [20, 2, 20, 2, 6]
    assert got[("TST.STOCK", "2024-04", n)]["agencies_expected"] == 5
    # June (window 15 May - 14 Jun): T05 had closed, so 4 agencies were expected; nobody reported.
    june = got[("TST.STOCK", "2024-06", n)]
    assert (june["value"], june["agencies_reported"], june["agencies_expected"]) == (None, 0, 4)


# ---------------------------------------------------------------- roll-ups across periods


def test_quarter_half_year_and_year_figures(scenario: Scenario) -> None:
    got = scenario.figures(
        **{"from": "2024Q1", "to": "2024Q2", "indicator": [i[0] for i in INDICATORS[:5]], "scope": "national"}
    )
    q1, n = "2024Q1", "national"
    # Stock: each agency's last month in the quarter, summed: T01 120 (Mar) + T02 70 (Mar) + T03 30 (Feb)
    # + T05 12 (Jan) = 232, 4 of 5 agencies.
    assert _value(got[("TST.STOCK", q1, n)]) == 232
    assert (got[("TST.STOCK", q1, n)]["agencies_reported"], got[("TST.STOCK", q1, n)]["agencies_expected"]) == (4, 5)
    # Flow: every month summed: T01 6.75 + T02 8.75 + T03 4.5 + T05 1 = 21.
    assert _value(got[("TST.FLOW", q1, n)]) == 21
    # Ratio: each agency's mean over its months, then the mean over agencies:
    # T01 (50 + 60 + 65) / 3 = 58.333333, T02 85, T03 40, T05 33.3 -> 216.633333 / 4 = 54.15833325 -> 54.158333.
    assert _value(got[("TST.RATIO", q1, n)]) == "54.158333"
    # Min: T01 min(5, 8, 7) = 5, T02 min(9, 4) = 4, T03 6, T05 8 -> 4.
    assert _value(got[("TST.LOW", q1, n)]) == 4
    # Max: T01 2.5, T02 max(1, 3) = 3, T03 4, T05 0.5 -> 4.
    assert _value(got[("TST.HIGH", q1, n)]) == 4
    # Q2: April only (T05): 20, 2, 20, 2, 6.
    assert [_value(got[(i[0], "2024Q2", n)]) for i in INDICATORS[:5]] == [20, 2, 20, 2, 6]

    for period in ("2024S1", "2024"):
        got = scenario.figures(period=period, indicator=[i[0] for i in INDICATORS[:5]])
        # Stock: T01 120 + T02 70 + T03 30 + T05 20 (April) = 240. Flow: 6.75 + 8.75 + 4.5 + (1 + 2) = 23.
        # Ratio: T05 (33.3 + 20) / 2 = 26.65 -> (58.333333 + 85 + 40 + 26.65) / 4 = 52.49583325 -> 52.495833.
        # Min: T05 min(8, 2) = 2. Max: T05 max(0.5, 6) = 6.
        assert [_value(got[(i[0], period, n)]) for i in INDICATORS[:5]] == [240, 23, "52.495833", 2, 6]


def test_region_and_kind_roll_ups(scenario: Scenario) -> None:
    got = scenario.figures(period="2024Q1", scope="region", indicator=["TST.STOCK", "TST.FLOW", "TST.RATIO"])
    north, south = "region:test_north", "region:test_south"
    # North: T01 and T02. Stock 120 + 70 = 190; flow 6.75 + 8.75 = 15.5; ratio (58.333333 + 85) / 2 = 71.6666665.
    assert [_value(got[(code, "2024Q1", north)]) for code in ("TST.STOCK", "TST.FLOW", "TST.RATIO")] == [
        190,
        "15.5",
        "71.666667",
    ]
    assert (
        got[("TST.STOCK", "2024Q1", north)]["agencies_reported"],
        got[("TST.STOCK", "2024Q1", north)]["agencies_expected"],
    ) == (2, 2)
    # South: T05 reported (12 in January), T04 never did.
    assert _value(got[("TST.STOCK", "2024Q1", south)]) == 12
    assert (
        got[("TST.STOCK", "2024Q1", south)]["agencies_reported"],
        got[("TST.STOCK", "2024Q1", south)]["agencies_expected"],
    ) == (1, 2)
    # Regions whose agencies do not fill this template have nothing to report: no row.
    assert not [key for key in got if key[2] not in (north, south)]

    kinds = scenario.figures(period="2024Q1", scope="kind", indicator=["TST.STOCK"])
    assert _value(kinds[("TST.STOCK", "2024Q1", "kind:ministry_unit")]) == 30
    assert _value(kinds[("TST.STOCK", "2024Q1", "kind:provincial_department")]) == 202  # 120 + 70 + 12


def test_expected_counts_come_from_the_registry_and_templates(scenario: Scenario) -> None:
    got = scenario.figures(period="2024-01", indicator=["TEL.MOBILE_SUBSCRIBERS"], scope="region:red_river_delta")
    seed = json.loads(Path("infra/seed/agencies.json").read_text("utf-8"))
    red_river = [a for a in seed if a["region"] == "red_river_delta"]
    figure = got[("TEL.MOBILE_SUBSCRIBERS", "2024-01", "region:red_river_delta")]
    assert (figure["value"], figure["agencies_reported"], figure["agencies_expected"]) == (None, 0, len(red_river))


# ---------------------------------------------------------------- compliance board


def test_compliance_board_statuses_days_late_and_rates(scenario: Scenario) -> None:
    today_before = vietnam_today()
    body = scenario.json("/compliance", period="2024-01")
    today_after = vietnam_today()
    rows = {r["agency"]: r for r in body["agencies"]}
    assert rows["T01"]["status"] == "submitted_late"
    late_by = {(today_before - date(2024, 1, 15)).days, (today_after - date(2024, 1, 15)).days}
    assert rows["T01"]["days_late"] in late_by
    assert rows["T01"]["deadline"] == "2024-01-15"
    assert rows["T02"]["status"] == "draft"
    assert rows["T04"]["status"] == "not_started"
    assert rows["T04"]["days_late"] in late_by, "not submitted: overdue since the deadline"
    assert rows["T05"]["status"] == "submitted_late"
    assert rows["T05"]["times_submitted"] == 2
    assert rows["T03"]["status"] == "not_started"  # T03 reported February only
    # National: every agency with a template active in January 2024 had to report: 93 seeded + 5 test agencies.
    (rates,) = body["rates"]
    assert (rates["expected"], rates["reported"], rates["on_time"]) == (SEEDED_EXPECTED_2024_01 + 5, 2, 0)
    assert rates["reporting_rate"] == round(2 / 98, 4)
    assert rates["on_time_rate"] == 0

    north = scenario.json("/compliance/rates", period="2024-01", scope="region:test_north")["rates"][0]
    assert (north["expected"], north["reported"], north["on_time"], north["reporting_rate"]) == (2, 1, 0, 0.5)
    february = scenario.json("/compliance", period="2024-02", scope="kind:ministry_unit")
    approved = {r["agency"]: r for r in february["agencies"]}["T03"]
    assert (approved["status"], approved["on_time"]) == ("approved", False)

    month = scenario.current_month.code
    current = scenario.json("/compliance", period=month, scope="region:test_north")
    statuses = {r["agency"]: (r["status"], r["days_late"]) for r in current["agencies"]}
    assert statuses == {"T01": ("not_started", 0), "T02": ("submitted_on_time", 0)}
    assert current["rates"][0]["on_time_rate"] == 0.5


# ---------------------------------------------------------------- derived report types


def test_a_new_report_definition_is_produced_for_a_past_quarter_without_new_data(scenario: Scenario) -> None:
    with connect(scenario.stack.settings) as conn:
        events_before = conn.execute("SELECT count(*) FROM reporting_events").fetchone()
    definition = {
        "code": "TST-QUARTERLY-REGION",
        "name_vi": "Báo cáo quý thử nghiệm theo vùng",
        "name_en": "Test quarterly report by region",
        "period_kind": "quarter",
        "scope": "region",
        "indicators": ["TST.STOCK", "TST.FLOW", "TST.RATIO"],
    }
    created = _post(scenario, "/report-definitions", scenario.tokens["reviewer"], definition)
    assert created["revision"] == 1
    with connect(scenario.stack.settings) as conn:
        events_after = conn.execute("SELECT count(*) FROM reporting_events").fetchone()
    assert events_before is not None
    assert events_after is not None
    assert events_after[0] == events_before[0] + 1, "one definition event; no data entered"

    body = scenario.json("/report-definitions/TST-QUARTERLY-REGION/report", period="2024Q1")
    rows = {(r["scope"], r["indicator"]): r["value"] for r in body["rows"]}
    assert rows == {
        ("region:test_north", "TST.STOCK"): 190,
        ("region:test_north", "TST.FLOW"): "15.5",
        ("region:test_north", "TST.RATIO"): "71.666667",
        ("region:test_south", "TST.STOCK"): 12,
        ("region:test_south", "TST.FLOW"): 1,
        ("region:test_south", "TST.RATIO"): "33.3",
    }
    listed = scenario.json("/report-definitions")["definitions"]
    assert len(listed) == 14 + 1, "the 14 seeded definitions (loaded through the write side) and the new one"
    assert scenario.get("/report-definitions/TST-QUARTERLY-REGION/report", period="2024-01").status_code == 422

    # Agency scope; an agency reporter may produce it for its own agency only.
    _post(
        scenario,
        "/report-definitions",
        scenario.tokens["admin"],
        {
            **definition,
            "code": "TST-AGENCY-HALF",
            "period_kind": "half_year",
            "scope": "agency",
            "indicators": ["TST.STOCK", "TST.FLAG", "TST.NOTE"],
        },
    )
    own = scenario.json("/report-definitions/TST-AGENCY-HALF/report", role="T01", period="2024S1", agency="T01")
    values = {r["indicator"]: (r["value"], r["months_reported"]) for r in own["rows"]}
    # Stock: last of T01's months (March, 120); flag: last (true, March); note: no figure beyond a month.
    assert values == {"TST.STOCK": (120, 3), "TST.FLAG": (True, 2), "TST.NOTE": (None, 1)}
    other = scenario.get("/report-definitions/TST-AGENCY-HALF/report", role="T01", period="2024S1", agency="T02")
    assert other.status_code == 403
    national = scenario.get("/report-definitions/TST-QUARTERLY-REGION/report", role="T01", period="2024Q1")
    assert national.status_code == 403
    refused = httpx.post(
        scenario.stack.ingest_url + "/report-definitions",
        json={**definition, "code": "TST-BAD", "indicators": ["NO.SUCH"]},
        headers=auth(scenario.tokens["reviewer"]),
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == "invalid-definition"


# ---------------------------------------------------------------- exports


def test_xlsx_and_csv_exports_hold_the_numbers_and_vietnamese_headers(scenario: Scenario) -> None:
    params = {"from": "2024Q1", "to": "2024Q1", "indicator": ["TST.STOCK", "TST.FLOW", "TST.RATIO"]}
    response = scenario.get("/rollups", format="xlsx", **params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert int(response.headers["x-read-position"]) >= scenario.last_position
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    sheet = workbook.active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:8] == (
        "Mã chỉ tiêu",
        "Tên chỉ tiêu",
        "Đơn vị tính",
        "Kỳ báo cáo",
        "Phạm vi",
        "Giá trị",
        "Số đơn vị đã báo cáo",
        "Số đơn vị phải báo cáo",
    )
    by_code = {row[0]: row for row in rows[1:]}
    assert by_code["TST.STOCK"][1] == "Số trạm thử nghiệm"
    assert (by_code["TST.STOCK"][5], by_code["TST.STOCK"][6], by_code["TST.STOCK"][7]) == (232, 4, 5)
    assert by_code["TST.FLOW"][5] == 21
    assert by_code["TST.RATIO"][5] == pytest.approx(54.158333)
    assert isinstance(by_code["TST.RATIO"][5], float), "numbers are numeric cells"

    csv = scenario.get("/compliance", format="csv", period="2024-01", scope="region:test_south")
    assert csv.status_code == 200
    assert csv.content.startswith(b"\xef\xbb\xbf"), "UTF-8 with a BOM, so that Excel reads the diacritics"
    lines = csv.content.decode("utf-8-sig").splitlines()
    assert lines[0].split(",")[:6] == ["Mã đơn vị", "Tên đơn vị", "Vùng", "Loại đơn vị", "Kỳ báo cáo", "Trạng thái"]
    t04 = [line for line in lines if line.startswith("T04,Đơn vị thử nghiệm T04,test_south")]
    assert len(t04) == 1
    assert "Chưa nhập số liệu" in t04[0]

    view = scenario.get("/agencies/T01/periods/2024-01/report", role="T01", format="xlsx")
    assert view.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(view.content)).active
    assert sheet is not None
    cells = {row[2]: row[3] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert cells["TST.NOTE"] == "Ghi chú tháng một: số liệu ước tính"
    assert cells["TST.STOCK"] == 100


# ---------------------------------------------------------------- freshness


def test_every_read_says_its_position_and_waits_for_a_write(scenario: Scenario) -> None:
    for path, params in (
        ("/rollups", {"period": "2024-01", "indicator": "TST.STOCK"}),
        ("/compliance", {"period": "2024-01"}),
        ("/compliance/rates", {"period": "2024-01"}),
        ("/report-definitions", {}),
        ("/report-definitions/TEL-QUARTERLY/report", {"period": "2024Q1"}),
        ("/agencies/T01/periods/2024-01/report", {}),
        ("/audit/events", {"limit": 1}),
    ):
        body = scenario.json(path, **params)
        assert body["position"] >= scenario.last_position, path
        future = scenario.get(path, min_position=scenario.last_position + 1_000_000, wait_ms=100, **params)
        assert future.status_code == 409, path
        assert future.json()["code"] == "not-yet-visible"
        assert future.json()["position"] >= scenario.last_position

    # Read-your-writes across agencies: a write, then the national roll-up at its position, at once
    # (a month no other test looks at).
    _enter(scenario, "T02", "2025-05", {"TST.FLOW": "5.5"})
    figure = scenario.figures(period="2025-05", indicator="TST.FLOW")[("TST.FLOW", "2025-05", "national")]
    assert (figure["value"], figure["agencies_reported"]) == ("5.5", 1)
