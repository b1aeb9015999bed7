"""The local runtime really starts PostgreSQL and the Tansu broker on free ports.

Each test gets its own cluster or broker (they kill and restart them), in a pytest tmp dir:
LocalPostgres itself makes the folders above the data folder traversable for the `postgres` user.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from psycopg.conninfo import make_conninfo

from infra.runtime.broker import LocalBroker
from infra.runtime.ports import PortInUse, free_port, port_is_free, wait_for_port, wait_until
from infra.runtime.postgres import LocalPostgres, PostgresBinariesMissing


def _gone(pid: int) -> bool:
    """True when the process no longer runs (a zombie awaiting its reaper counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"


@pytest.fixture
def listening_socket() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    with sock:
        yield sock


# -- ports ----------------------------------------------------------------------------------------


def test_wait_until_names_what_it_waited_for() -> None:
    with pytest.raises(TimeoutError, match="the moon"):
        wait_until(lambda: False, 0.05, interval=0.01, what="the moon")


def test_port_helpers(listening_socket: socket.socket) -> None:
    taken = listening_socket.getsockname()[1]
    assert not port_is_free(taken)
    wait_for_port("127.0.0.1", taken, timeout=5)
    assert port_is_free(free_port())


# -- PostgreSQL -----------------------------------------------------------------------------------


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalPostgres]:
    with LocalPostgres(tmp_path / "pg", free_port(), log_path=tmp_path / "pg.log") as server:
        yield server


def test_postgres_accepts_password_connections_with_durable_settings(cluster: LocalPostgres) -> None:
    assert cluster.is_running()
    with psycopg.connect(cluster.conninfo()) as conn:
        me = "SELECT current_user, current_database(), rolsuper FROM pg_roles WHERE rolname = current_user"
        assert conn.execute(me).fetchone() == ("reporting", "reporting", True)
        settings = {
            name: conn.execute(f"SHOW {name}").fetchone()[0]  # type: ignore[index]
            for name in (
                "fsync",
                "synchronous_commit",
                "full_page_writes",
                "server_encoding",
                "listen_addresses",
                "max_connections",
                "shared_buffers",
            )
        }
    assert settings == {
        "fsync": "on",
        "synchronous_commit": "on",
        "full_page_writes": "on",
        "server_encoding": "UTF8",
        "listen_addresses": "127.0.0.1",
        "max_connections": "300",
        "shared_buffers": "512MB",
    }
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(make_conninfo(cluster.conninfo(), password="wrong"), connect_timeout=5)


def test_postgres_create_and_drop_database(cluster: LocalPostgres) -> None:
    cluster.create_database("extra")
    holder = psycopg.connect(cluster.conninfo("extra"))
    holder.execute("CREATE TABLE t (x int)")
    holder.commit()

    cluster.drop_database("extra")  # terminates `holder` rather than waiting for it

    with pytest.raises(psycopg.OperationalError):
        holder.execute("SELECT 1")
    holder.close()
    with psycopg.connect(cluster.conninfo()) as conn:
        assert conn.execute("SELECT count(*) FROM pg_database WHERE datname = 'extra'").fetchone() == (0,)
    cluster.drop_database("extra")  # already gone: no error


def test_postgres_second_start_reuses_the_cluster(tmp_path: Path) -> None:
    data_dir = tmp_path / "pg"
    with LocalPostgres(data_dir, free_port()) as first, psycopg.connect(first.conninfo()) as conn:
        system_id = conn.execute("SELECT system_identifier FROM pg_control_system()").fetchone()
        conn.execute("CREATE TABLE kept (word text)")
        conn.execute("INSERT INTO kept VALUES ('Sở Khoa học và Công nghệ')")
    assert not first.is_running()
    first.stop()  # idempotent

    with LocalPostgres(data_dir, free_port()) as second, psycopg.connect(second.conninfo()) as conn:
        assert conn.execute("SELECT system_identifier FROM pg_control_system()").fetchone() == system_id
        assert conn.execute("SELECT word FROM kept").fetchall() == [("Sở Khoa học và Công nghệ",)]


