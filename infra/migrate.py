"""Schema migrations: numbered SQL files applied once each, in order, under a lock.

The files come from several folders (the adapters' own, `infra/migrations`, and each read
model's): the composition root passes them. Applied migrations are recorded by file name, so the
names are unique across every folder and their order is the order of application.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from importlib.resources.abc import Traversable

from infra.db import MIGRATION_LOCK, connect
from infra.settings import Settings


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


def migrate(settings: Settings, sources: Iterable[Traversable]) -> list[str]:
    """Apply the pending migrations of `sources`; returns the versions applied now."""
    files = migration_files(sources)
    applied_now: list[str] = []
    with connect(settings) as conn:
        # Several processes may start at once (compose, tests): one migrates, the others wait.
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
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
