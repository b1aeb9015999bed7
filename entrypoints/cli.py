"""The `reporting` command: one entry point for every process of the system."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from domain.identity import Role
from entrypoints.audit_cli import add_audit_commands
from infra.settings import Settings


def _stop_on_signals() -> threading.Event:
    """SIGINT/SIGTERM set the event; loops finish their batch and exit cleanly."""
    stop = threading.Event()

    def handler(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


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


def _serve(app_factory: str, host: str, port: int, workers: int) -> int:
    """Run an HTTP service; several worker processes share the port (each builds its app from the env)."""
    import uvicorn

    uvicorn.run(app_factory, factory=True, host=host, port=port, workers=workers, log_level="warning", access_log=False)
    return 0


def cmd_ingest(settings: Settings, _: argparse.Namespace) -> int:
    return _serve(
        "entrypoints.apps:ingest_app_from_env", settings.ingest_host, settings.ingest_port, settings.ingest_workers
    )


def cmd_reports(settings: Settings, _: argparse.Namespace) -> int:
    return _serve(
        "entrypoints.apps:reports_app_from_env", settings.reports_host, settings.reports_port, settings.reports_workers
    )


def cmd_web(settings: Settings, _: argparse.Namespace) -> int:
    return _serve("entrypoints.apps:web_app_from_env", settings.web_host, settings.web_port, settings.web_workers)


def cmd_relay(settings: Settings, _: argparse.Namespace) -> int:
    from infra.event_store import open_event_store
    from services.ingest.relay import Relay

    stop = _stop_on_signals()
    event_store = open_event_store(settings, stop, cache_size=0)  # waits out a database outage
    if event_store is None:
        return 0
    try:
        Relay(settings, event_store).run(stop)
    finally:
        event_store.close()
    return 0


def cmd_project(settings: Settings, args: argparse.Namespace) -> int:
    from entrypoints.apps import projector

    stop = _stop_on_signals()
    try:
        process = projector(settings, args.projections, exclude=args.exclude)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    process.run(stop)
    return 0


def cmd_import_worker(settings: Settings, _: argparse.Namespace) -> int:
    """Run import jobs until stopped (docs/DECISIONS.md, *Imports are jobs*)."""
    from entrypoints.bootstrap import import_worker
    from infra.db import UNAVAILABLE_ERRORS
    from services.ingest.application.imports.engine import work

    stop = _stop_on_signals()
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

    return run_checkpointer(settings, _stop_on_signals())


def cmd_rebuild(settings: Settings, args: argparse.Namespace) -> int:
    from services.projector.rebuild import Rebuild

    stop = _stop_on_signals()
    try:
        rebuild = Rebuild(settings, args.projections, from_store=args.from_store)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    summary = rebuild.run(stop, swap=not args.no_swap)
    print(summary.describe())
    return 0 if summary.swapped or args.no_swap else 1


def cmd_tokens(settings: Settings, args: argparse.Namespace) -> int:
    from infra.db import connect
    from infra.tokens import create_token, revoke_token

    with connect(settings) as conn:
        if args.action == "create":
            role = Role(args.role)
            if (role is Role.AGENCY_REPORTER) != bool(args.agency):
                print("--agency is required for agency_reporter and refused for other roles", file=sys.stderr)
                return 2
            expires = datetime.now(UTC) + timedelta(days=args.days) if args.days else None
            issued = create_token(conn, role, args.agency, label=args.label, expires_at=expires)
            print(issued.secret)
            print(f"subject: {issued.principal.subject}", file=sys.stderr)
            return 0
        if revoke_token(conn, args.subject, "cli"):
            print(f"revoked {args.subject}")
            return 0
        print(f"no active token with subject {args.subject}", file=sys.stderr)
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
    rebuild.set_defaults(func=cmd_rebuild)
    tokens = sub.add_parser("tokens", help="create or revoke bearer tokens")
    token_actions = tokens.add_subparsers(dest="action", required=True)
    create = token_actions.add_parser("create")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--agency")
    create.add_argument("--label", default="")
    create.add_argument("--days", type=int, default=0, help="expire after this many days (0: never)")
    revoke = token_actions.add_parser("revoke")
    revoke.add_argument("subject")
    tokens.set_defaults(func=cmd_tokens)
    add_audit_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for chatty in ("kafka", "httpx"):  # connection chatter at INFO
        logging.getLogger(chatty).setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    settings = Settings.from_env()
    result: int = args.func(settings, args)
    return result


if __name__ == "__main__":
    sys.exit(main())
