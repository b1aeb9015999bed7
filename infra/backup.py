"""Backup and restore of the system of record: what cannot be rebuilt from anything else.

Backed up (`SYSTEM_OF_RECORD`, in the order they are restored): the event store, the
Idempotency-Key answers, the API tokens' hashes and the people's password hashes, and the
transparency log (its leaves and nodes, the signed checkpoints, their requests, and the public
halves of the signing keys). Not backed up, because they are rebuilt: every read model
(`reporting rebuild --from-store`, or the projectors from the topic), the projector and relay
positions (after a restore the relay republishes the log from the start, and the projectors
skip what they applied), and what is worth nothing later: web sessions (people sign in again),
sign-in failures, rate-limit buckets. The private signing key is a file the operator keeps
apart (`AUDIT_KEY_PATH`); it is never in a backup.

The format is a directory: one gzip file per table holding PostgreSQL's text COPY of its rows
in primary-key order, and `manifest.json` with, per table, its columns, its row count and the
SHA-256 of its rows (the uncompressed COPY text) and of its file; the sequences' values; the
migrations the schema had; what the log held (events, last position, the last signed
checkpoint). Every table is read in one REPEATABLE READ snapshot, so the files are one moment
of the database, taken while it keeps serving (COPY takes no lock that stops writers).

A restore checks every file against the manifest before it touches the database, refuses a
database that holds data already, creates the schema of the backup (its migrations, no more),
loads every table and sets the sequences in one transaction, and commits only if each table,
read back in the same way, has the manifest's rows and hash; then it applies the migrations of
this release that came after the backup. docs/OPERATIONS.md, "Backup and restore".
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Final, TextIO

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

from infra.db import connect
from infra.migrate import applied_migrations, migrate, migration_files
from infra.settings import Settings

FORMAT: Final = "reporting-backup/1"
MANIFEST: Final = "manifest.json"
CHUNK: Final = 1 << 20


@dataclass(frozen=True)
class Table:
    name: str
    key: tuple[str, ...]  # the primary key: the order rows are written in, so that the hash is the content's


SYSTEM_OF_RECORD: Final = (
    Table("reporting_events", ("notification_id",)),
    Table("idempotency_keys", ("subject", "key")),
    Table("api_tokens", ("token_hash",)),
    Table("account_credentials", ("username",)),
    Table("tlog_keys", ("key_id",)),
    Table("tlog_leaves", ("leaf_index",)),
    Table("tlog_nodes", ("level", "idx")),
    Table("tlog_checkpoints", ("id",)),
    Table("tlog_checkpoint_requests", ("id",)),
)
"""Every table of the system of record, each after the tables its foreign keys name."""

NOT_BACKED_UP: Final = {
    "read models (rm_*)": "rebuilt from the log: `reporting rebuild --from-store`, or the projectors from the topic",
    "projector_positions": "the read models are rebuilt from the start",
    "relay_positions": "after a restore the relay republishes the whole log; projectors skip what they applied",
    "web_sessions": "people sign in again",
    "signin_failures, rate_limit_buckets": "worth nothing after a restore",
    "the private checkpoint signing key": "a file the operator keeps apart (AUDIT_KEY_PATH); never in a backup",
}

# One textual form of every value, whatever the server's or the client's defaults.
_SESSION: Final = (
    "SET TIME ZONE 'UTC'",
    "SET datestyle = 'ISO, YMD'",
    "SET intervalstyle = 'postgres'",
    "SET extra_float_digits = 3",
    "SET bytea_output = 'hex'",
)


class RestoreRefused(RuntimeError):
    """The backup does not match its manifest, or the target database is not fit for a restore."""


@dataclass(frozen=True)
class TableCopy:
    name: str
    columns: tuple[str, ...]
    rows: int
    sha256: str  # of the rows: the uncompressed COPY text
    file: str
    file_sha256: str
    bytes: int

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "columns": list(self.columns),
            "rows": self.rows,
            "sha256": self.sha256,
            "file": self.file,
            "file_sha256": self.file_sha256,
            "bytes": self.bytes,
        }


def _prepare(conn: psycopg.Connection[TupleRow]) -> None:
    for statement in _SESSION:
        conn.execute(statement)


def _columns(conn: psycopg.Connection[TupleRow], table: str) -> tuple[str, ...]:
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position",
        (table,),
    ).fetchall()
    if not rows:
        raise RestoreRefused(f"the database has no table {table}: is it migrated?")
    return tuple(str(row[0]) for row in rows)


def _select(table: Table, columns: Sequence[str]) -> sql.Composed:
    return sql.SQL("COPY (SELECT {} FROM {} ORDER BY {}) TO STDOUT").format(
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.Identifier(table.name),
        sql.SQL(", ").join(map(sql.Identifier, table.key)),
    )


def _read_rows(
    conn: psycopg.Connection[TupleRow], table: Table, columns: Sequence[str], sink: Callable[[bytes], object]
) -> tuple[int, str]:
    """Stream the table's rows (text COPY, key order) into `sink`; (rows, SHA-256 of the text)."""
    digest = hashlib.sha256()
    rows = 0
    pending: list[bytes] = []
    size = 0

    def flush() -> None:
        nonlocal rows, size
        data = b"".join(pending)
        pending.clear()
        size = 0
        digest.update(data)
        rows += data.count(b"\n")  # text COPY escapes newlines inside values: one line per row
        sink(data)

    with conn.cursor() as cur, cur.copy(_select(table, columns)) as copy:
        for chunk in copy:  # one row at a time: hashed, counted and written a megabyte at a time
            pending.append(bytes(chunk))
            size += len(chunk)
            if size >= CHUNK:
                flush()
    flush()
    return rows, digest.hexdigest()


