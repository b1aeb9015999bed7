"""A private PostgreSQL cluster in a data folder, started and stopped with initdb and pg_ctl.

PostgreSQL refuses to run as root, so when we are root every server binary runs as the
`postgres` system user (via runuser); the data folder is then owned by that user and every
folder above it is made traversable for it (o+x, never read).
"""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from infra.runtime.ports import PortInUse, port_is_free, wait_until

log = logging.getLogger(__name__)

BINARIES = ("initdb", "pg_ctl", "postgres")
SERVER_USER = "postgres"
START_TIMEOUT = 300  # seconds; crash recovery replays the WAL since the last checkpoint
STOP_TIMEOUT = 60
SETTINGS_FILE = "reporting.conf"
# Unix socket paths are limited to 108 bytes (sun_path); longer ones make the server fail to start.
MAX_SOCKET_PATH = 100

# Sized for a 2-core, 24 GiB machine taking many small write transactions. Durability stays on:
# it is tested by killing processes.
TUNING: dict[str, str] = {
    "max_connections": "300",
    "shared_buffers": "512MB",
    "effective_cache_size": "16GB",
    "work_mem": "16MB",
    "maintenance_work_mem": "256MB",
    "wal_buffers": "32MB",
    "min_wal_size": "512MB",
    "max_wal_size": "2GB",
    "checkpoint_timeout": "10min",
    "checkpoint_completion_target": "0.9",
    "fsync": "on",
    "synchronous_commit": "on",
    "full_page_writes": "on",
    "random_page_cost": "1.1",
    "effective_io_concurrency": "200",
    "max_worker_processes": "4",
    "max_parallel_workers": "2",
    "max_parallel_workers_per_gather": "1",
    # JIT compilation costs more than it saves on short queries with tight latency targets.
    "jit": "off",
    "log_lock_waits": "on",
}

HBA = """\
# Written by infra.runtime.postgres on every start: password authentication everywhere.
local   all          all                 scram-sha-256
host    all          all   0.0.0.0/0     scram-sha-256
host    all          all   ::/0          scram-sha-256
local   replication  all                 scram-sha-256
host    replication  all   0.0.0.0/0     scram-sha-256
host    replication  all   ::/0          scram-sha-256
"""


class PostgresBinariesMissing(RuntimeError):
    """initdb/pg_ctl/postgres were not found."""

    def __init__(self, detail: str) -> None:
        super().__init__(
            f"PostgreSQL server binaries (initdb, pg_ctl, postgres) not found: {detail}. "
            "Install them (Debian/Ubuntu: `apt-get install postgresql`) "
            "or set PG_BIN to the folder holding initdb and pg_ctl."
        )


def find_bin_dir() -> Path:
    """The folder of the PostgreSQL server binaries: $PG_BIN, the newest Debian install, pg_config, PATH."""
    override = os.environ.get("PG_BIN")
    if override:
        # An explicit choice is never silently replaced by another install.
        if _has_binaries(Path(override)):
            return Path(override)
        raise PostgresBinariesMissing(f"PG_BIN={override!r} does not hold {', '.join(BINARIES)}")
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True)
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=10)
            candidates.append(Path(out.stdout.strip()))
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    for candidate in candidates:
        if _has_binaries(candidate):
            return candidate
    raise PostgresBinariesMissing("looked in /usr/lib/postgresql/*/bin, `pg_config --bindir` and PATH")


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.parent.name)) or (0,)


def _has_binaries(folder: Path) -> bool:
    return all(os.access(folder / name, os.X_OK) and (folder / name).is_file() for name in BINARIES)


