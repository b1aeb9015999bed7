"""A private PostgreSQL + broker for a benchmark run, and the synthetic national data set."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import date
from pathlib import Path

from domain.agencies import AgencyKind
from domain.catalogue import Indicator, IndicatorGroup
from domain.identity import Principal, Role
from domain.periods import Period
from domain.values import Aggregation, ValueType
from entrypoints.bootstrap import migrate, postgres_write_side
from infra.runtime.broker import LocalBroker
from infra.runtime.ports import free_port
from infra.runtime.postgres import LocalPostgres
from infra.settings import Settings
from services.ingest.application.catalogue import define_indicators, publish_template
from services.ingest.application.commands import DefineIndicators, IssueToken, PublishTemplate, RegisterAgency
from services.ingest.application.outcomes import TokenIssued
from services.ingest.application.registry import register_agency
from services.ingest.application.tokens import issue_token

BENCH_TEMPLATE = "BENCH-200"
ADMIN = Principal("bench:admin", Role.ADMIN)


@contextmanager
def bench_settings() -> Iterator[Settings]:
    """PostgreSQL and the broker on free ports in a scratch folder; removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="reporting-bench-") as name:
        folder = Path(name)
        folder.chmod(0o755)
        with (
            LocalPostgres(folder / "pg", free_port(), log_path=folder / "pg.log") as postgres,
            LocalBroker(free_port(), log_path=folder / "broker.log") as broker,
        ):
            settings = Settings(
                postgres_port=postgres.port,
                kafka_bootstrap_servers=broker.bootstrap_servers,
                postgres_pool_size=20,
            )
            migrate(settings)
            yield settings


def indicator_codes(count: int) -> list[str]:
    return [f"BENCH.I{n:03d}" for n in range(count)]


def agency_codes(count: int) -> list[str]:
    return [f"B{n:05d}" for n in range(count)]


def load_national_reference(settings: Settings, agencies: int, indicators: int) -> None:
    """`indicators` integer indicators on one template, and `agencies` reporting units filling it."""
    load_form(
        settings,
        BENCH_TEMPLATE,
        indicator_codes(indicators),
        agency_codes(agencies),
        since=Period.parse("2024-01"),
        registered=date(2020, 1, 1),
    )


def load_form(
    settings: Settings,
    template: str,
    indicators: Sequence[str],
    agencies: Sequence[str],
    *,
    since: Period,
    registered: date,
    backfill: bool = False,
) -> None:
    """Integer indicators on one template in force from `since` (`backfill`: a start already open), and
    agencies registered on `registered` that fill it."""
    with postgres_write_side(replace(settings)) as write_side:
        definitions = [
            Indicator(
                code=code,
                name_vi=f"Chỉ tiêu {code}",
                name_en=code,
                group=IndicatorGroup.DIGITAL_TRANSFORMATION,
                unit="đơn vị",
                value_type=ValueType.INTEGER,
                aggregation_time=Aggregation.SUM,
                aggregation_agencies=Aggregation.SUM,
            )
            for code in indicators
        ]
        define_indicators(write_side, ADMIN, DefineIndicators(tuple(definitions)))
        version = PublishTemplate(
            template,
            since.code,
            tuple(indicators),
            name_vi="Biểu mẫu đo hiệu năng",
            name_en="Benchmark form",
            applies_to=str(AgencyKind.PROVINCIAL_DEPARTMENT),
            backfill=backfill,
        )
        publish_template(write_side, ADMIN, version)
        for code in agencies:
            agency = RegisterAgency(
                code=code,
                name_vi=f"Đơn vị {code}",
                kind=AgencyKind.PROVINCIAL_DEPARTMENT,
                effective_from=registered,
                template=template,
            )
            register_agency(write_side, ADMIN, agency)


def issue_tokens(settings: Settings, role: Role, agencies: Sequence[str | None]) -> dict[str | None, str]:
    """A token's secret per agency (None: a ministry token), issued through the write application."""
    secrets: dict[str | None, str] = {}
    with postgres_write_side(settings) as write_side:
        for agency in agencies:
            issued = issue_token(write_side, ADMIN, IssueToken(role, agency, "benchmark"))
            assert isinstance(issued, TokenIssued)
            secrets[agency] = issued.secret
    return secrets
