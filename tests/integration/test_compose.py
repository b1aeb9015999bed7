"""compose.yaml cannot run here (no Docker engine), so check it is valid and matches the code."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path
from typing import Any

import yaml

from entrypoints.cli import build_parser
from entrypoints.stack import SERVICES
from infra.settings import Settings
from services.projector.projections import all_projections, select_projections

ROOT = Path(__file__).resolve().parents[2]
# Variables read by the images we use, not by our code.
THIRD_PARTY_PREFIXES = (
    "KAFKA_NODE_ID",
    "KAFKA_PROCESS_ROLES",
    "KAFKA_LISTENER",
    "KAFKA_ADVERTISED",
    "KAFKA_CONTROLLER",
    "KAFKA_OFFSETS",
    "KAFKA_TRANSACTION",
    "KAFKA_AUTO_CREATE",
    "KAFKA_LOG_RETENTION",
    "POSTGRES_DB",
)


def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert isinstance(data, dict)
    return data


def our_services(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in data["services"].items() if svc.get("image") == "reporting:latest"}


def test_compose_has_the_infrastructure_and_every_service() -> None:
    data = compose()
    assert {"postgres", "kafka"} <= set(data["services"])
    assert "broker,controller" in data["services"]["kafka"]["environment"]["KAFKA_PROCESS_ROLES"]  # KRaft
    commands = {tuple(svc["command"]) for svc in our_services(data).values()}
    assert ("reporting", "migrate") in commands
    # The same processes as the local stack (`reporting up`).
    for command in SERVICES.values():
        assert ("reporting", *command) in commands, command


def test_every_projection_runs_in_exactly_one_projector_process() -> None:
    parser = build_parser()
    run: list[str] = []
    for svc in our_services(compose()).values():
        _, *args = svc["command"]
        if args[0] == "project":
            parsed = parser.parse_args(args)
            run += [p.name for p in select_projections(parsed.projections, exclude=parsed.exclude)]
    assert sorted(run) == sorted(p.name for p in all_projections())


def test_every_command_exists_in_the_cli() -> None:
    parser = build_parser()
    for name, svc in our_services(compose()).items():
        program, *args = svc["command"]
        assert program == "reporting", name
        parsed = parser.parse_args(args)
        assert callable(parsed.func), name


def test_every_environment_variable_is_a_setting() -> None:
    known = {field.name.upper() for field in fields(Settings)}
    for name, svc in our_services(compose()).items():
        for variable in svc.get("environment", {}):
            assert variable in known, f"{name}: {variable} is not read by infra.settings.Settings"


def test_the_image_entry_point_is_the_console_script() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^reporting = "entrypoints\.cli:main"$', pyproject, re.MULTILINE)
    assert "pip install" in (ROOT / "Dockerfile").read_text()


def test_third_party_variables_are_only_on_third_party_images() -> None:
    data = compose()
    for name in ("postgres", "kafka"):
        for variable in data["services"][name]["environment"]:
            assert variable.startswith(THIRD_PARTY_PREFIXES) or variable.startswith("POSTGRES_"), variable


def test_the_http_services_state_their_limits() -> None:
    """Resource and rate limits are visible where an operator looks (services/http/limits.py reads them)."""
    limits = {"MAX_BODY_BYTES", "MAX_PAGE_SIZE", "RATE_LIMIT_PER_TOKEN", "AUTH_FAILURES_PER_MINUTE"}
    services = our_services(compose())
    assert limits | {"MAX_VALUES_PER_BATCH"} <= set(services["ingest"]["environment"])
    assert limits <= set(services["reports"]["environment"])
    for name in ("ingest", "reports"):
        for variable in limits:
            assert int(services[name]["environment"][variable]) > 0, f"{name}: {variable}"


def test_every_long_running_service_has_a_health_check_on_its_own_port() -> None:
    """HTTP services probe /ready on their port; the others /health on their METRICS_PORT."""
    parser = build_parser()
    services = compose()["services"]
    assert "healthcheck" in services["postgres"]
    assert "healthcheck" in services["kafka"]
    for name, svc in our_services(compose()).items():
        if svc["command"] == ["reporting", "migrate"]:
            continue  # runs once; the others wait for it to complete
        check = svc.get("healthcheck")
        assert check is not None, f"{name}: no health check"
        program, *args = check["test"][1:]
        assert (check["test"][0], program) == ("CMD", "reporting"), name
        parsed = parser.parse_args(args)
        assert parsed.func.__name__ == "cmd_probe", name
        env = svc["environment"]
        http_port = env.get(f"{name.upper()}_PORT")
        expected = (
            f"http://127.0.0.1:{http_port}/ready" if http_port else f"http://127.0.0.1:{env['METRICS_PORT']}/health"
        )
        assert parsed.url == expected, name
        for field in ("interval", "timeout", "retries", "start_period"):
            assert field in check, f"{name}: {field}"


def test_a_stop_leaves_time_to_finish_what_is_in_flight() -> None:
    """Docker's SIGKILL comes after stop_grace_period: later than the services' own grace period."""
    for name, svc in our_services(compose()).items():
        if svc["command"] == ["reporting", "migrate"]:
            continue
        grace = int(str(svc["stop_grace_period"]).removesuffix("s"))
        own = int(svc["environment"].get("SHUTDOWN_GRACE_SECONDS", Settings.shutdown_grace_seconds))
        assert grace > own, f"{name}: stop_grace_period {grace} s is not above its {own} s"