def _process_alive(pid: int) -> bool:
    """True for a live (not zombie) process."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        # Field 3 of /proc/PID/stat is the state; "Z" is a zombie waiting for its parent.
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def _is_postgres(pid: int) -> bool:
    if not Path("/proc").is_dir():
        return True  # no way to tell without procfs: trust the pid file
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == "postgres"
    except OSError:
        return False


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def _conf_value(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class LocalPostgres:
    """A private PostgreSQL cluster in `data_dir`, listening on host:port with password auth.

    The server's output goes to `log_path`, by default a `<data_dir name>.log` file next to the data folder
    (not inside it: initdb wants an empty folder).
    """

    def __init__(
        self,
        data_dir: Path,
        port: int,
        *,
        host: str = "127.0.0.1",
        user: str = "reporting",
        password: str = "reporting",  # noqa: S107 - a local default
        dbname: str = "reporting",
        log_path: Path | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.port = port
        self.host = host
        self.user = user
        self.password = password
        self.dbname = dbname
        self.log_path = log_path if log_path is not None else self.data_dir.parent / f"{self.data_dir.name}.log"
        self._bin: Path | None = None

    # -- context manager -------------------------------------------------------------------------

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Initialise the cluster if needed, start it, and create the role and database on first start."""
        self._bin = find_bin_dir()
        running = self._postmaster_pid()
        if running is not None:
            if self._pid_file_port() == self.port:
                self._ensure_database()  # already ours, e.g. left by a process that died without stopping it
                return
            self.stop()  # running on another port: restart with the current settings
        if not port_is_free(self.port, self.host):
            raise PortInUse(self.port, self.host, "PostgreSQL")
        self._prepare_data_dir()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        self._write_settings()
        self._remove_stale_lock_files()
        with self._open_log() as log_file:
            result = subprocess.run(
                [*self._cmd("pg_ctl"), "start", "-w", "-t", str(START_TIMEOUT), "-D", str(self.data_dir)],
                stdin=subprocess.DEVNULL,
                # The server inherits this descriptor: its output lands in our log file, whoever owns it.
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=self._env(),
                cwd="/",
                start_new_session=True,
                check=False,
            )
        if result.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not start (pg_ctl exit {result.returncode}):\n{self._log_tail()}")
        try:
            self._ensure_database()
        except BaseException:
            self.stop()  # a half-started cluster would outlive us: __exit__ does not run when __enter__ fails
            raise

    def stop(self) -> None:
        """Fast shutdown (open transactions roll back, then a checkpoint); nothing to do when not running."""
        pid = self._postmaster_pid()
        if pid is None:
            return
        # SIGINT is PostgreSQL's fast shutdown, what `pg_ctl stop -m fast` sends; it needs no binaries.
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)
        try:
            wait_until(lambda: not _process_alive(pid), STOP_TIMEOUT, interval=0.02, what="PostgreSQL to stop")
        except TimeoutError:
            log.warning("PostgreSQL did not stop within %s s; killing it", STOP_TIMEOUT)
            self.kill()

    def kill(self) -> None:
        """SIGKILL the postmaster and its children at once, as a machine crash would; start() then recovers."""
        pid = self._postmaster_pid()
        if pid is None:
            return
        # Frozen, the postmaster forks no new child while we collect the ones it has.
        os.kill(pid, signal.SIGSTOP)
        victims = [pid, *_children(pid)]
        for victim in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim, signal.SIGKILL)
        # A new server refuses to start while an old process still holds the shared memory.
        wait_until(
            lambda: not any(_process_alive(v) for v in victims), STOP_TIMEOUT, what="killed PostgreSQL processes"
        )

    def is_running(self) -> bool:
        return self._postmaster_pid() is not None

    @property
    def pid(self) -> int | None:
        """The postmaster's pid while the cluster runs."""
        return self._postmaster_pid()

    # -- databases ---------------------------------------------------------------------------------

    def conninfo(self, dbname: str | None = None) -> str:
        """A libpq key=value connection string for this server."""
        return make_conninfo(
            host=self.host, port=self.port, dbname=dbname or self.dbname, user=self.user, password=self.password
        )

    def create_database(self, name: str, *, exist_ok: bool = False) -> None:
        with self._admin() as conn:
            if exist_ok and conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                return
            conn.execute(sql.SQL("CREATE DATABASE {} ENCODING 'UTF8'").format(sql.Identifier(name)))

    def drop_database(self, name: str) -> None:
        """Drop the database if it exists, terminating its connections first."""
        with self._admin() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    # -- internals ---------------------------------------------------------------------------------

    def _admin(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.conninfo("postgres"), autocommit=True, connect_timeout=10)

    def _ensure_database(self) -> None:
        if self.dbname != "postgres":
            self.create_database(self.dbname, exist_ok=True)

    def _server_user(self) -> pwd.struct_passwd | None:
        """The system user the server runs as when we are root; None when it runs as us."""
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam(SERVER_USER)
        except KeyError:
            raise RuntimeError(
                f"PostgreSQL refuses to run as root and there is no {SERVER_USER!r} system user to run it as "
                "(the Debian package `postgresql` creates it); run as an ordinary user instead"
            ) from None

    def _cmd(self, binary: str) -> list[str]:
        assert self._bin is not None
        prefix = ["runuser", "-u", SERVER_USER, "--"] if self._server_user() is not None else []
        return [*prefix, str(self._bin / binary)]

    def _env(self) -> dict[str, str]:
        # PG* variables of the caller (PGDATA, PGPORT, PGOPTIONS...) must not steer our private cluster.
        return {k: v for k, v in os.environ.items() if not k.startswith("PG")}

    def _prepare_data_dir(self) -> None:
        fresh = not (self.data_dir / "PG_VERSION").exists()
        if fresh and self.data_dir.exists() and any(self.data_dir.iterdir()):
            raise RuntimeError(f"{self.data_dir} is neither empty nor a PostgreSQL cluster; choose another folder")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        owner = self._server_user()
        if owner is not None:
            if self.data_dir.stat().st_uid != owner.pw_uid:
                for root, dirs, files in os.walk(self.data_dir):
                    for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
                        os.chown(name, owner.pw_uid, owner.pw_gid, follow_symlinks=False)
            self._make_parents_traversable(owner)
        # initdb and the server insist on 0700 (or 0750).
        self.data_dir.chmod(0o700)

    def _make_parents_traversable(self, owner: pwd.struct_passwd) -> None:
        groups = {owner.pw_gid, *os.getgrouplist(owner.pw_name, owner.pw_gid)}
        for parent in self.data_dir.parents:
            st = parent.stat()
            if st.st_uid == owner.pw_uid:
                ok = bool(st.st_mode & stat.S_IXUSR)
            elif st.st_gid in groups:
                ok = bool(st.st_mode & stat.S_IXGRP)
            else:
                ok = bool(st.st_mode & stat.S_IXOTH)
            if not ok:
                # Search permission only (no listing), so the server user can reach its data folder.
                log.warning("granting o+x on %s so that the %s user can reach %s", parent, owner.pw_name, self.data_dir)
                parent.chmod(stat.S_IMODE(st.st_mode) | stat.S_IXOTH)

    def _initdb(self) -> None:
        owner = self._server_user()
        fd, pwfile = tempfile.mkstemp(prefix=".pgpass-", dir=self.data_dir.parent)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(self.password + "\n")
            if owner is not None:
                os.chown(pwfile, owner.pw_uid, owner.pw_gid)
            result = subprocess.run(
                [
                    *self._cmd("initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    self.user,
                    f"--pwfile={pwfile}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    f"--locale={_locale()}",
                ],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                env=self._env(),
                cwd="/",
                check=False,
            )
        finally:
            os.unlink(pwfile)
        output = (result.stdout + result.stderr).decode(errors="replace")
        with self._open_log() as log_file:
            log_file.write(output.encode())
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed (exit {result.returncode}):\n{output}")
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write(f"\n# Settings of the reporting service, rewritten on every start.\ninclude '{SETTINGS_FILE}'\n")

    def _write_settings(self) -> None:
        socket_dir = str(self.data_dir)
        if len(f"{socket_dir}/.s.PGSQL.{self.port}") > MAX_SOCKET_PATH:
            socket_dir = ""  # too long for a unix socket: TCP only
        settings = {
            "listen_addresses": self.host,
            "port": str(self.port),
            "unix_socket_directories": socket_dir,
            "password_encryption": "scram-sha-256",
            **TUNING,
        }
        body = "".join(f"{key} = {_conf_value(value)}\n" for key, value in settings.items())
        self._write_owned(self.data_dir / SETTINGS_FILE, body)
        self._write_owned(self.data_dir / "pg_hba.conf", HBA)

    def _write_owned(self, path: Path, text: str) -> None:
        path.write_text(text)
        path.chmod(0o600)
        owner = self._server_user()
        if owner is not None:
            os.chown(path, owner.pw_uid, owner.pw_gid)

    def _read_pid_file(self) -> list[str]:
        try:
            return (self.data_dir / "postmaster.pid").read_text().splitlines()
        except (OSError, UnicodeDecodeError):
            return []

    def _postmaster_pid(self) -> int | None:
        """The pid of this cluster's live postmaster, or None."""
        lines = self._read_pid_file()
        try:
            pid = int(lines[0])
        except (IndexError, ValueError):
            return None
        return pid if _process_alive(pid) and _is_postgres(pid) else None

    def _pid_file_port(self) -> int | None:
        lines = self._read_pid_file()
        try:
            return int(lines[3])
        except (IndexError, ValueError):
            return None

    def _remove_stale_lock_files(self) -> None:
        # The server ignores a lock file whose pid is gone, but not one whose pid is a zombie not yet reaped
        # (slow init in containers), nor one whose pid was reused by an unrelated process: it would refuse to start.
        for lock in [self.data_dir / "postmaster.pid", *self.data_dir.glob(".s.PGSQL.*.lock")]:
            try:
                pid = int(lock.read_text().splitlines()[0])
            except (OSError, IndexError, ValueError, UnicodeDecodeError):
                pid = 0
            if lock.exists() and not (pid > 0 and _process_alive(pid) and _is_postgres(pid)):
                log.info("removing stale lock file %s", lock)
                lock.unlink(missing_ok=True)

    def _open_log(self) -> IO[bytes]:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        return open(self.log_path, "ab")

    def _log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return f"(no log at {self.log_path})"
        return "\n".join(text.splitlines()[-lines:]) + f"\n(full log: {self.log_path})"


def _locale() -> str:
    """C.UTF-8 where the system has it (byte-order collation, UTF-8 character classes), else C."""
    try:
        names = subprocess.run(["locale", "-a"], capture_output=True, text=True, check=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "C"
    available = {name.strip().lower().replace("-", "") for name in names.splitlines()}
    return "C.UTF-8" if "c.utf8" in available else "C"
