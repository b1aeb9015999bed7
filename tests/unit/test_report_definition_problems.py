"""A report definition's problems, field by field (what the definition form shows), and a new one only."""

from __future__ import annotations

import pytest

from domain.identity import Principal, Role
from domain.periods import PeriodKind
from domain.report_definitions import (
    InvalidReportDefinition,
    ReportExists,
    ReportSpec,
    UnknownReportIndicators,
    problems,
)
from entrypoints.bootstrap import in_memory_write_side
from services.ingest.application.catalogue import define_report
from services.ingest.application.commands import DefineReport
from services.ingest.application.idempotency import Idempotency
from services.ingest.application.outcomes import Replayed, ReportDefined
from services.ingest.application.seed import load_seed

REVIEWER = Principal("thamdinh", Role.MINISTRY_REVIEWER)


def test_every_field_is_checked_on_its_own() -> None:
    found = problems("mã có dấu", "  ", "x" * 501, "week", "province", ["TEL.REVENUE", "TEL.REVENUE"])
    assert [(p.field, p.code) for p in found] == [
        ("code", "code-format"),
        ("name_vi", "name-required"),
        ("name_en", "name-too-long"),
        ("period_kind", "period-kind-unknown"),
        ("scope", "scope-unknown"),
        ("indicators", "indicator-twice"),
    ]
    assert [p.code for p in problems("OK-1", "Báo cáo", "", "quarter", "national", [])] == ["indicators-count"]
    assert problems("OK-1", "Báo cáo", "", "quarter", "national", "TEL.REVENUE")[0].code == "indicators-count"
    assert problems("OK-1", "Báo cáo", "", "quarter", "national", ["TEL.REVENUE"]) == []


def test_the_spec_refuses_with_its_first_problem_and_normalises_what_it_keeps() -> None:
    with pytest.raises(InvalidReportDefinition, match="report code"):
        ReportSpec("", "", "", PeriodKind.YEAR, "national", ())
    spec = ReportSpec("OK-1", " Ba\u0301o ca\u0301o ", "", "year", "region", ["TEL.REVENUE"])  # type: ignore[arg-type]
    assert (spec.name_vi, spec.period_kind, spec.indicators) == ("Báo cáo", PeriodKind.YEAR, ("TEL.REVENUE",))


def test_a_new_report_type_cannot_take_the_code_of_one_that_exists() -> None:
    ws = in_memory_write_side()
    load_seed(ws)
    spec = ReportSpec("NEW-ONE", "Báo cáo mới", "", PeriodKind.QUARTER, "national", ("TEL.REVENUE",))
    body = spec.to_dict()
    key = Idempotency.of(REVIEWER.subject, "form-1", "POST", "/reports/new", body)
    first = define_report(ws, REVIEWER, DefineReport(spec, new_only=True), key)
    assert isinstance(first, ReportDefined)
    again = define_report(ws, REVIEWER, DefineReport(spec, new_only=True), key)
    assert isinstance(again, Replayed), "the same form sent twice answers as the first time"
    with pytest.raises(ReportExists):
        define_report(ws, REVIEWER, DefineReport(spec, new_only=True))
    unknown = ReportSpec("NEW-TWO", "Báo cáo", "", PeriodKind.QUARTER, "national", ("NO.SUCH",))
    with pytest.raises(UnknownReportIndicators, match=r"NO\.SUCH"):
        define_report(ws, REVIEWER, DefineReport(unknown, new_only=True))
