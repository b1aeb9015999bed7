"""The ministry's read endpoints: roll-ups, the compliance board, derived reports (JSON, CSV, XLSX).

Each answers the `position` it reflects and accepts `min_position`/`wait_ms`
(read-your-writes, `services/reports/freshness.py`). Exports carry the position
in the `X-Read-Position` header. Reads only read models: `rm_rollups`,
`rm_rollup_cells`, `rm_compliance` and the reference tables.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from importlib import resources
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import orjson
import psycopg
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool

from domain.identity import Principal, Role
from domain.periods import InvalidPeriod, Period, PeriodKind, ReportingRegime
from domain.rollups import agencies_figure, number_to_json
from infra.settings import Settings
from services.http.auth import require_agency_access, require_roles
from services.http.problems import Problem
from services.reports.export import TABLE_RESPONSES, csv_response, xlsx_response
from services.reports.freshness import FreshnessQuery, projections_position, wait_for_position
from services.reports.reference import NATIONAL, AgencyInfo, Reference, ReferenceCache

Pool = ConnectionPool[psycopg.Connection[TupleRow]]
MinistryReader = Annotated[Principal, Depends(require_roles(Role.MINISTRY_REVIEWER, Role.AUDITOR, Role.ADMIN))]
Reader = Annotated[Principal, Depends(require_roles(*Role))]
Format = Annotated[Literal["json", "csv", "xlsx"], Query(alias="format", description="json, csv or xlsx")]
PeriodCode = Annotated[str | None, Query(min_length=4, max_length=7, description="YYYY-MM, YYYYQn, YYYYSn or YYYY")]
OptionalPeriod = Annotated[str | None, Query(min_length=4, max_length=7)]

MAX_PERIODS = 120
MAX_INDICATORS = 500
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
READ_POSITION_HEADER = "X-Read-Position"

ROLLUP_MODELS = ("rollups", "reference")
COMPLIANCE_MODELS = ("compliance", "reference")

FIGURE_COLUMNS = (
    ("indicator", "Mã chỉ tiêu"),
    ("name_vi", "Tên chỉ tiêu"),
    ("unit", "Đơn vị tính"),
    ("period", "Kỳ báo cáo"),
    ("scope", "Phạm vi"),
    ("value", "Giá trị"),
    ("agencies_reported", "Số đơn vị đã báo cáo"),
    ("agencies_expected", "Số đơn vị phải báo cáo"),
    ("aggregation_time", "Tổng hợp theo thời gian"),
    ("aggregation_agencies", "Tổng hợp theo đơn vị"),
)
AGENCY_FIGURE_COLUMNS = (
    ("agency", "Mã đơn vị"),
    ("agency_name", "Tên đơn vị"),
    ("indicator", "Mã chỉ tiêu"),
    ("name_vi", "Tên chỉ tiêu"),
    ("unit", "Đơn vị tính"),
    ("period", "Kỳ báo cáo"),
    ("value", "Giá trị"),
    ("months_reported", "Số tháng đã báo cáo"),
    ("must_report", "Phải báo cáo"),
)
BOARD_COLUMNS = (
    ("agency", "Mã đơn vị"),
    ("name_vi", "Tên đơn vị"),
    ("region", "Vùng"),
    ("kind", "Loại đơn vị"),
    ("period", "Kỳ báo cáo"),
    ("status_label", "Trạng thái"),
    ("deadline", "Hạn nộp"),
    ("first_submitted_at", "Thời điểm nộp lần đầu"),
    ("days_late", "Số ngày trễ hạn"),
    ("times_submitted", "Số lần nộp"),
)
RATE_COLUMNS = (
    ("period", "Kỳ báo cáo"),
    ("expected", "Số đơn vị phải báo cáo"),
    ("reported", "Số đơn vị đã báo cáo"),
    ("on_time", "Số đơn vị báo cáo đúng hạn"),
    ("reporting_rate", "Tỷ lệ báo cáo"),
    ("on_time_rate", "Tỷ lệ báo cáo đúng hạn"),
)
REPORT_VIEW_COLUMNS = (
    ("agency", "Mã đơn vị"),
    ("period", "Kỳ báo cáo"),
    ("indicator", "Mã chỉ tiêu"),
    ("value", "Giá trị"),
    ("revision", "Lần sửa"),
    ("actor", "Người nhập"),
    ("role", "Vai trò"),
    ("recorded_at", "Thời điểm ghi nhận"),
    ("position", "Vị trí trong nhật ký"),
)
STATUS_LABELS = {
    "not_started": "Chưa nhập số liệu",
    "draft": "Đang nhập",
    "submitted_on_time": "Đã gửi đúng hạn",
    "submitted_late": "Đã gửi muộn",
    "returned": "Bị trả lại",
    "reopened": "Mở lại để sửa",
    "approved": "Đã phê duyệt",
}


def _regime() -> ReportingRegime:
    """Deadlines of the reporting regime (the data the write side uses: infra/seed/regime.json)."""
    text = resources.files("infra.seed").joinpath("regime.json").read_text("utf-8")
    return ReportingRegime.from_dict(orjson.loads(text))


def _period(code: str, name: str = "period") -> Period:
    try:
        return Period.parse(code)
    except InvalidPeriod as error:
        raise Problem(422, "invalid-period", "Invalid period", f"{name}: {error}") from None


def _period_range(period: str | None, start: str | None, end: str | None) -> list[Period]:
    if period is not None:
        if start is not None or end is not None:
            raise Problem(422, "invalid-period", "Invalid period", "pass period= or from=/to=, not both")
        return [_period(period)]
    if start is None:
        raise Problem(422, "invalid-period", "Invalid period", "pass period= or from= (and optionally to=)")
    first = _period(start, "from")
    last = _period(end, "to") if end is not None else first
    if first.kind is not last.kind:
        raise Problem(422, "invalid-period", "Invalid period", "from and to must be periods of the same kind")
    if last < first:
        raise Problem(422, "invalid-period", "Invalid period", "to comes before from")
    periods = [first]
    while periods[-1] < last:
        if len(periods) >= MAX_PERIODS:
            raise Problem(422, "invalid-period", "Invalid period", f"at most {MAX_PERIODS} periods at once")
        periods.append(periods[-1].next())
    return periods


def _scopes(scope: str, ref: Reference) -> list[str]:
    """national; region / kind (every region or kind); region:<code> / kind:<code>."""
    if scope == NATIONAL:
        return [NATIONAL]
    if scope == "region":
        return [f"region:{r}" for r in ref.regions()]
    if scope == "kind":
        return [f"kind:{k}" for k in ref.kinds()]
    kind, _, value = scope.partition(":")
    if kind in ("region", "kind") and value:
        if value not in (ref.regions() if kind == "region" else ref.kinds()):
            raise Problem(404, "not-found", "Not found", f"no agency has {kind} {value!r}")
        return [scope]
    raise Problem(
        422, "invalid-scope", "Invalid scope", "scope is national, region, kind, region:<region> or kind:<agency kind>"
    )


def _json_number(value: Decimal | None) -> int | str | None:
    return None if value is None else number_to_json(value)


def _filename(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", "-".join(parts))


def respond(
    fmt: str,
    body: dict[str, Any],
    columns: Sequence[tuple[str, str]],
    rows: Sequence[dict[str, Any]],
    name: str,
    sheet: str,
) -> dict[str, Any] | Response:
    """JSON as is, or the rows as a CSV/XLSX table with Vietnamese headers."""
    if fmt == "json":
        return body
    headers = [title for _, title in columns]
    table = [[_cell(row.get(key)) for key, _ in columns] for row in rows]
    name = _filename(name)  # headers are Latin-1: the file name is ASCII whatever the path held
    response: Response
    if fmt == "csv":
        response = csv_response(headers, table, f"{name}.csv")
    else:
        response = xlsx_response(headers, table, f"{name}.xlsx", _sheet(sheet))
    response.headers[READ_POSITION_HEADER] = str(body["position"])
    return response


def _sheet(title: str) -> str:
    """A valid worksheet title: at most 31 characters, none of []:*?/\\."""
    return re.sub(r"[\[\]:*?/\\]", "_", title)[:31] or "data"


def _cell(value: Any) -> Any:
    """Numbers as numbers (decimal strings of the JSON become Decimals), the rest as is."""
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+\.[0-9]+", value):
        return Decimal(value)
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return value.isoformat()
    return value


# ---- roll-ups -------------------------------------------------------------------


RollupStats = tuple[int, int, Decimal, Decimal | None, Decimal | None]  # agencies, figures, total, min, max
StatsKey = tuple[str, str, str]  # scope, period, indicator


def figures(
    conn: psycopg.Connection[TupleRow],
    ref: Reference,
    indicators: Sequence[str],
    periods: Sequence[Period],
    scopes: Sequence[str],
) -> list[dict[str, Any]]:
    """Roll-up figures for every (indicator, period, scope) that had data or was expected."""
    rows = conn.execute(
        "SELECT scope, period, indicator, agencies, figures, total, min_figure, max_figure FROM rm_rollups"
        " WHERE scope = ANY(%s) AND period = ANY(%s) AND indicator = ANY(%s)",
        (list(scopes), [p.code for p in periods], list(indicators)),
    ).fetchall()
    stats = {(r[0], r[1], r[2]): (int(r[3]), int(r[4]), r[5], r[6], r[7]) for r in rows}
    return figure_rows(ref, stats, indicators, periods, scopes)


def figure_rows(
    ref: Reference,
    stats: Mapping[StatsKey, RollupStats],
    indicators: Sequence[str],
    periods: Sequence[Period],
    scopes: Sequence[str],
) -> list[dict[str, Any]]:
    """The roll-up rows from each scope's statistics and the reference data (pure: also time travel's)."""
    result: list[dict[str, Any]] = []
    for code in indicators:
        info = ref.indicators.get(code)
        for period in periods:
            for scope in scopes:
                expected = ref.expected(period, scope)[code]
                found = stats.get((scope, period.code, code))
                if found is None and expected == 0:
                    continue
                value = None
                if found is not None and info is not None:
                    _, count, total, minimum, maximum = found
                    value = agencies_figure(info.aggregation_agencies, count, total, minimum, maximum)
                result.append(
                    {
                        "indicator": code,
                        "name_vi": info.name_vi if info else None,
                        "unit": info.unit if info else None,
                        "period": period.code,
                        "scope": scope,
                        "value": _json_number(value),
                        "agencies_reported": found[0] if found is not None else 0,
                        "agencies_expected": expected,
                        "aggregation_time": str(info.aggregation_time) if info else None,
                        "aggregation_agencies": str(info.aggregation_agencies) if info else None,
                    }
                )
    return result


def agency_figures(
    conn: psycopg.Connection[TupleRow],
    ref: Reference,
    indicators: Sequence[str],
    period: Period,
    agency: str | None,
) -> list[dict[str, Any]]:
    """Each agency's own figures for the period (months as reported, longer periods combined over time)."""
    params: list[Any] = [period.code, list(indicators)]
    where = "period = %s AND indicator = ANY(%s)"
    if agency is not None:
        where += " AND agency = %s"
        params.append(agency)
    cells = {
        (r[0], r[1]): (int(r[2]), r[3])
        for r in conn.execute(f"SELECT agency, indicator, months, value FROM rm_rollup_cells WHERE {where}", params)
    }
    agencies = {a.code: a for a in ref.expected_agencies(period)} if agency is None else {}
    for code in {a for a, _ in cells} | ({agency} if agency else set()):
        if code in ref.agencies:
            agencies[code] = ref.agencies[code]
    result: list[dict[str, Any]] = []
    for code in sorted(agencies):
        info = agencies[code]
        for indicator in indicators:
            must = ref.must_report(info, indicator, period)
            months, value = cells.get((code, indicator), (0, None))
            if not must and months == 0:
                continue
            indicator_info = ref.indicators.get(indicator)
            result.append(
                {
                    "agency": code,
                    "agency_name": info.name_in(period),
                    "indicator": indicator,
                    "name_vi": indicator_info.name_vi if indicator_info else None,
                    "unit": indicator_info.unit if indicator_info else None,
                    "period": period.code,
                    "value": value,
                    "months_reported": months,
                    "months_in_period": period.kind.length_in_months,
                    "must_report": must,
                }
            )
    return result