def _sequences(conn: psycopg.Connection[TupleRow], table: str, columns: Sequence[str]) -> list[dict[str, Any]]:
    found = []
    for column in columns:
        row = conn.execute("SELECT pg_get_serial_sequence(%s, %s)", (table, column)).fetchone()
        if row is None or row[0] is None:
            continue
        name = str(row[0])
        value = conn.execute(sql.SQL("SELECT last_value, is_called FROM {}").format(sql.SQL(name))).fetchone()
        assert value is not None
        found.append(
            {"name": name, "table": table, "column": column, "last_value": int(value[0]), "is_called": bool(value[1])}
        )
    return found


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _summary(conn: psycopg.Connection[TupleRow]) -> dict[str, Any]:
    """What the log held at the snapshot: for the operator, and for the checks after a restore."""
    events = conn.execute("SELECT count(*), coalesce(max(notification_id), 0) FROM reporting_events").fetchone()
    tree = conn.execute("SELECT count(*) FROM tlog_leaves").fetchone()
    last = conn.execute(
        "SELECT id, tree_size, encode(root_hash, 'hex'), last_position, issued_at, encode(key_id, 'hex')"
        " FROM tlog_checkpoints ORDER BY id DESC LIMIT 1"
    ).fetchone()
    assert events is not None
    assert tree is not None
    checkpoint = None
    if last is not None:
        checkpoint = {
            "id": int(last[0]),
            "tree_size": int(last[1]),
            "root_hash": str(last[2]),
            "last_position": int(last[3]),
            "issued_at": last[4].astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "key_id": str(last[5]),
        }
    keys = conn.execute(
        "SELECT encode(key_id, 'hex'), origin, encode(public_key, 'base64') FROM tlog_keys ORDER BY created_at"
    ).fetchall()
    return {
        "event_store": {"events": int(events[0]), "last_position": int(events[1])},
        "transparency_log": {"tree_size": int(tree[0]), "last_checkpoint": checkpoint},
        "public_keys": [
            {"key_id": str(k), "origin": str(o), "public_key": str(b).replace("\n", "")} for k, o, b in keys
        ],
    }


def backup(settings: Settings, target: Path, progress: TextIO | None = None) -> dict[str, Any]:
    """Write a backup of the system of record into the new directory `target`; returns its manifest."""
    if target.exists() and any(target.iterdir()):
        raise FileExistsError(f"{target} is not empty: a backup goes into a new directory")
    target.mkdir(parents=True, exist_ok=True)
    with connect(settings) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        _prepare(conn)
        with conn.transaction():  # one snapshot for every table
            tables = []
            sequences: list[dict[str, Any]] = []
            for table in SYSTEM_OF_RECORD:
                columns = _columns(conn, table.name)
                path = target / f"{table.name}.copy.gz"
                with gzip.open(path, "wb", compresslevel=6) as out:
                    rows, digest = _read_rows(conn, table, columns, out.write)
                tables.append(
                    TableCopy(table.name, columns, rows, digest, path.name, _file_digest(path), path.stat().st_size)
                )
                sequences += _sequences(conn, table.name, columns)
                if progress is not None:
                    print(f"  {table.name}: {rows:,} rows", file=progress, flush=True)
            manifest = {
                "format": FORMAT,
                "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                "source": {
                    "host": settings.postgres_host,
                    "port": settings.postgres_port,
                    "database": settings.postgres_dbname,
                    "server_version": conn.info.server_version,
                },
                "migrations": applied_migrations(conn),
                "tables": [t.to_json() for t in tables],
                "sequences": sequences,
                **_summary(conn),
                "files": {},
                "not_included": NOT_BACKED_UP,
            }
    write_manifest(target, manifest)
    return manifest