def test_postgres_recovers_committed_data_after_kill(cluster: LocalPostgres) -> None:
    with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
        conn.execute("CREATE TABLE ledger (n int)")
        conn.execute("INSERT INTO ledger SELECT generate_series(1, 1000)")
    open_tx = psycopg.connect(cluster.conninfo())
    open_tx.execute("INSERT INTO ledger VALUES (-1)")  # never committed
    postmaster = cluster.pid
    assert postmaster is not None

    cluster.kill()

    assert not cluster.is_running()
    assert _gone(postmaster)
    open_tx.close()
    # The pid file stays behind; make its pid a live process that is not PostgreSQL, as after pid reuse.
    pid_file = cluster.data_dir / "postmaster.pid"
    lines = pid_file.read_text().splitlines()
    pid_file.write_text("\n".join([str(os.getpid()), *lines[1:]]) + "\n")

    cluster.start()

    with psycopg.connect(cluster.conninfo()) as conn:
        assert conn.execute("SELECT count(*), min(n), max(n) FROM ledger").fetchone() == (1000, 1, 1000)
    cluster.stop()
    assert not cluster.is_running()


def test_postgres_refuses_a_taken_port(tmp_path: Path, listening_socket: socket.socket) -> None:
    port = listening_socket.getsockname()[1]
    with pytest.raises(PortInUse, match=str(port)):
        LocalPostgres(tmp_path / "pg", port).start()
    assert not (tmp_path / "pg").exists()


def test_postgres_binaries_missing_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PG_BIN", str(empty))
    with pytest.raises(PostgresBinariesMissing, match="apt-get install postgresql") as error:
        LocalPostgres(tmp_path / "pg", free_port()).start()
    assert "PG_BIN" in str(error.value)


# -- broker ---------------------------------------------------------------------------------------


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[LocalBroker]:
    with LocalBroker(free_port(), log_path=tmp_path / "broker.log") as server:
        yield server


def _topics(broker: LocalBroker) -> set[str]:
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
    try:
        return set(admin.list_topics())
    finally:
        admin.close()


def _read_all(broker: LocalBroker, topic: str, expected: int) -> list[tuple[bytes, bytes]]:
    # Assigned, not subscribed: group joins take ~20 s on this broker.
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap_servers, group_id=None, enable_auto_commit=False)
    partition = TopicPartition(topic, 0)
    consumer.assign([partition])
    consumer.seek_to_beginning(partition)
    records: list[tuple[bytes, bytes]] = []

    def drained() -> bool:
        for record in consumer.poll(timeout_ms=200).get(partition, []):
            records.append((record.key, record.value))
        return len(records) >= expected

    try:
        wait_until(drained, 20, interval=0, what=f"{expected} records on {topic}")
    finally:
        consumer.close()
    return records


def test_broker_produces_and_consumes(broker: LocalBroker) -> None:
    assert broker.is_running()
    assert broker.bootstrap_servers == f"127.0.0.1:{broker.port}"
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
    admin.create_topics([NewTopic("runtime.test", num_partitions=1, replication_factor=1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap_servers, acks="all")
    for n in range(3):
        producer.send("runtime.test", key=b"P01", value=f"value {n}".encode()).get(timeout=10)
    producer.close()

    assert _read_all(broker, "runtime.test", 3) == [(b"P01", b"value 0"), (b"P01", b"value 1"), (b"P01", b"value 2")]


def test_broker_restart_loses_the_log(broker: LocalBroker) -> None:
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
    admin.create_topics([NewTopic("doomed", num_partitions=1, replication_factor=1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap_servers, acks="all")
    producer.send("doomed", value=b"lost").get(timeout=10)
    producer.close()
    old_pid = broker.pid
    assert old_pid is not None

    broker.restart()

    assert broker.is_running()
    assert broker.pid != old_pid
    assert "doomed" not in _topics(broker)


def test_broker_stop_and_kill_leave_no_process(broker: LocalBroker) -> None:
    pid = broker.pid
    assert pid is not None
    broker.stop()
    assert not broker.is_running()
    assert broker.pid is None
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)
    broker.stop()  # idempotent

    broker.start()
    pid = broker.pid
    assert pid is not None
    broker.kill()
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)
    assert port_is_free(broker.port)


def test_broker_refuses_a_taken_port(listening_socket: socket.socket) -> None:
    port = listening_socket.getsockname()[1]
    broker = LocalBroker(port)
    with pytest.raises(PortInUse, match=str(port)):
        broker.start()
    assert not broker.is_running()
