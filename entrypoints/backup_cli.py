"""`reporting backup` and `reporting restore` (wired in entrypoints/cli.py); see infra/backup.py."""

from __future__ import annotations

import argparse
import base64
import sys
from datetime import UTC, datetime
from pathlib import Path

from infra.settings import Settings


def cmd_backup(settings: Settings, args: argparse.Namespace) -> int:
    from infra.backup import add_file, backup, manifest_digest
    from services.audit.signing import VerifierKey, public_key_path

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = Path(args.to or f"backups/reporting-{stamp}")
    print(f"backing up the system of record of {settings.postgres_dbname} into {target}", file=sys.stderr)
    try:
        manifest = backup(settings, target, progress=sys.stderr)
    except FileExistsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    # The public halves of the checkpoint keys, as auditors use them (`audit verify --public-key FILE`).
    for key in manifest["public_keys"]:
        verifier = VerifierKey(key["origin"], base64.b64decode(key["public_key"]))
        name = f"checkpoint-key-{key['key_id']}.vkey"
        add_file(target, manifest, name, (verifier.vkey() + "\n").encode(), f"public checkpoint key {key['key_id']}")
    pem = public_key_path(Path(settings.audit_key_path))
    if pem.is_file():
        add_file(target, manifest, "checkpoint-key.pub", pem.read_bytes(), "the public half of AUDIT_KEY_PATH (PEM)")
    log = manifest["transparency_log"]
    last = log["last_checkpoint"]
    print(
        f"backed up {manifest['event_store']['events']:,} events (last position"
        f" {manifest['event_store']['last_position']}), a transparency log of {log['tree_size']:,} leaves"
        + (f", last checkpoint {last['id']} of size {last['tree_size']}" if last else ", no checkpoint yet"),
        file=sys.stderr,
    )
    print("the private checkpoint key is not in it: keep AUDIT_KEY_PATH backed up apart", file=sys.stderr)
    print(f"manifest sha256 {manifest_digest(target)}", file=sys.stderr)
    print(target)
    return 0


def cmd_restore(settings: Settings, args: argparse.Namespace) -> int:
    from entrypoints.bootstrap import migration_sources
    from infra.backup import RestoreRefused, restore

    source = Path(args.source)
    print(f"restoring {source} into {settings.postgres_dbname}", file=sys.stderr)
    try:
        manifest = restore(settings, source, migration_sources(), progress=sys.stderr)
    except RestoreRefused as error:
        print(f"refused: {error}", file=sys.stderr)
        return 1
    if _topic_holds_messages(settings) is not False:
        print(
            f"warning: topic {settings.kafka_topic} holds messages (or the broker could not tell): they may come from"
            " after the backup, with positions the restored store will give to other events. Before the relay"
            " starts, point KAFKA_TOPIC at a new topic or use an empty broker.",
            file=sys.stderr,
        )
    print(
        f"restored {manifest['event_store']['events']:,} events up to position"
        f" {manifest['event_store']['last_position']} (backup of {manifest['created_at']}). Next:\n"
        "  1. put the private checkpoint key at AUDIT_KEY_PATH (without it the checkpointer makes a new key);\n"
        "  2. start the relay: it republishes the whole log to the topic;\n"
        "  3. start the projectors: they rebuild every read model from the topic"
        " (or run `reporting rebuild --from-store`);\n"
        "  4. start the checkpointer and the HTTP services; check with `reporting audit verify`.",
        file=sys.stderr,
    )
    return 0


def _topic_holds_messages(settings: Settings) -> bool | None:
    """Whether the topic the relay will republish to holds messages already (None: the broker did not answer)."""
    from kafka.errors import KafkaError

    from infra.kafka import describe_topic, read_at

    try:
        info = describe_topic(settings, settings.kafka_topic)
        if info is None:
            return False
        found = read_at(settings, settings.kafka_topic, dict.fromkeys(info.partitions, 0))
    except (KafkaError, OSError):
        return None
    return any(position is not None for position in found.values())


def add_backup_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    backup = sub.add_parser(
        "backup", help="back up the system of record (event store, credentials, transparency log) into a directory"
    )
    backup.add_argument("--to", help="a new directory (default: backups/reporting-<UTC time>)")
    backup.set_defaults(func=cmd_backup)
    restore = sub.add_parser("restore", help="restore a backup into an empty database; read models are rebuilt")
    restore.add_argument("--from", dest="source", required=True, help="the backup's directory")
    restore.set_defaults(func=cmd_restore)
