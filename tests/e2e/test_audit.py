"""On real components: auditors replay history and can prove it was never rewritten.

- tampering with one stored event (and removing another) makes `audit verify --from-store` fail
  naming them, while the Kafka copy still verifies;
- a broker that lost the topic's history makes `audit verify` fail naming what is missing, and
  passes again once the relay republished;
- time travel: a value corrected twice; the as-of view at each of three instants equals what
  the live read model returned at that instant (from the reports API and from the event store);
- the audit trail is filtered, keyset-paged and exported; proofs verify against signed
  checkpoints; `audit replay` equals the live read models and finds a changed one.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from openpyxl import load_workbook

from domain.identity import Role
from domain.merkle import leaf_hash, verify_consistency, verify_inclusion
from entrypoints.cli import main
from infra.db import connect
from infra.integration_events import EventType
from infra.runtime.broker import LocalBroker
from infra.runtime.ports import free_port, wait_until
from infra.settings import Settings
from services.audit.checkpointer import checkpoints_topic, log_origin
from services.audit.signing import SignedCheckpoint, VerifierKey, unb64
from services.audit.verify import _consume
from tests.conftest import Stack, StackFactory
from tests.helpers import auth, form_indicators, open_month, store_events

ALL = ("ingest", "relay", "project", "reports", "checkpoint")


class Cli:
    """`reporting ...` in this process, configured like a service by environment variables."""

    def __init__(self, settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
        self.settings = settings
        self.monkeypatch = monkeypatch
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, str]:
        for name, value in self.settings.to_env().items():
            self.monkeypatch.setenv(name, value)
        self.capsys.readouterr()
        code = main(list(args))
        return code, self.capsys.readouterr().out


def enter(stack: Stack, token: str, values: dict[str, Any], reason: str | None = None) -> int:
    period = open_month()
    body: dict[str, Any] = {"values": [{"indicator": k, "value": v} for k, v in values.items()]}
    if reason:
        body["reason"] = reason
    response = httpx.post(
        f"{stack.ingest_url}/agencies/P01/periods/{period}/values", json=body, headers=auth(token), timeout=30
    )
    assert response.status_code == 200, response.text
    position: int = response.json()["position"]
    return position


def live_report(stack: Stack, token: str, min_position: int) -> dict[str, Any]:
    response = httpx.get(
        f"{stack.reports_url}/agencies/P01/periods/{open_month()}/report",
        params={"min_position": min_position, "wait_ms": 10_000},
        headers=auth(token),
        timeout=15,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def comparable(view: dict[str, Any]) -> dict[str, Any]:
    """A report view with instants as instants (the database may answer in another zone)."""
    return {
        "position": view["position"],
        "values": {
            v["indicator"]: {**v, "recorded_at": datetime.fromisoformat(v["recorded_at"]).astimezone(UTC)}
            for v in view["values"]
        },
    }


def request_checkpoint(stack: Stack, admin: str) -> dict[str, Any]:
    response = httpx.post(
        f"{stack.reports_url}/audit/checkpoints", params={"wait_ms": 10_000}, headers=auth(admin), timeout=15
    )
    assert response.status_code == 201, response.text + stack.services["checkpoint"].log_path.read_text()[-3000:]
    body: dict[str, Any] = response.json()
    return body


def integers(stack: Stack, token: str, count: int) -> list[str]:
    return [i["code"] for i in form_indicators(stack.ingest_url, token, "UNIFIED-PROVINCIAL", open_month(), "integer")][
        :count
    ]


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(settings, monkeypatch, capsys)


def test_verify_from_store_names_a_tampered_and_a_removed_event(stack_factory: StackFactory, cli: Cli) -> None:
    stack = stack_factory(*ALL)
    token, admin = stack.token(Role.AGENCY_REPORTER, "P01"), stack.token(Role.ADMIN)
    codes = integers(stack, token, 4)
    position = enter(stack, token, {code: 1000 + n for n, code in enumerate(codes)})
    checkpoint = request_checkpoint(stack, admin)
    assert checkpoint["last_position"] >= position

    code, out = cli("audit", "verify", "--from-store")
    assert code == 0, out
    assert "OK: the log is consistent" in out

    events = {e.position: e for e in store_events(stack.settings)}
    altered = next(e for e in events.values() if e.indicator == codes[1])
    removed = next(e for e in events.values() if e.indicator == codes[2])
    with connect(stack.settings) as conn:
        changed = conn.execute(
            "UPDATE reporting_events SET state = convert_to(replace(convert_from(state, 'UTF8'),"
            " '\"value\":1001', '\"value\":9001'), 'UTF8') WHERE notification_id = %s",
            (altered.position,),
        ).rowcount
        assert changed == 1
        conn.execute("DELETE FROM reporting_events WHERE notification_id = %s", (removed.position,))

    code, out = cli("audit", "verify", "--from-store")
    assert code == 1, out
    assert f"ALTERED      position {altered.position} event {altered.event_id}" in out
    assert f"REMOVED      position {removed.position} event {removed.event_id}" in out
    assert "FAILED" in out
    # The published copy was not touched: the topic still verifies against the same checkpoints.
    code, out = cli("audit", "verify", "--idle-seconds", "1")
    assert code == 0, out


def test_verify_reports_a_topic_that_lost_its_history(
    stack_factory: StackFactory, settings: Settings, work_dir: Path, tmp_path: Path, cli: Cli
) -> None:
    with LocalBroker(free_port(), log_path=work_dir / f"audit-broker-{settings.postgres_dbname}.log") as private:
        own = replace(settings, kafka_bootstrap_servers=private.bootstrap_servers)
        cli.settings = own
        stack = stack_factory("ingest", "relay", "checkpoint", settings_override=own)
        token = stack.token(Role.AGENCY_REPORTER, "P01")
        position = enter(stack, token, dict.fromkeys(integers(stack, token, 3), 7))
        code, out = cli("audit", "checkpoint")
        assert code == 0, out
        kept = tmp_path / "checkpoint.json"
        kept.write_text(out)  # the auditor keeps what was published
        assert orjson.loads(out)["last_position"] >= position
        wait_until(lambda: relay_cursor(own) >= position, 30, what="relay published everything")
        note = orjson.loads(out)["note"]
        wait_until(lambda: note in topic_checkpoints(own), 30, what="the checkpoint published")
        code, out = cli("audit", "verify", "--idle-seconds", "1")
        assert code == 0, out

        stack.services["relay"].stop()  # no republishing while we look
        private.kill()  # the broker crashes and comes back with an empty log
        private.start()
        code, out = cli("audit", "verify", "--checkpoints", str(kept), "--idle-seconds", "1")
        assert code == 1, out
        first = min(e.position for e in store_events(own))
        assert "ROOT" in out
        assert "the log holds only 0 events" in out
        assert f"REMOVED      position {first} event " in out

        stack.start("relay")  # it notices the empty topic and republishes what is missing
        wait_until(
            lambda: topic_positions(own) >= {e.position for e in store_events(own)}, 60, what="topic republished"
        )
        code, out = cli("audit", "verify", "--checkpoints", str(kept), "--idle-seconds", "1")
        assert code == 0, out
        for service in stack.services.values():  # before their broker goes away
            service.stop()


def topic_checkpoints(settings: Settings) -> set[str]:
    return {orjson.loads(v)["note"] for _, _, v in _consume(settings, checkpoints_topic(settings), idle=0.3)}


def relay_cursor(settings: Settings) -> int:
    with connect(settings) as conn:
        row = conn.execute(
            "SELECT position FROM relay_positions WHERE topic = %s AND partition = -1", (settings.kafka_topic,)
        ).fetchone()
    return int(row[0]) if row else 0


def topic_positions(settings: Settings) -> set[int]:
    return {orjson.loads(v)["position"] for _, _, v in _consume(settings, settings.kafka_topic, idle=0.3)}


def test_time_travel_equals_the_live_view_at_three_instants(stack_factory: StackFactory, cli: Cli) -> None:
    stack = stack_factory("ingest", "relay", "project", "reports")
    token, auditor = stack.token(Role.AGENCY_REPORTER, "P01"), stack.token(Role.AUDITOR)
    first, second = integers(stack, token, 2)
    seen: list[tuple[datetime, dict[str, Any]]] = []
    for n, values in enumerate(({first: 10, second: 20}, {first: 11}, {first: 12, second: 21})):
        position = enter(stack, token, values, reason=f"correction {n}" if n else None)
        live = live_report(stack, token, position)
        seen.append((datetime.now(UTC), live))
    assert [comparable(v)["values"][first]["revision"] for _, v in seen] == [1, 2, 3]
    assert [comparable(v)["values"][first]["value"] for _, v in seen] == [10, 11, 12]

    for instant, live in seen:
        response = httpx.get(
            f"{stack.reports_url}/agencies/P01/periods/{open_month()}/report/as-of",
            params={"at": instant.isoformat()},
            headers=auth(auditor),
            timeout=15,
        )
        assert response.status_code == 200, response.text
        assert comparable(response.json()) == comparable(live)
        by_position = httpx.get(
            f"{stack.reports_url}/agencies/P01/periods/{open_month()}/report/as-of",
            params={"position": live["position"]},
            headers=auth(auditor),
            timeout=15,
        ).json()
        assert comparable(by_position) == comparable(live)
        code, out = cli("audit", "as-of", "P01", open_month().code, "--at", instant.isoformat())
        assert code == 0
        assert comparable(orjson.loads(out)) == comparable(live), "the event store gives the same view"
    # The agency sees its own past, not another agency's.
    other = stack.token(Role.AGENCY_REPORTER, "P79")
    response = httpx.get(
        f"{stack.reports_url}/agencies/P01/periods/{open_month()}/report/as-of",
        params={"position": 1},
        headers=auth(other),
    )
    assert response.status_code == 403


def trail(stack: Stack, token: str, **params: Any) -> Iterator[dict[str, Any]]:
    after = 0
    while True:
        response = httpx.get(
            f"{stack.reports_url}/audit/events", params={**params, "after": after}, headers=auth(token), timeout=15
        )
        assert response.status_code == 200, response.text
        body = response.json()
        yield from body["events"]
        if body["next_after"] is None:
            return
        after = body["next_after"]


def test_audit_trail_proofs_and_replay(stack_factory: StackFactory, cli: Cli) -> None:
    stack = stack_factory(*ALL)
    token, auditor, admin = (
        stack.token(r, a) for r, a in ((Role.AGENCY_REPORTER, "P01"), (Role.AUDITOR, None), (Role.ADMIN, None))
    )
    codes = integers(stack, token, 3)
    enter(stack, token, {codes[0]: 5, codes[1]: 6})
    older = request_checkpoint(stack, admin)
    position = enter(stack, token, {codes[0]: 50, codes[2]: 7}, reason='=HYPERLINK("x") sửa lại')
    live_report(stack, token, position)
    newer = request_checkpoint(stack, admin)
    stored = store_events(stack.settings)

    # The audit trail: everything, in order, keyset-paged; filters; the agency's own view.
    everything = list(trail(stack, auditor, limit=50))
    assert [e["position"] for e in everything] == [e.position for e in stored]
    assert everything[-1] == orjson.loads(stored[-1].to_bytes())
    mine = list(trail(stack, token, agency="P01", limit=2))
    assert [e["position"] for e in mine] == [e.position for e in stored if e.agency == "P01"]
    corrections = list(trail(stack, auditor, event_type=EventType.VALUE_CORRECTED, indicator=codes[0]))
    assert [(e["previous_value"], e["value"], e["reason"]) for e in corrections] == [(5, 50, '=HYPERLINK("x") sửa lại')]
    since = everything[-2]["occurred_at"]
    assert [e["position"] for e in trail(stack, auditor, since=since)] == [e["position"] for e in everything[-2:]]
    assert list(trail(stack, auditor, actor="nobody")) == []
    for params in ({}, {"agency": "P79"}):
        response = httpx.get(f"{stack.reports_url}/audit/events", params=params, headers=auth(token))
        assert response.status_code == 403

    csv = httpx.get(f"{stack.reports_url}/audit/events.csv", params={"agency": "P01"}, headers=auth(auditor)).text
    lines = csv.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("position,occurred_at,event_type,event_id,agency")
    assert len(lines) == 1 + len(mine)
    assert "'=HYPERLINK" in csv  # text never becomes a formula
    xlsx = httpx.get(f"{stack.reports_url}/audit/events.xlsx", params={"agency": "P01"}, headers=auth(auditor))
    sheet = load_workbook(io.BytesIO(xlsx.content), read_only=True)["audit"]
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 1 + len(mine)
    (correction,) = (row for row in rows if row[2] == EventType.VALUE_CORRECTED)
    assert correction[11] == '=HYPERLINK("x") sửa lại'  # still text, not a formula

    # Proofs, checked here with nothing but the public key and domain.merkle.
    keys = httpx.get(f"{stack.reports_url}/audit/public-key", headers=auth(auditor)).json()["keys"]
    key = VerifierKey.parse(keys[0]["vkey"])
    assert key.name == log_origin(stack.settings)
    target = next(e for e in stored if e.agency == "P01")
    proof = httpx.get(
        f"{stack.reports_url}/audit/proofs/inclusion",
        params={"event_id": str(target.event_id), "tree_size": older["tree_size"]},
        headers=auth(token),
    ).json()
    signed = SignedCheckpoint.parse_note(proof["checkpoint"]["note"])
    assert signed.verify(key)
    assert unb64(proof["canonical"]) == target.to_bytes()
    assert verify_inclusion(
        leaf_hash(target.to_bytes()),
        proof["leaf_index"],
        signed.checkpoint.tree_size,
        [unb64(h) for h in proof["proof"]],
        signed.checkpoint.root_hash,
    )
    consistency = httpx.get(
        f"{stack.reports_url}/audit/proofs/consistency",
        params={"first": older["tree_size"], "second": newer["tree_size"]},
        headers=auth(auditor),
    ).json()
    first = SignedCheckpoint.parse_note(consistency["first"]["note"]).checkpoint
    second = SignedCheckpoint.parse_note(consistency["second"]["note"]).checkpoint
    assert older["tree_size"] < newer["tree_size"]
    assert verify_consistency(
        first.tree_size, second.tree_size, first.root_hash, second.root_hash, [unb64(h) for h in consistency["proof"]]
    )
    # Checkpoints are published on Kafka too.
    wait_until(
        lambda: topic_checkpoints(stack.settings) >= {older["note"], newer["note"]}, 30, what="checkpoints on Kafka"
    )

    # Replay: the read models equal a rebuild from the log; a changed read model is found.
    code, out = cli("audit", "replay")
    assert code == 0, out
    assert "same     rm_report_values" in out
    with connect(stack.settings) as conn:
        conn.execute("UPDATE rm_report_values SET value = '999' WHERE agency = 'P01' AND indicator = %s", (codes[2],))
    code, out = cli("audit", "replay", "--from-store")
    assert code == 1, out
    assert "DIFFERS  rm_report_values" in out
