"""Schema migrations: numbered SQL files applied once each, in order, under a lock.

The files come from several folders (the adapters' own, `infra/migrations`, and each read
model's): the composition root passes them. Applied migrations are recorded by file name, so the
names are unique across every folder and their order is the order of application.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from importlib import resources
from importlib.resources.abc import Traversable

import psycopg
from psycopg.rows import TupleRow

from infra.db import MIGRATION_LOCK, connect
from infra.settings import Settings

SCHEMA_MIGRATIONS = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
)


def applied_migrations(conn: psycopg.Connection[TupleRow]) -> list[str]:
    """The versions applied to the database of `conn`, in order (none when it was never migrated)."""
    if conn.execute("SELECT to_regclass('schema_migrations')").fetchone() in (None, (None,)):
        return []
    return [str(row[0]) for row in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]


def infra_migrations() -> Traversable:
    """The adapters' own migrations: the event store, positions, tokens, the transparency log."""
    return resources.files("infra.migrations")


def migration_files(sources: Iterable[Traversable]) -> list[tuple[str, str]]:
    """(version, SQL) of every `.sql` file of `sources`, in file-name order across all of them."""
    found: dict[str, str] = {}
    for folder in sources:
        for item in folder.iterdir():
            if not item.name.endswith(".sql"):
                continue
            version = item.name.removesuffix(".sql")
            if version in found:
                raise ValueError(f"two migrations are named {item.name}")
            found[version] = item.read_text("utf-8")
    return sorted(found.items())


def migrate(settings: Settings, sources: Iterable[Traversable], *, only: Collection[str] | None = None) -> list[str]:
    """Apply the pending migrations of `sources` (of them, those named in `only`); returns the versions applied now.

    `only` lets a restore rebuild the schema its backup was taken with before it loads the data, and
    apply the later migrations after (`infra/backup.py`).
    """
    files = [(v, sql) for v, sql in migration_files(sources) if only is None or v in only]
    applied_now: list[str] = []
    with connect(settings) as conn:
        # Several processes may start at once (compose, tests): one migrates, the others wait.
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        try:
            conn.execute(SCHEMA_MIGRATIONS)
            done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            for version, sql in files:
                if version in done:
                    continue
                with conn.transaction():
                    conn.execute(sql.encode())
                    conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
                applied_now.append(version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
    return applied_now