class RollupQuery:
    """What a roll-up asks for: indicators, periods, scope (the query of `/rollups` and `/rollups/as-of`)."""

    def __init__(
        self,
        indicator: Annotated[list[str] | None, Query(max_length=MAX_INDICATORS)] = None,
        period: OptionalPeriod = None,
        start: Annotated[str | None, Query(alias="from", min_length=4, max_length=7)] = None,
        end: Annotated[str | None, Query(alias="to", min_length=4, max_length=7)] = None,
        scope: Annotated[str, Query(max_length=200)] = NATIONAL,
    ) -> None:
        self.indicator = indicator
        self.period = period
        self.start = start
        self.end = end
        self.scope = scope

    def periods(self) -> list[Period]:
        return _period_range(self.period, self.start, self.end)

    def indicators(self, ref: Reference) -> list[str]:
        """The indicators asked for (default: every indicator of `ref`); an unknown one is a 404."""
        if not self.indicator:
            return sorted(ref.indicators)
        if len(self.indicator) > MAX_INDICATORS:
            raise Problem(422, "too-many-indicators", "Too many indicators", f"at most {MAX_INDICATORS}")
        unknown = [code for code in self.indicator if code not in ref.indicators]
        if unknown:
            raise Problem(404, "not-found", "Unknown indicator", f"no indicator {', '.join(unknown[:10])}")
        return list(dict.fromkeys(self.indicator))

    def scopes(self, ref: Reference) -> list[str]:
        return _scopes(self.scope, ref)

    def respond(
        self,
        fmt: str,
        head: dict[str, Any],
        periods: Sequence[Period],
        scopes: Sequence[str],
        rows: list[dict[str, Any]],
    ) -> dict[str, Any] | Response:
        """The answer: `head` (the position, ...), the periods, scopes and rows; or the rows as CSV/XLSX."""
        body = {**head, "periods": [p.code for p in periods], "scopes": list(scopes), "figures": rows}
        name = _filename("rollups", periods[0].code, periods[-1].code, self.scope)
        return respond(fmt, body, FIGURE_COLUMNS, rows, name, "Tổng hợp")


