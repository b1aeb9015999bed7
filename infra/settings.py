"""Settings of every process, read from environment variables.

One settings object for the whole system, so that `compose.yaml`, the local
runtime and the tests all configure the services the same way. The PostgreSQL
variables are the ones the `eventsourcing` library reads itself, so the event
store and our own read models always talk to the same database.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import timedelta
from pathlib import Path
from typing import Any

# Where `reporting up` writes the settings of the stack it runs, in its data folder, so that the
# commands a person runs beside it (`reporting tokens ...`) reach the same database.
STACK_SETTINGS_FILE = "settings.env"
DEFAULT_STACK_SETTINGS = Path(".local") / STACK_SETTINGS_FILE


def read_env_file(path: Path) -> dict[str, str]:
    """`NAME=value` lines (blank lines and `#` comments skipped), as `Settings.write_file` writes them."""
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.strip()
        if text and not text.startswith("#") and "=" in text:
            name, value = text.split("=", 1)
            values[name.strip()] = value.strip()
    return values


@dataclass(frozen=True)
class Settings:
    """Configuration of the services; each field is the env var of its upper-cased name."""

    postgres_host: str = "127.0.0.1"
    postgres_port: int = 5432
    postgres_dbname: str = "reporting"
    postgres_user: str = "reporting"
    postgres_password: str = "reporting"  # noqa: S105 - a local default, overridden in production
    postgres_lock_timeout: int = 5
    postgres_pool_size: int = 5
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_topic: str = "reporting.events"
    kafka_partitions: int = 6
    ingest_host: str = "127.0.0.1"
    ingest_port: int = 8001
    ingest_workers: int = 1
    reports_host: str = "127.0.0.1"
    reports_port: int = 8002
    reports_workers: int = 1
    max_body_bytes: int = 1_048_576
    max_values_per_batch: int = 1000
    rate_limit_per_token: int = 50  # requests per second per token (bursts of 2x); 0 disables
    auth_failures_per_minute: int = 20  # failed authentications per client address
    max_page_size: int = 1000  # the largest `limit` a list endpoint accepts (422 above)
    relay_batch_size: int = 2000
    projector_batch_size: int = 5000
    # Transparency log (docs/AUDIT.md): the Ed25519 signing key of checkpoints (public key beside it,
    # `<path>.pub`), how often the checkpointer signs a grown tree, and the log's name in checkpoints.
    audit_key_path: str = ".local/audit/checkpoint.key"
    checkpoint_interval_seconds: int = 60
    audit_log_origin: str = ""  # default: reporting/<kafka_topic>
    # The people's web app, sessions and sign-in throttling.
    web_host: str = "127.0.0.1"
    web_port: int = 8003
    web_workers: int = 1
    session_idle_minutes: float = 30  # a session ends after this long without a request
    session_hours: float = 12  # and at most this long after sign-in
    signin_failures_limit: int = 5  # failed sign-ins per username, and per address, within the window
    signin_window_minutes: int = 15
    # Imports (docs/INTERCHANGE.md, *Importing*): the largest upload, the largest all-or-nothing import,
    # and a folder of extra DHIS2 code mappings (*.json) beside the shipped one.
    max_upload_bytes: int = 67_108_864
    import_atomic_max_values: int = 20_000
    dhis2_mappings_dir: str = ""
    # Operations (docs/OPERATIONS.md): where a process without HTTP serves /metrics and /health
    # (0: it serves none; compose uses infra/metrics.py METRICS_PORTS), readiness, shutdown.
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 0
    ready_max_lag_events: int = 100_000  # /ready of reports and web: 503 past this projector lag (0: unchecked)
    shutdown_grace_seconds: int = 30  # HTTP services finish in-flight requests for at most this long

    @property
    def signin_window(self) -> timedelta:
        return timedelta(minutes=self.signin_window_minutes)

    @property
    def session_idle(self) -> timedelta:
        return timedelta(minutes=self.session_idle_minutes)

    @property
    def session_lifetime(self) -> timedelta:
        return timedelta(hours=self.session_hours)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read every field from `env` (default: the process environment)."""
        source = os.environ if env is None else env
        values: dict[str, Any] = {}
        for field in fields(cls):
            raw = source.get(field.name.upper())
            if raw is None or raw == "":
                continue
            values[field.name] = int(raw) if field.type == "int" else float(raw) if field.type == "float" else raw
        return cls(**values)

    @classmethod
    def of_stack(cls, path: Path, env: Mapping[str, str] | None = None) -> Settings:
        """The settings a local stack wrote (`write_file`), under those set in `env` (default: the process
        environment); the environment alone when there is no such file."""
        source = os.environ if env is None else env
        written = read_env_file(path) if path.is_file() else {}
        return cls.from_env({**written, **source})

    def write_file(self, path: Path) -> None:
        """Write these settings where the commands run beside a local stack find them (mode 0600)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.chmod(0o600)
        lines = [f"{name}={value}" for name, value in sorted(self.to_env().items())]
        path.write_text(
            "# written by `reporting up`: the settings of the running local stack\n" + "\n".join(lines) + "\n"
        )

    def to_env(self) -> dict[str, str]:
        """The environment variables that reproduce these settings in a child process."""
        return {field.name.upper(): str(getattr(self, field.name)) for field in fields(self)}

    @property
    def postgres_conninfo(self) -> str:
        return (
            f"host={self.postgres_host} port={self.postgres_port} "
            f"dbname={self.postgres_dbname} user={self.postgres_user} "
            f"password={self.postgres_password}"
        )

    def event_store_env(self) -> dict[str, str]:
        """Environment for the `eventsourcing` application (docs/DECISIONS.md, *One event store*)."""
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_HOST": self.postgres_host,
            "POSTGRES_PORT": str(self.postgres_port),
            "POSTGRES_DBNAME": self.postgres_dbname,
            "POSTGRES_USER": self.postgres_user,
            "POSTGRES_PASSWORD": self.postgres_password,
            "POSTGRES_LOCK_TIMEOUT": str(self.postgres_lock_timeout),
            "POSTGRES_POOL_SIZE": str(self.postgres_pool_size),
            # How long to wait for a pooled connection (the library retries 10 times): a
            # database outage becomes a 503 within seconds instead of minutes (default 30 s).
            "POSTGRES_CONNECT_TIMEOUT": "2",
            # Check a pooled connection before use: after a database restart, broken connections
            # are replaced instead of failing (and being retried by the library) one by one.
            "POSTGRES_PRE_PING": "y",
            # The table lock of the default insert path keeps commit order equal to
            # notification order; the DB functions path does not (docs/DECISIONS.md, *One event store*).
            "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
            # `reporting migrate` owns the schema; services never create tables.
            "CREATE_TABLE": "n",
        }
