"""The `reporting` command: one entry point for every process of the system."""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from domain.errors import DomainError, NotFound
from domain.identity import Principal, Role
from domain.periods import VIETNAM
from entrypoints.audit_cli import add_audit_commands
from entrypoints.backup_cli import add_backup_commands
from infra.garbage_collection import tune_for_service
from infra.logs import configure_logging
from infra.runtime.signals import stop_on_signals
from infra.settings import DEFAULT_STACK_SETTINGS, Settings


def cmd_migrate(settings: Settings, _: argparse.Namespace) -> int:
    from entrypoints.bootstrap import migrate

    applied = migrate(settings)
    print(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none pending'}")
    return 0


def cmd_seed(settings: Settings, _: argparse.Namespace) -> int:
    from entrypoints.bootstrap import postgres_write_side
    from services.ingest.application.seed import load_seed

    with postgres_write_side(settings) as write_side:
        counts = load_seed(write_side)
    print("seeded: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    return 0


MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"


def _serve(app_factory: str, service: str, host: str, port: int, workers: int, settings: Settings) -> int:
    """Run an HTTP service; several worker processes share the port (each builds its app from the env).

    With several workers their metrics are added up through files (prometheus-client's multiprocess
    mode, docs/OPERATIONS.md "Several workers"); one worker keeps them in memory. On SIGTERM uvicorn
    stops accepting, finishes the requests in flight for at most SHUTDOWN_GRACE_SECONDS, then exits.
    """
    import uvicorn

    if workers > 1:
        from infra.metrics import prepare_multiprocess_dir

        default = Path(tempfile.gettempdir()) / f"reporting-metrics-{service}-{port}"
        prepare_multiprocess_dir(os.environ.get(MULTIPROCESS_DIR) or default)
    else:
        os.environ.pop(MULTIPROCESS_DIR, None)  # before the app imports prometheus_client
    uvicorn.run(
        app_factory,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,  # the root logger's JSON lines (infra/logs.py)
        log_level="info",
        access_log=False,  # one line per request of our own (services/http/observability.py)
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
    )
    return 0


def cmd_ingest(settings: Settings, _: argparse.Namespace) -> int:
    return _serve(
        "entrypoints.apps:ingest_app_from_env",
        "ingest",
        settings.ingest_host,
        settings.ingest_port,
        settings.ingest_workers,
        settings,
    )


def cmd_reports(settings: Settings, _: argparse.Namespace) -> int:
    return _serve(
        "entrypoints.apps:reports_app_from_env",
        "reports",
        settings.reports_host,
        settings.reports_port,
        settings.reports_workers,
        settings,
    )


def cmd_web(settings: Settings, _: argparse.Namespace) -> int:
    return _serve(
        "entrypoints.apps:web_app_from_env", "web", settings.web_host, settings.web_port, settings.web_workers, settings
    )


def _serve_metrics(settings: Settings) -> None:
    """/metrics and /health on METRICS_PORT, for a process without HTTP (none when it is 0)."""
    if settings.metrics_port:
        from infra.metrics import serve_metrics

        serve_metrics(settings.metrics_port, settings.metrics_host)


def cmd_relay(settings: Settings, _: argparse.Namespace) -> int:
    from infra.event_store import library_pool, open_event_store
    from infra.metrics import observe_pool
    from services.ingest.relay import Relay

    stop = stop_on_signals()
    _serve_metrics(settings)
    event_store = open_event_store(settings, stop, cache_size=0)  # waits out a database outage
    if event_store is None:
        return 0
    forget = observe_pool("relay-event-store", library_pool(event_store).get_stats)
    try:
        Relay(settings, event_store).run(stop)
    finally:
        forget()
        event_store.close()
    return 0


def cmd_project(settings: Settings, args: argparse.Namespace) -> int:
    from entrypoints.apps import projector

    stop = stop_on_signals()
    try:
        process = projector(settings, args.projections, exclude=args.exclude)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    _serve_metrics(settings)
    process.run(stop)
    return 0


def cmd_import_worker(settings: Settings, _: argparse.Namespace) -> int:
    """Run import jobs until stopped (docs/DECISIONS.md, *Imports are jobs*)."""
    from entrypoints.bootstrap import import_worker
    from infra.db import UNAVAILABLE_ERRORS
    from services.ingest.application.imports.engine import work

    stop = stop_on_signals()
    _serve_metrics(settings)
    while not stop.is_set():
        try:
            with import_worker(settings) as side:
                work(side, stop, UNAVAILABLE_ERRORS)
        except UNAVAILABLE_ERRORS as error:  # the database is not answering at start: wait for it
            logging.getLogger("reporting.imports").warning("waiting for the database: %s", error)
            stop.wait(1.0)
    return 0


def cmd_checkpoint(settings: Settings, _: argparse.Namespace) -> int:
    from entrypoints.apps import run_checkpointer

    stop = stop_on_signals()
    _serve_metrics(settings)
    return run_checkpointer(settings, stop)


def cmd_rebuild(settings: Settings, args: argparse.Namespace) -> int:
    from services.projector.rebuild import Rebuild

    stop = stop_on_signals()
    try:
        rebuild = Rebuild(settings, args.projections, from_store=args.from_store, workers=args.workers)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    _serve_metrics(settings)  # its progress, while it runs (job `rebuild`)
    summary = rebuild.run(stop, swap=not args.no_swap)
    print(summary.describe())
    return 0 if summary.swapped or args.no_swap else 1


def _vietnam(instant: datetime) -> str:
    return f"{instant.astimezone(VIETNAM):%Y-%m-%d %H:%M} (Vietnam)"


def _cli_principal() -> Principal:
    """Who acts on the command line: an administrator, named after the operating-system user."""
    return Principal(f"cli:{getpass.getuser()}", Role.ADMIN)


def cmd_tokens(_settings: Settings, args: argparse.Namespace) -> int:
    """Issue, revoke or list API tokens, against the running local stack's database by default."""
    from entrypoints.bootstrap import postgres_write_side
    from infra.db import UNAVAILABLE_ERRORS, connect
    from infra.tokens import list_tokens
    from services.ingest.application.commands import IssueToken, RevokeToken
    from services.ingest.application.outcomes import TokenChanged, TokenIssued
    from services.ingest.application.tokens import issue_token, revoke_token

    path = Path(args.settings)
    settings = Settings.of_stack(path)
    where = f"{settings.postgres_host}:{settings.postgres_port} database {settings.postgres_dbname}"
    print(f"PostgreSQL {where} (settings: {path if path.is_file() else 'the environment'})", file=sys.stderr)
    try:
        connect(settings).close()
    except UNAVAILABLE_ERRORS as error:
        print(f"error: PostgreSQL does not answer at {where}: is the stack running (`make up`)?", file=sys.stderr)
        print(f"({error})", file=sys.stderr)
        return 2
    if args.action == "list":
        with connect(settings) as conn:
            found = list_tokens(conn, limit=10_000, agency=args.agency, active_only=args.active)
        for info in found:
            state = f"revoked {_vietnam(info.revoked_at)}" if info.revoked_at else "active"
            expires = f"expires {_vietnam(info.expires_at)}" if info.expires_at else "no expiry"
            print(f"{info.subject:<40} {info.role.value:<18} {info.agency or '-':<6} {state:<35}", end=" ")
            print(f"{expires:<35} {info.label}")
        return 0
    try:
        with postgres_write_side(settings) as write_side:
            if args.action == "create":
                valid_until = write_side.clock.today() + timedelta(days=args.days - 1) if args.days else None
                command = IssueToken(Role(args.role), args.agency, args.label, valid_until)
                issued = issue_token(write_side, _cli_principal(), command)
                assert isinstance(issued, TokenIssued)  # no Idempotency-Key: never a replay
                print(issued.secret)
                until = f", expires {_vietnam(issued.expires_at)}" if issued.expires_at else ""
                print(f"subject: {issued.token}{until} (the secret above is shown once)", file=sys.stderr)
                return 0
            revoked = revoke_token(write_side, _cli_principal(), RevokeToken(args.subject, args.reason))
            assert isinstance(revoked, TokenChanged)
            print(f"revoked {args.subject}" if revoked.positions else f"{args.subject} was already revoked")
            return 0
    except DomainError as error:
        print(f"error: {error.detail}", file=sys.stderr)
        return 1 if isinstance(error, NotFound) else 2


def cmd_bench(_: Settings, args: argparse.Namespace) -> int:
    """Run `bench.run` (the benchmarks live beside the code, not in the installed package)."""
    command = [sys.executable, "-m", "bench.run", "--scale", args.scale, *(["--json", args.json] if args.json else [])]
    return subprocess.run(command, check=False).returncode


def cmd_probe(_: Settings, args: argparse.Namespace) -> int:
    """Exit 0 when `url` answers 200 within the timeout (compose health checks; the image has no curl)."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(args.url, timeout=args.timeout) as response:  # noqa: S310 - an operator's URL
            print(response.read(2000).decode(errors="replace"))
            return 0 if response.status == 200 else 1
    except urllib.error.HTTPError as error:
        print(f"{error.code}: {error.read(2000).decode(errors='replace')}")
    except (urllib.error.URLError, OSError) as error:
        print(f"no answer: {error}")
    return 1


def cmd_up(settings: Settings, args: argparse.Namespace) -> int:
    from entrypoints.stack import run_local_stack

    return run_local_stack(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reporting", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the whole system locally with demo data (no Docker)")
    up.add_argument("--data-dir", default=".local", help="where the private PostgreSQL cluster and logs live")
    up.add_argument("--postgres-port", type=int, default=55432)
    up.add_argument("--kafka-port", type=int, default=59092)
    up.add_argument("--ingest-port", type=int, default=8001)
    up.add_argument("--reports-port", type=int, default=8002)
    up.add_argument("--web-port", type=int, default=8000)
    up.add_argument("--no-demo", action="store_true", help="seed reference data only, no demo values")
    up.set_defaults(func=cmd_up)
    for name, func, text in (
        ("migrate", cmd_migrate, "create or upgrade the database schema"),
        ("seed", cmd_seed, "load the seed catalogue, templates and agencies"),
        ("ingest", cmd_ingest, "run the write API"),
        ("relay", cmd_relay, "run the relay: event store -> Kafka"),
        ("project", cmd_project, "run the projector: Kafka -> read models"),
        ("reports", cmd_reports, "run the read API"),
        ("web", cmd_web, "run the people's web app"),
        ("checkpoint", cmd_checkpoint, "run the checkpointer: transparency log + signed checkpoints"),
        ("import-worker", cmd_import_worker, "run import jobs: uploaded files -> values, resumable"),
    ):
        sub.add_parser(name, help=text).set_defaults(func=func)
    # Projections can run in separate processes (positions are per projection), e.g. the roll-ups
    # apart from the per-agency views: `reporting project --exclude rollups` and `reporting project rollups`.
    sub.choices["project"].add_argument("projections", nargs="*", help="projections to run (default: all)")
    sub.choices["project"].add_argument("--exclude", action="append", default=[], help="a projection not to run")
    rebuild = sub.add_parser(
        "rebuild",
        help="replay the log into fresh read-model tables and swap them in (the old ones serve meanwhile)",
    )
    rebuild.add_argument("projections", nargs="*", help="projections to rebuild (default: all)")
    rebuild.add_argument("--from-store", action="store_true", help="replay the event store instead of Kafka")
    rebuild.add_argument("--no-swap", action="store_true", help="leave the rebuilt tables (suffix __rebuild) aside")
    rebuild.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes sharing the partitions out (from Kafka; rollups get one more process of their own)",
    )
    rebuild.set_defaults(func=cmd_rebuild)
    tokens = sub.add_parser(
        "tokens",
        help="issue, revoke or list API tokens (as events; against the running local stack by default)",
    )
    tokens.add_argument(
        "--settings",
        default=str(DEFAULT_STACK_SETTINGS),
        help="the settings file `reporting up` writes in its data folder; variables set in the environment"
        " take precedence; without the file, the environment alone (default: %(default)s)",
    )
    token_actions = tokens.add_subparsers(dest="action", required=True)
    create = token_actions.add_parser("create", help="issue a token: its secret on stdout, shown once")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--agency", help="the agency of an agency_reporter token (an agency that exists)")
    create.add_argument("--label", required=True, help="which system holds the token, e.g. 'DHIS2 của Sở'")
    create.add_argument("--days", type=int, default=0, help="valid today and the next DAYS-1 days (0: no expiry)")
    revoke = token_actions.add_parser("revoke", help="refuse a token from its next request on")
    revoke.add_argument("subject")
    revoke.add_argument("--reason", help="why (kept in the audit trail)")
    listing = token_actions.add_parser("list", help="the tokens (never their secrets)")
    listing.add_argument("--agency")
    listing.add_argument("--active", action="store_true", help="only tokens neither revoked nor expired")
    tokens.set_defaults(func=cmd_tokens)
    probe = sub.add_parser("probe", help="exit 0 when a URL answers 200 (health checks)")
    probe.add_argument("url", help="e.g. http://127.0.0.1:8001/ready or http://127.0.0.1:9101/health")
    probe.add_argument("--timeout", type=float, default=3.0)
    probe.set_defaults(func=cmd_probe)
    bench = sub.add_parser("bench", help="every benchmark of bench/ in turn, at one scale (from a checkout)")
    bench.add_argument("--scale", choices=("small", "full"), default="small")
    bench.add_argument("--json", help="where the run's table is written (default .local/bench/latest.json)")
    bench.set_defaults(func=cmd_bench)
    add_audit_commands(sub)
    add_backup_commands(sub)
    return parser


def _service_name(args: argparse.Namespace) -> str:
    """What the process calls itself in its log lines."""
    if args.command == "project" and args.projections:
        return "project:" + "+".join(args.projections)
    return str(args.command)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(_service_name(args))
    settings = Settings.from_env()
    tune_for_service()  # every command may run long: a service, a rebuild, a verification of the whole log
    result: int = args.func(settings, args)
    return result


if __name__ == "__main__":
    sys.exit(main())
