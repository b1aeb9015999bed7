"""The migrations the composition root collects: every folder's files, in file-name order, names unique."""

from __future__ import annotations

from pathlib import Path

import pytest

from entrypoints.bootstrap import migration_sources
from infra.migrate import migration_files


def test_the_read_models_migrations_keep_their_names_and_order() -> None:
    versions = [version for version, _ in migration_files(migration_sources())]
    assert versions == [
        "0001_event_store",
        "0002_report_view",
        "0040_reference_data",
        "0041_rollups",
        "0042_compliance",
        "0043_compliance_review",
        "0044_compliance_versions",
        "0050_audit_trail",
        "0051_transparency_log",
        "0060_token_revocation",
        "0070_people",
        "0071_session_clients",
        "0072_access",
        "0080_imports",
        "0081_agency_electronic_codes",
        "0082_rate_limit_buckets",
        "0090_audit_trail_no_event_index",
        "0091_rollup_years",
    ]


def test_two_migrations_of_one_name_are_refused(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "0001_same.sql").write_text("SELECT 1;")
    with pytest.raises(ValueError, match=r"0001_same\.sql"):
        migration_files([tmp_path / "a", tmp_path / "b"])
