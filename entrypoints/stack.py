"""`reporting up`: the whole system on a bare machine, with demo data.

A private PostgreSQL cluster in a data folder, the Tansu broker, the schema,
the seed catalogue and demo values, then every service as a child process.
Ctrl-C / SIGTERM stops all of it; a crashed service is restarted.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from functools import partial
from pathlib import Path

from domain.access import AccountExists
from domain.identity import Role
from infra.kafka import ensure_topic
from infra.metrics import METRICS_PORTS
from infra.runtime.broker import LocalBroker
from infra.runtime.ports import PortInUse, free_port, port_is_free, wait_until
from infra.runtime.postgres import LocalPostgres, PostgresBinariesMissing
from infra.runtime.processes import Service, http_ready
from infra.runtime.signals import stop_on_signals
from infra.settings import STACK_SETTINGS_FILE, Settings
from services.audit.signing import generate_key_file
from services.ingest.application.access import create_account, reset_password
from services.ingest.application.commands import CreateAccount, IssueToken, ResetPassword
from services.ingest.application.outcomes import TokenIssued
from services.ingest.application.seed import SEED_ADMIN
from services.ingest.application.tokens import issue_token
from services.ingest.application.write_side import WriteSide

# Service name -> `reporting` arguments. The roll-ups and the audit trail cost several times what
# the other read models do (docs/PERFORMANCE.md): in processes of their own they never delay the
# per-agency views that agencies read back after a write.
SERVICES: dict[str, tuple[str, ...]] = {
    "ingest": ("ingest",),
    "relay": ("relay",),
    "project": ("project", "--exclude", "rollups", "--exclude", "audit_trail"),
    "project-rollups": ("project", "rollups"),
    "project-audit": ("project", "audit_trail"),
    "reports": ("reports",),
    "web": ("web",),
    "checkpoint": ("checkpoint",),
    "import-worker": ("import-worker",),
}
DEMO_TOKEN_ROLES = (
    (Role.AGENCY_REPORTER, "P01"),
    (Role.MINISTRY_REVIEWER, None),
    (Role.AUDITOR, None),
    (Role.ADMIN, None),
)
# One demo person per role: username, display name, agency, role.
DEMO_PEOPLE = (
    ("canbo.p01", "Nguyễn Thị Lan (Sở KH&CN Hà Nội)", "P01", Role.AGENCY_REPORTER),
    ("thamdinh", "Trần Văn Minh (Vụ Kế hoạch - Tài chính)", None, Role.MINISTRY_REVIEWER),
    ("kiemtoan", "Lê Thu Hà (Thanh tra Bộ)", None, Role.AUDITOR),
    ("quantri", "Phạm Quốc Anh (Trung tâm Công nghệ thông tin)", None, Role.ADMIN),
)
DemoAccount = tuple[str, str, Role, str | None]  # username, password, role, agency


def _pid_file_guard(path: Path) -> None:
    """One stack per data folder; a pid file left by a dead stack does not block."""
    if path.exists():
        try:
            pid = int(path.read_text().strip())
            os.kill(pid, 0)
        except (ValueError, ProcessLookupError):
            path.unlink()
        else:
            raise SystemExit(f"a stack is already running from this data folder (pid {pid}); stop it first")
    path.write_text(str(os.getpid()))


def _demo_people(write_side: WriteSide, data_dir: Path) -> list[DemoAccount]:
    """The demo people, created on first start with random passwords kept in the data folder (mode 0600)."""
    path = data_dir / "demo-accounts.json"
    if path.exists():
        return [(a["username"], a["password"], Role(a["role"]), a["agency"]) for a in json.loads(path.read_text())]
    accounts: list[DemoAccount] = []
    for username, name, agency, role in DEMO_PEOPLE:
        password = secrets.token_urlsafe(9)
        try:
            create_account(write_side, SEED_ADMIN, CreateAccount(username, name, agency, frozenset({role}), password))
        except AccountExists:
            reset_password(write_side, SEED_ADMIN, ResetPassword(username, password))
        accounts.append((username, password, role, agency))
    path.touch(mode=0o600)
    fields = ("username", "password", "role", "agency")
    path.write_text(json.dumps([dict(zip(fields, account, strict=True)) for account in accounts]))
    return accounts


DemoToken = tuple[Role, str | None, str]  # role, agency, secret


def _prepare(settings: Settings, demo: bool, data_dir: Path) -> tuple[list[DemoToken], list[DemoAccount]]:
    from entrypoints.bootstrap import migrate, postgres_write_side
    from services.ingest.application.demo import load_demo
    from services.ingest.application.seed import load_seed

    migrate(settings)
    ensure_topic(settings, settings.kafka_topic, settings.kafka_partitions)
    if generate_key_file(Path(settings.audit_key_path)):  # the checkpoint signing key, on first use
        print(f"created the checkpoint signing key {settings.audit_key_path}", flush=True)
    with postgres_write_side(settings) as write_side:
        counts = load_seed(write_side)
        print("seeded: " + ", ".join(f"{v} {k}" for k, v in counts.items()), flush=True)
        if demo:
            print(f"demo: {load_demo(write_side, write_side.clock.today())} values entered", flush=True)
        people = _demo_people(write_side, data_dir)
        tokens = []
        for role, agency in DEMO_TOKEN_ROLES:
            issued = issue_token(write_side, SEED_ADMIN, IssueToken(role, agency, "demo (reporting up)"))
            assert isinstance(issued, TokenIssued)  # no Idempotency-Key: never a replay
            tokens.append((role, agency, issued.secret))
    return tokens, people


def run_local_stack(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir).resolve()
    logs = data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for port in (args.ingest_port, args.reports_port, args.web_port):
        if not port_is_free(port):
            print(
                f"port {port} is in use; choose another with --ingest-port/--reports-port/--web-port", file=sys.stderr
            )
            return 2
    stop = stop_on_signals()
    pid_file = data_dir / "stack.pid"
    _pid_file_guard(pid_file)
    postgres = LocalPostgres(data_dir / "postgres", args.postgres_port, log_path=logs / "postgres.log")
    broker = LocalBroker(args.kafka_port, log_path=logs / "broker.log")
    services: list[Service] = []
    try:
        postgres.start()
        broker.start()
        settings = Settings(
            postgres_port=args.postgres_port,
            kafka_bootstrap_servers=broker.bootstrap_servers,
            ingest_port=args.ingest_port,
            reports_port=args.reports_port,
            web_port=args.web_port,
            audit_key_path=str(data_dir / "audit" / "checkpoint.key"),
        )
        settings.write_file(data_dir / STACK_SETTINGS_FILE)  # for `reporting tokens ...` beside the stack
        tokens, people = _prepare(settings, not args.no_demo, data_dir)
        env = {**os.environ, **settings.to_env()}
        ports = _metrics_ports()
        services = [
            Service(name, {**env, "METRICS_PORT": str(ports.get(name, 0))}, logs / f"{name}.log", command)
            for name, command in SERVICES.items()
        ]
        for service in services:
            service.start()
        ingest_url = f"http://{settings.ingest_host}:{settings.ingest_port}"
        reports_url = f"http://{settings.reports_host}:{settings.reports_port}"
        web_url = f"http://{settings.web_host}:{settings.web_port}"
        for url in (ingest_url, reports_url, web_url):
            wait_until(partial(http_ready, url), 60, interval=0.1, what=f"{url}/ready")
        _print_banner(settings, (web_url, ingest_url, reports_url), tokens, people, logs, ports)
        while not stop.wait(0.5):
            for service in services:
                if not service.alive():
                    service.restarts += 1
                    print(f"{service.name} exited; restarting (see {service.log_path})", flush=True)
                    service.start()
        print("stopping...", flush=True)
        return 0
    except (PortInUse, PostgresBinariesMissing) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        for service in reversed(services):
            service.stop()
        broker.stop()
        postgres.stop()
        pid_file.unlink(missing_ok=True)


def _metrics_ports() -> dict[str, int]:
    """METRICS_PORT of each process without HTTP: the compose convention (infra/metrics.py) where it is free."""
    chosen = {}
    for name in SERVICES:
        convention = METRICS_PORTS.get(name.replace("project", "projector", 1))
        if convention is not None:
            chosen[name] = convention if port_is_free(convention) else free_port()
    return chosen


def _print_banner(
    settings: Settings,
    urls: tuple[str, str, str],
    tokens: list[DemoToken],
    people: list[DemoAccount],
    logs: Path,
    metrics_ports: dict[str, int],
) -> None:
    web_url, ingest_url, reports_url = urls
    lines = [
        "",
        "The reporting service is running (Ctrl-C stops everything).",
        f"  sign in      {web_url}/sign-in",
        f"  write API    {ingest_url}/docs",
        f"  reports API  {reports_url}/docs",
        f"  PostgreSQL   {settings.postgres_host}:{settings.postgres_port} database {settings.postgres_dbname}",
        f"  Kafka        {settings.kafka_bootstrap_servers} topic {settings.kafka_topic}",
        f"  logs         {logs} (JSON lines)",
        "  metrics      " + ", ".join([f"{u}/metrics" for u in urls] + [f"{n} :{p}" for n, p in metrics_ports.items()]),
        f"  settings     {logs.parent / STACK_SETTINGS_FILE} (read by `reporting tokens ...`)",
        f"  audit key    {settings.audit_key_path}.pub (verify: reporting audit verify)",
        "Demo people (sign in on the web app):",
    ]
    for username, password, role, agency in people:
        where = f"agency {agency}" if agency else "ministry"
        lines.append(f"  {role.value:<18} {where:<12} username {username:<10} password {password}")
    lines.append("Demo API tokens:")
    for role, agency, secret in tokens:
        lines.append(f"  {role.value:<18} {('agency ' + agency) if agency else '':<12} {secret}")
    print("\n".join(lines), flush=True)
