"""`reporting tokens`: the settings of the running stack by default, events through the write application,
refusals that say what is wrong and store nothing."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from infra.db import connect
from infra.integration_events import EventType
from infra.runtime.ports import free_port
from infra.settings import STACK_SETTINGS_FILE, Settings
from tests.helpers import store_events, tokens_cli


def test_the_cli_uses_the_stack_settings_and_refuses_what_does_not_exist(settings: Settings, tmp_path: Path) -> None:
    # Where `reporting up --data-dir .local` writes them: the default of `reporting tokens`.
    settings.write_file(tmp_path / ".local" / STACK_SETTINGS_FILE)
    assert (tmp_path / ".local" / STACK_SETTINGS_FILE).stat().st_mode & 0o077 == 0, "readable by its owner only"

    created = tokens_cli(
        "create", "--role", "agency_reporter", "--agency", "P01", "--label", "DHIS2 Hà Nội", cwd=tmp_path
    )
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert secret.startswith("rpt_")
    assert f"{settings.postgres_port} database {settings.postgres_dbname}" in created.stderr
    subject = next(line.split()[1] for line in created.stderr.splitlines() if line.startswith("subject: "))
    with connect(settings) as conn:
        row = conn.execute("SELECT role, agency, label FROM api_tokens WHERE subject = %s", (subject,)).fetchone()
    assert row == ("agency_reporter", "P01", "DHIS2 Hà Nội")
    issued = [e for e in store_events(settings) if e.event_type is EventType.TOKEN_ISSUED]
    assert [(e.data["token"], e.agency, e.actor) for e in issued] == [(subject, "P01", issued[0].actor)]
    assert issued[0].actor is not None
    assert issued[0].actor.startswith("cli:")

    before = len(store_events(settings))
    for args, message in (
        (("--role", "agency_reporter", "--agency", "ZZ99"), "agency ZZ99 does not exist"),
        (("--role", "auditor", "--agency", "P01"), "holds the agency reporter role only"),
        (("--role", "agency_reporter"), "names its agency"),
    ):
        refused = tokens_cli("create", *args, "--label", "x", cwd=tmp_path)
        assert refused.returncode == 2, refused.stderr
        assert message in refused.stderr
        assert refused.stdout == "", "no secret"
    assert len(store_events(settings)) == before, "a refusal stores nothing"

    listed = tokens_cli("list", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert subject in listed.stdout
    assert "DHIS2 Hà Nội" in listed.stdout
    assert secret not in listed.stdout

    revoked = tokens_cli("revoke", subject, "--reason", "đổi hệ thống", cwd=tmp_path)
    assert (revoked.returncode, revoked.stdout.strip()) == (0, f"revoked {subject}")
    again = tokens_cli("revoke", subject, cwd=tmp_path)
    assert (again.returncode, again.stdout.strip()) == (0, f"{subject} was already revoked")
    assert tokens_cli("revoke", "auditor:nobody", cwd=tmp_path).returncode == 1
    assert subject not in tokens_cli("list", "--active", cwd=tmp_path).stdout
    revocations = [e for e in store_events(settings) if e.event_type is EventType.TOKEN_REVOKED]
    assert [(e.data["token"], e.reason) for e in revocations] == [(subject, "đổi hệ thống")]


def test_the_environment_overrides_the_file_and_a_stopped_stack_is_named(settings: Settings, tmp_path: Path) -> None:
    stopped = replace(settings, postgres_port=free_port())  # nothing listens there
    stopped.write_file(tmp_path / "settings.env")
    refused = tokens_cli("--settings", str(tmp_path / "settings.env"), "list", cwd=tmp_path)
    assert refused.returncode == 2
    assert f"PostgreSQL does not answer at 127.0.0.1:{stopped.postgres_port}" in refused.stderr
    assert "is the stack running" in refused.stderr
    # A variable of the environment wins over the file.
    listed = tokens_cli(
        "--settings",
        str(tmp_path / "settings.env"),
        "list",
        cwd=tmp_path,
        env={"POSTGRES_PORT": str(settings.postgres_port)},
    )
    assert listed.returncode == 0, listed.stderr
