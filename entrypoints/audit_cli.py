"""The `reporting audit ...` commands (wired in entrypoints/cli.py)."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

import orjson

from infra.settings import Settings


def cmd_keygen(settings: Settings, args: argparse.Namespace) -> int:
    from services.audit.checkpointer import log_origin
    from services.audit.signing import generate_key_file, load_signing_key, public_key_path

    path = Path(args.key or settings.audit_key_path)
    created = generate_key_file(path)
    key = load_signing_key(path, log_origin(settings))
    print(
        f"{'created' if created else 'kept the existing'} key {path}; public key {public_key_path(path)}",
        file=sys.stderr,
    )
    print(key.verifier.vkey())
    return 0


def cmd_verify(settings: Settings, args: argparse.Namespace) -> int:
    from services.audit.checkpointer import log_origin
    from services.audit.signing import CheckpointError, public_key_path
    from services.audit.verify import Options, load_verifier_key, print_report, report_json, verify

    source = args.public_key or str(public_key_path(Path(settings.audit_key_path)))
    try:
        key = load_verifier_key(source, log_origin(settings))
    except (OSError, CheckpointError, ValueError) as error:
        print(f"cannot read the public key {source!r}: {error}", file=sys.stderr)
        return 2
    options = Options(
        from_store=args.from_store,
        checkpoint_files=[Path(p) for p in args.checkpoints],
        use_database=not args.no_database,
        idle_seconds=args.idle_seconds,
        workers=args.workers,
    )
    report = verify(settings, key, options)
    print_report(report, sys.stdout)
    if args.json:
        Path(args.json).write_bytes(orjson.dumps(report_json(report), option=orjson.OPT_INDENT_2))
    return 0 if report.ok else 1


def cmd_replay(settings: Settings, args: argparse.Namespace) -> int:
    from services.audit.replay import replay

    report = replay(settings, from_store=args.from_store, keep=args.keep, idle=args.idle_seconds)
    return 0 if report.ok else 1


def cmd_request_checkpoint(settings: Settings, args: argparse.Namespace) -> int:
    """Ask the running checkpointer for a checkpoint now (as the admin API does) and print it."""
    from infra.db import open_pool
    from services.audit.transparency import TransparencyLog
    from services.readmodels.audit_trail.queries import AuditTrailQueries

    pool = open_pool(settings, max_size=1)
    try:
        log = TransparencyLog(pool, AuditTrailQueries(pool, settings.kafka_topic))
        request = log.request_checkpoint("cli", int(args.wait * 1000))
    finally:
        pool.close()
    if request.checkpoint is None:
        print("no checkpoint yet: is `reporting checkpoint` running?", file=sys.stderr)
        return 1
    print(orjson.dumps(request.checkpoint.signed.to_json(), option=orjson.OPT_INDENT_2).decode())
    return 0


def cmd_as_of(settings: Settings, args: argparse.Namespace) -> int:
    """The per-agency report view as of a position or instant, folded from the event store."""
    from infra.canonical import CanonicalMapper, read_store
    from infra.db import connect
    from infra.integration_events import IntegrationEvent
    from services.audit.verify import _event_store
    from services.readmodels.report_view.asof import prefix_for_instant, report_as_of

    mapper = CanonicalMapper(_event_store(settings))
    with connect(settings) as conn:
        events: list[IntegrationEvent] = []
        for rows in read_store(conn, until=args.position):
            for row in rows:
                leaf = mapper.leaf(row)
                if leaf.canonical is None:
                    print(f"position {row.position} cannot be read: {leaf.error}", file=sys.stderr)
                    return 1
                events.append(IntegrationEvent.from_bytes(leaf.canonical))
    target = args.position
    if args.at is not None:
        at = datetime.fromisoformat(args.at)
        if at.tzinfo is None:
            print("--at needs a time zone (e.g. Z)", file=sys.stderr)
            return 2
        prefix = prefix_for_instant(events, at)
        target = prefix if prefix is not None else (events[-1].position if events else 0)
    chosen = [e for e in events if e.position <= target and e.agency == args.agency]
    report = report_as_of(args.agency, args.period, chosen, max((e.position for e in chosen), default=0))
    view = {**report.to_json(), "as_of": {"position": target, "at": args.at}}
    print(orjson.dumps(view, option=orjson.OPT_INDENT_2).decode())
    return 0


def add_audit_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = sub.add_parser("audit", help="the transparency log: keys, verification, replay, time travel")
    actions = audit.add_subparsers(dest="action", required=True)

    keygen = actions.add_parser("keygen", help="create the checkpoint signing key if missing; print the verifier key")
    keygen.add_argument("--key", help="key file (default: AUDIT_KEY_PATH)")
    keygen.set_defaults(func=cmd_keygen)

    verify = actions.add_parser(
        "verify", help="re-read the whole log, recompute the tree, check every signed checkpoint (exit 0: consistent)"
    )
    verify.add_argument("--from-store", action="store_true", help="read the event store instead of the Kafka topic")
    verify.add_argument(
        "--public-key", help="verifier key (name+id+base64) or a file with it or a PEM (default: AUDIT_KEY_PATH.pub)"
    )
    verify.add_argument(
        "--checkpoints", nargs="*", default=[], metavar="FILE", help="checkpoints the auditor kept (notes or JSON)"
    )
    verify.add_argument(
        "--no-database", action="store_true", help="do not read the transparency log's tables (Kafka mode only)"
    )
    verify.add_argument("--idle-seconds", type=float, default=3.0, help="stop reading a topic after this much quiet")
    verify.add_argument("--workers", type=int, default=0, help="processes reading the store (0: auto)")
    verify.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    verify.set_defaults(func=cmd_verify)

    replay = actions.add_parser("replay", help="rebuild every read model from the log into scratch tables and compare")
    replay.add_argument("--from-store", action="store_true", help="replay the event store instead of the Kafka topic")
    replay.add_argument("--keep", action="store_true", help="keep the scratch tables")
    replay.add_argument("--idle-seconds", type=float, default=3.0)
    replay.set_defaults(func=cmd_replay)

    checkpoint = actions.add_parser("checkpoint", help="ask the checkpointer for a signed checkpoint now")
    checkpoint.add_argument("--wait", type=float, default=30.0)
    checkpoint.set_defaults(func=cmd_request_checkpoint)

    as_of = actions.add_parser(
        "as-of", help="a per-agency report view as of a past position or instant, from the store"
    )
    as_of.add_argument("agency")
    as_of.add_argument("period")
    when = as_of.add_mutually_exclusive_group(required=True)
    when.add_argument("--position", type=int)
    when.add_argument("--at", help="ISO 8601 instant with a zone")
    as_of.set_defaults(func=cmd_as_of)