def write_manifest(target: Path, manifest: dict[str, Any]) -> None:
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def add_file(target: Path, manifest: dict[str, Any], name: str, data: bytes, what: str) -> None:
    """Write a file into the backup and name it in the manifest with its hash (e.g. a public key)."""
    (target / name).write_bytes(data)
    manifest["files"][name] = {"sha256": _file_digest(target / name), "what": what}
    write_manifest(target, manifest)


def manifest_digest(target: Path) -> str:
    """The SHA-256 of `manifest.json`: written down elsewhere, it vouches for every file it names."""
    return _file_digest(target / MANIFEST)


# ---- restore ------------------------------------------------------------------------------------


def read_manifest(source: Path) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads((source / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise RestoreRefused(f"{source / MANIFEST}: {error}") from None
    if manifest.get("format") != FORMAT:
        raise RestoreRefused(f"{source}: not a backup of this format ({manifest.get('format')!r}, expected {FORMAT})")
    return manifest


def check_files(source: Path, manifest: dict[str, Any]) -> None:
    """Every file the manifest names is there, with its hash (before anything is written)."""
    named = {t["file"]: t["file_sha256"] for t in manifest["tables"]}
    named.update({name: entry["sha256"] for name, entry in manifest.get("files", {}).items()})
    for name, expected in named.items():
        path = source / name
        if not path.is_file():
            raise RestoreRefused(f"{path} is missing")
        if _file_digest(path) != expected:
            raise RestoreRefused(f"{path} does not match its hash in the manifest: altered or damaged")
    known = {t.name for t in SYSTEM_OF_RECORD}
    listed = [t["name"] for t in manifest["tables"]]
    if set(listed) != known:
        raise RestoreRefused(f"the backup holds tables {sorted(listed)}, this release restores {sorted(known)}")


def _holds_data(conn: psycopg.Connection[TupleRow]) -> list[str]:
    found = []
    for table in SYSTEM_OF_RECORD:
        exists = conn.execute("SELECT to_regclass(%s)", (table.name,)).fetchone()
        if exists is None or exists[0] is None:
            continue
        row = conn.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(sql.Identifier(table.name))).fetchone()
        if row is not None and row[0]:
            found.append(table.name)
    return found


def restore(
    settings: Settings, source: Path, migration_sources: Sequence[Traversable], progress: TextIO | None = None
) -> dict[str, Any]:
    """Restore the backup in `source` into the (empty) database of `settings`; returns its manifest."""
    manifest = read_manifest(source)
    check_files(source, manifest)
    with connect(settings) as conn:
        filled = _holds_data(conn)
        if filled:
            raise RestoreRefused(f"the database already holds data ({', '.join(filled)}): restore into a fresh one")
        applied = applied_migrations(conn)
    backed_up = list(manifest["migrations"])
    if [v for v in applied if v not in backed_up]:
        raise RestoreRefused(f"the database has migrations the backup had not: {applied}; restore into a fresh one")
    known = {version for version, _ in migration_files(migration_sources)}
    unknown = [v for v in backed_up if v not in known]
    if unknown:
        raise RestoreRefused(f"the backup's schema has migrations this release does not know: {unknown}")
    migrate(settings, migration_sources, only=set(backed_up))  # the schema the data was written in
    with connect(settings) as conn:
        _prepare(conn)
        with conn.transaction():
            for entry in manifest["tables"]:
                table = next(t for t in SYSTEM_OF_RECORD if t.name == entry["name"])
                columns = tuple(entry["columns"])
                copy_in = sql.SQL("COPY {} ({}) FROM STDIN").format(
                    sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, columns))
                )
                with gzip.open(source / entry["file"], "rb") as data, conn.cursor() as cur, cur.copy(copy_in) as copy:
                    while block := data.read(CHUNK):
                        copy.write(block)
                rows, digest = _read_rows(conn, table, columns, lambda _: None)
                if (rows, digest) != (entry["rows"], entry["sha256"]):
                    raise RestoreRefused(
                        f"{table.name}: {rows} rows read back (hash {digest[:12]}), the backup had"
                        f" {entry['rows']} (hash {entry['sha256'][:12]}); nothing was restored"
                    )
                if progress is not None:
                    print(f"  {table.name}: {rows:,} rows, as backed up", file=progress, flush=True)
            for sequence in manifest["sequences"]:
                conn.execute(
                    "SELECT setval(%s, %s, %s)", (sequence["name"], sequence["last_value"], sequence["is_called"])
                )
    migrate(settings, migration_sources)  # this release's later migrations, if any
    return manifest