RollupParameters = Annotated[RollupQuery, Depends()]


# ---- compliance -------------------------------------------------------------------


def _board_status(status: str | None, first_late: bool | None) -> str:
    if status is None:
        return "not_started"
    if status == "submitted":
        return "submitted_late" if first_late else "submitted_on_time"
    return status


def board(
    conn: psycopg.Connection[TupleRow],
    ref: Reference,
    periods: Sequence[Period],
    scope: str,
    regime: ReportingRegime,
    today: date,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Per period and agency: status and timeliness; per period: reporting and on-time rates."""
    rows_by_period: dict[str, dict[str, tuple[Any, ...]]] = {}
    for stored in conn.execute(
        "SELECT period, agency, status, deadline, times_submitted, first_submitted_at, first_late,"
        " first_days_late, last_submitted_at, last_late, last_days_late, approved_at"
        " FROM rm_compliance WHERE period = ANY(%s)",
        ([p.code for p in periods],),
    ):
        rows_by_period.setdefault(stored[0], {})[stored[1]] = stored[2:]
    board_rows: list[dict[str, Any]] = []
    rates: list[dict[str, Any]] = []
    for period in periods:
        deadline = regime.deadline(period)
        found = rows_by_period.get(period.code, {})
        expected = {a.code: a for a in ref.expected_agencies(period, scope)}
        agencies: dict[str, AgencyInfo | None] = dict(expected)
        for code in found:
            known = ref.agencies.get(code)
            if code not in agencies and (known.in_scope(scope) if known else scope == NATIONAL):
                agencies[code] = known
        reported = on_time = 0
        for code in sorted(agencies):
            info = agencies[code]
            row: tuple[Any, ...] | None = found.get(code)
            status, row_deadline, times, first_at, first_late, first_days = (
                (None, None, 0, None, None, None) if row is None else row[:6]
            )
            board_status = _board_status(status, first_late)
            if times and code in expected:
                reported += 1
                on_time += 0 if first_late else 1
            # Not submitted yet: overdue by the days since the deadline.
            days_late = int(first_days or 0) if first_at is not None else max(0, (today - deadline).days)
            board_rows.append(
                {
                    "agency": code,
                    "name_vi": info.name_in(period) if info else None,
                    "region": info.region if info else None,
                    "kind": info.kind if info else None,
                    "period": period.code,
                    "expected": code in expected,
                    "status": board_status,
                    "status_label": STATUS_LABELS.get(board_status, board_status),
                    "deadline": (row_deadline or deadline).isoformat(),
                    "first_submitted_at": first_at,
                    "on_time": None if first_at is None else not first_late,
                    "days_late": days_late,
                    "times_submitted": times,
                    "last_submitted_at": row[6] if row else None,
                    "last_days_late": row[8] if row else None,
                    "approved_at": row[9] if row else None,
                }
            )
        rates.append(_rates(period, len(expected), reported, on_time, deadline))
    return board_rows, rates


def _rates(period: Period, expected: int, reported: int, on_time: int, deadline: date) -> dict[str, Any]:
    return {
        "period": period.code,
        "deadline": deadline.isoformat(),
        "expected": expected,
        "reported": reported,
        "on_time": on_time,
        "reporting_rate": round(reported / expected, 4) if expected else None,
        "on_time_rate": round(on_time / expected, 4) if expected else None,
    }


# ---- the router -----------------------------------------------------------------------


def ministry_router(settings: Settings) -> APIRouter:
    router = APIRouter()
    cache = ReferenceCache()
    regime = _regime()
    topic = settings.kafka_topic

    def pool_of(request: Request) -> Pool:
        pool: Pool = request.app.state.pool
        return pool

    def visible(request: Request, models: Sequence[str], wanted: FreshnessQuery) -> int:
        return wait_for_position(pool_of(request), projections_position(topic, models), wanted)

    @router.get("/rollups", tags=["roll-ups"], response_model=None, responses=TABLE_RESPONSES)
    def rollups(
        request: Request,
        principal: MinistryReader,
        wanted: FreshnessQuery,
        query: RollupParameters,
        fmt: Format = "json",
    ) -> dict[str, Any] | Response:
        """Roll-ups of indicators across agencies (scope) and periods.

        `period=` or `from=`/`to=` (one kind: months, quarters, half-years or years);
        `scope=` national (default), region, kind, region:<region>, kind:<agency kind>;
        `indicator=` repeatable (default: every indicator). Each figure says how many
        agencies it covers (`agencies_reported`) out of how many had to report
        (`agencies_expected`).
        """
        periods = query.periods()
        position = visible(request, ROLLUP_MODELS, wanted)
        with pool_of(request).connection() as conn:
            ref = cache.get(conn)
            codes = query.indicators(ref)
            scopes = query.scopes(ref)
            result = figures(conn, ref, codes, periods, scopes)
        return query.respond(fmt, {"position": position}, periods, scopes, result)

    def compliance_body(
        request: Request, wanted: FreshnessQuery, period: str | None, start: str | None, end: str | None, scope: str
    ) -> dict[str, Any]:
        periods = _period_range(period, start, end)
        if any(p.kind is not PeriodKind.MONTH for p in periods):
            raise Problem(422, "invalid-period", "Invalid period", "reports are submitted per month (YYYY-MM)")
        position = visible(request, COMPLIANCE_MODELS, wanted)
        with pool_of(request).connection() as conn:
            ref = cache.get(conn)
            scopes = _scopes(scope, ref)
            if len(scopes) != 1:
                raise Problem(422, "invalid-scope", "Invalid scope", "one scope: national, region:<r> or kind:<k>")
            rows, rates = board(conn, ref, periods, scopes[0], regime, datetime.now(VIETNAM).date())
        return {"position": position, "scope": scopes[0], "rates": rates, "agencies": rows}

    @router.get("/compliance", tags=["compliance"], response_model=None, responses=TABLE_RESPONSES)
    def compliance(
        request: Request,
        principal: MinistryReader,
        wanted: FreshnessQuery,
        fmt: Format = "json",
        period: OptionalPeriod = None,
        start: Annotated[str | None, Query(alias="from", min_length=4, max_length=7)] = None,
        end: Annotated[str | None, Query(alias="to", min_length=4, max_length=7)] = None,
        scope: Annotated[str, Query(max_length=200)] = NATIONAL,
    ) -> dict[str, Any] | Response:
        """The compliance board: per month and agency, the report's status and timeliness (`days_late`:
        of the first submission, or days overdue while not submitted); per month, the reporting rate and
        the on-time rate among the agencies that had to report. `scope=` national, region:<r> or kind:<k>."""
        body = compliance_body(request, wanted, period, start, end, scope)
        name = _filename("compliance", body["rates"][0]["period"], body["rates"][-1]["period"], scope)
        return respond(fmt, body, BOARD_COLUMNS, body["agencies"], name, "Tình hình báo cáo")

    @router.get("/compliance/rates", tags=["compliance"], response_model=None, responses=TABLE_RESPONSES)
    def compliance_rates(
        request: Request,
        principal: MinistryReader,
        wanted: FreshnessQuery,
        fmt: Format = "json",
        period: OptionalPeriod = None,
        start: Annotated[str | None, Query(alias="from", min_length=4, max_length=7)] = None,
        end: Annotated[str | None, Query(alias="to", min_length=4, max_length=7)] = None,
        scope: Annotated[str, Query(max_length=200)] = NATIONAL,
    ) -> dict[str, Any] | Response:
        """Reporting rate and on-time rate per month (national, or of one region or agency kind)."""
        full = compliance_body(request, wanted, period, start, end, scope)
        body = {"position": full["position"], "scope": full["scope"], "rates": full["rates"]}
        name = _filename("compliance-rates", full["rates"][0]["period"], full["rates"][-1]["period"], scope)
        return respond(fmt, body, RATE_COLUMNS, full["rates"], name, "Tỷ lệ báo cáo")

    @router.get("/report-definitions", tags=["derived reports"])
    def report_definitions(request: Request, principal: Reader, wanted: FreshnessQuery) -> dict[str, Any]:
        """Every derived report type: its indicators, period type and scope."""
        position = visible(request, ("reference",), wanted)
        with pool_of(request).connection() as conn:
            ref = cache.get(conn)
        return {"position": position, "definitions": [ref.definitions[c].to_json() for c in sorted(ref.definitions)]}

    @router.get(
        "/report-definitions/{code}/report", tags=["derived reports"], response_model=None, responses=TABLE_RESPONSES
    )
    def derived_report(
        code: str,
        request: Request,
        principal: Reader,
        wanted: FreshnessQuery,
        period: PeriodCode = None,
        fmt: Format = "json",
        region: Annotated[str | None, Query(max_length=200, description="one region (scope region)")] = None,
        agency: Annotated[str | None, Query(max_length=100, description="one agency (scope agency)")] = None,
    ) -> dict[str, Any] | Response:
        """Produce a derived report for a period from the data already entered: no new data entry.

        Scope national: one figure per indicator; region: one per region and indicator
        (or `region=` one region); agency: one per agency and indicator (or `agency=`
        one agency; an agency's own reporter may produce its own agency's report).
        """
        if principal.role is Role.AGENCY_REPORTER:
            if agency is None:
                raise Problem(403, "forbidden", "Forbidden", "an agency reporter produces reports of its own agency")
            require_agency_access(principal, agency, write=False)
        if period is None:
            raise Problem(422, "invalid-period", "Invalid period", "pass period= (of the report's period type)")
        parsed = _period(period)
        position = visible(request, ROLLUP_MODELS, wanted)
        with pool_of(request).connection() as conn:
            ref = cache.get(conn)
            definition = ref.definitions.get(code)
            if definition is None:
                raise Problem(404, "not-found", "Not found", f"no report definition {code}")
            if parsed.kind is not definition.period_kind:
                raise Problem(
                    422, "invalid-period", "Invalid period", f"report {code} is a {definition.period_kind} report"
                )
            if agency is not None and agency not in ref.agencies:
                raise Problem(404, "not-found", "Not found", f"no agency {agency!r}")
            if principal.role is Role.AGENCY_REPORTER and definition.scope != "agency":
                raise Problem(403, "forbidden", "Forbidden", "an agency reporter produces agency-scope reports only")
            columns: Sequence[tuple[str, str]]
            if definition.scope == "agency":
                rows = agency_figures(conn, ref, definition.indicators, parsed, agency)
                columns = AGENCY_FIGURE_COLUMNS
            else:
                if definition.scope == "region":
                    scopes = _scopes(f"region:{region}" if region else "region", ref)
                else:
                    scopes = [NATIONAL]
                rows = figures(conn, ref, definition.indicators, [parsed], scopes)
                columns = FIGURE_COLUMNS
        body = {"position": position, "definition": definition.to_json(), "period": parsed.code, "rows": rows}
        return respond(fmt, body, columns, rows, _filename(code, parsed.code), definition.code[:31])

    return router
