"""Imports through the API on the real stack: every format from hand-written fixtures, exact counts and
rejections, the events they store (each naming its file), the file kept for auditors, refusals.

Fixtures: tests/fixtures/interchange (the codecs' own; DHIS2 and ADX through their code mapping,
installed with DHIS2_MAPPINGS_DIR) and tests/fixtures/imports (written against the seed registry's
electronic identifier codes).
"""

from __future__ import annotations

import hashlib
import io
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest

from domain.identity import Role
from infra.db import connect
from infra.integration_events import VALUE_EVENTS
from infra.settings import Settings
from tests.conftest import Stack, StackFactory
from tests.helpers import auth, store_events

ROOT = Path(__file__).resolve().parents[2]
CODECS = ROOT / "tests" / "fixtures" / "interchange"
FIXTURES = ROOT / "tests" / "fixtures" / "imports"
PERIOD = "2026-10"  # the fixtures' month: open for entry (its window started on 2026-09-15)
FIXTURE_MAPPING = "VnTtttBc001"  # tests/fixtures/interchange/dhis2_mapping.json
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def importing(stack_factory: StackFactory, settings: Settings, tmp_path: Path) -> Stack:
    """The write API and an import worker, with the fixtures' DHIS2 code mapping beside the shipped one."""
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    shutil.copy(CODECS / "dhis2_mapping.json", mappings / "fixtures.json")
    chosen = replace(settings, dhis2_mappings_dir=str(mappings), max_upload_bytes=200_000)
    return stack_factory("ingest", "import-worker", settings_override=chosen)


def upload(
    stack: Stack,
    token: str,
    data: bytes,
    media_type: str,
    *,
    wait: bool = True,
    **params: Any,
) -> httpx.Response:
    query = {key: str(value).lower() if isinstance(value, bool) else str(value) for key, value in params.items()}
    if wait:
        query["wait_ms"] = "10000"
    query.setdefault("filename", "tệp-nhập.dat")
    return httpx.post(
        f"{stack.ingest_url}/imports",
        content=data,
        params=query,
        headers={**auth(token), "Content-Type": media_type},
        timeout=30,
    )


def finished(stack: Stack, token: str, data: bytes, media_type: str, **params: Any) -> dict[str, Any]:
    response = upload(stack, token, data, media_type, **params)
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()
    assert job["status"] == "done", job
    return job


def rejections(stack: Stack, token: str, job: dict[str, Any]) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{stack.ingest_url}/imports/{job['id']}/rejections", params={"limit": 1000}, headers=auth(token)
    )
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["rejections"]
    return found


def counts(job: dict[str, Any]) -> tuple[int, int, int, int]:
    summary = job["summary"]
    return summary["stored"], summary["corrected"], summary["unchanged"], summary["rejected"]


def value_events_of(stack: Stack, data: bytes) -> list[Any]:
    source = "sha256:" + hashlib.sha256(data).hexdigest()
    return [e for e in store_events(stack.settings) if e.event_type in VALUE_EVENTS and e.data.get("source") == source]


def test_our_csv_one_agency_month_and_the_file_kept_for_auditors(importing: Stack) -> None:
    stack = importing
    token = stack.token(Role.AGENCY_REPORTER, "P01")
    data = (CODECS / "values.csv").read_bytes()
    job = finished(stack, token, data, "text/csv", period=PERIOD)
    assert job["summary"]["outcome"] == "imported"
    assert counts(job) == (6, 0, 0, 0)
    assert job["file"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert job["file"]["filename"] == "tệp-nhập.dat"
    events = value_events_of(stack, data)
    assert len(events) == 6
    assert {(e.agency, e.period) for e in events} == {("P01", PERIOD)}
    assert job["summary"]["position"] == max(e.position for e in events)
    # An auditor goes from an event's source to the file and the imports that read it.
    auditor = stack.token(Role.AUDITOR)
    sha = events[0].data["source"].removeprefix("sha256:")
    file = httpx.get(f"{stack.ingest_url}/imports/files/{sha}", headers=auth(auditor))
    assert file.status_code == 200, file.text
    assert [item["id"] for item in file.json()["imports"]] == [job["id"]]
    content = httpx.get(f"{stack.ingest_url}/imports/files/{sha}/content", headers=auth(auditor))
    assert content.content == data
    other = stack.token(Role.AGENCY_REPORTER, "P79")
    assert httpx.get(f"{stack.ingest_url}/imports/files/{sha}", headers=auth(other)).status_code == 403
    assert httpx.get(f"{stack.ingest_url}/imports/{job['id']}", headers=auth(other)).status_code == 403

    # The same file with the same request: the first import's answer, and nothing stored.
    before = len(store_events(stack.settings))
    again = upload(stack, token, data, "text/csv", period=PERIOD)
    assert again.status_code == 200
    assert again.json()["repeated"] is True
    assert again.json()["id"] == job["id"]
    assert len(store_events(stack.settings)) == before


def test_a_partly_invalid_csv_best_effort_and_all_or_nothing(importing: Stack) -> None:
    stack = importing
    token = stack.token(Role.AGENCY_REPORTER, "P01")
    data = (CODECS / "values_partly_invalid.csv").read_bytes()
    refused = finished(stack, token, data, "text/csv", mode="all_or_nothing")
    assert refused["summary"]["outcome"] == "refused"
    assert counts(refused)[0] == 0
    assert value_events_of(stack, data) == []
    job = finished(stack, token, data, "text/csv", mode="best_effort")
    found = {r["location"]: r for r in rejections(stack, token, job)}
    assert found["row 3"]["code"] == "duplicate-value"
    assert found["row 7"]["code"] == "out-of-range"
    assert found["row 7"]["indicator"] == "TEL.HOUSEHOLDS_FIBRE_PCT"
    assert found["row 8"]["code"] == "ambiguous-number"
    assert found["row 11"]["code"] == "empty-value"
    stored, corrected, unchanged, rejected = counts(job)
    assert rejected == len(found) == refused["summary"]["rejected"]
    assert stored == len(value_events_of(stack, data)) > 0
    assert (corrected, unchanged) == (0, 0)
    assert stored + rejected == job["summary"]["rows"]
    assert job["summary"]["outcome"] == "partly_imported"


@pytest.mark.parametrize(
    ("name", "media_type", "location", "code"),
    [
        ("values_wrong_header.csv", "text/csv", "row 1", "wrong-header"),
        ("values_utf16.csv", "text/csv", "document", "unsupported-encoding"),
    ],
)
def test_a_csv_refused_whole(importing: Stack, name: str, media_type: str, location: str, code: str) -> None:
    token = importing.token(Role.AGENCY_REPORTER, "P01")
    job = finished(importing, token, (CODECS / name).read_bytes(), media_type, format="csv", period=PERIOD)
    assert job["summary"]["outcome"] == "refused"
    assert [(r["location"], r["code"]) for r in rejections(importing, token, job)] == [(location, code)]


def test_a_malformed_csv_keeps_what_came_before_the_break(importing: Stack) -> None:
    token = importing.token(Role.AGENCY_REPORTER, "P01")
    data = (FIXTURES / "values_unclosed_quote.csv").read_bytes()
    job = finished(importing, token, data, "text/csv", period=PERIOD, mode="best_effort")
    (broken,) = rejections(importing, token, job)
    assert (broken["location"], broken["code"]) == ("document", "invalid-csv")
    assert counts(job) == (0, 0, 0, 1)


def test_dhis2_json_csv_and_adx_through_the_code_mapping(importing: Stack) -> None:
    stack = importing
    token = stack.token(Role.AGENCY_REPORTER, "P01")
    json_doc = (CODECS / "dhis2_values.json").read_bytes()
    job = finished(
        stack, token, json_doc, "application/json", format="dhis2-json", mapping=FIXTURE_MAPPING, mode="best_effort"
    )
    # Seven values of Hà Nội (P01) are stored; the Cao Bằng value is another agency's.
    assert counts(job) == (7, 0, 0, 1)
    (other,) = rejections(stack, token, job)
    assert (other["location"], other["code"], other["agency"]) == ("dataValues[7]", "not-allowed", "P04")
    dhis2 = httpx.get(f"{stack.ingest_url}/imports/{job['id']}", params={"shape": "dhis2"}, headers=auth(token))
    assert dhis2.json()["importCount"] == {"imported": 7, "updated": 0, "ignored": 1, "deleted": 0}
    assert dhis2.json()["status"] == "WARNING"
    assert dhis2.json()["conflicts"][0]["object"] == "dataValues[7]"

    # The CSV says the same of the same values (one more: a boolean changed), ADX too.
    csv_doc = (CODECS / "dhis2_values.csv").read_bytes()
    job = finished(stack, token, csv_doc, "text/csv", format="dhis2-csv", mapping=FIXTURE_MAPPING, mode="best_effort")
    stored, corrected, unchanged, rejected = counts(job)
    assert (stored, corrected, unchanged) == (1, 1, 3)
    assert {r["code"] for r in rejections(stack, token, job)} == {"not-allowed", "wrong-type", "invalid-period"}
    assert rejected == 3
    adx = (CODECS / "adx_values.xml").read_bytes()
    job = finished(stack, token, adx, "application/adx+xml", mapping=FIXTURE_MAPPING, mode="best_effort")
    assert counts(job)[1:3] == (1, 4)  # DX.HAS_APPROVED_PLAN back to true; the rest as stored

    partly = finished(
        stack,
        token,
        (CODECS / "adx_partly_invalid.xml").read_bytes(),
        "application/adx+xml",
        mapping=FIXTURE_MAPPING,
        mode="best_effort",
    )
    codes = {r["location"]: r["code"] for r in rejections(stack, token, partly)}
    assert codes["group 1 / dataValue 2"] == "out-of-range"
    assert codes["group 1 / dataValue 3"] == "unsupported-disaggregation"
    assert codes["group 2 / dataValue 1"] == "wrong-data-set"
    refused = finished(
        stack, token, (CODECS / "adx_doctype.xml").read_bytes(), "application/adx+xml", mapping=FIXTURE_MAPPING
    )
    assert [r["code"] for r in rejections(stack, token, refused)] == ["forbidden-xml"]
    malformed = finished(
        stack,
        token,
        (CODECS / "dhis2_malformed.json").read_bytes(),
        "application/json",
        format="dhis2-json",
        mapping=FIXTURE_MAPPING,
    )
    assert [r["code"] for r in rejections(stack, token, malformed)] == ["invalid-json"]
    other_set = finished(
        stack,
        token,
        (CODECS / "dhis2_other_data_set.json").read_bytes(),
        "application/json",
        format="dhis2-json",
        mapping=FIXTURE_MAPPING,
    )
    assert [r["code"] for r in rejections(stack, token, other_set)] == ["wrong-data-set"]


def test_the_national_feed_names_agencies_by_their_electronic_codes(importing: Stack) -> None:
    stack = importing
    token = stack.token(Role.AGENCY_REPORTER, "P01")
    data = (FIXTURES / "national_figures.json").read_bytes()
    job = finished(stack, token, data, "application/json", format="national-report-figures", mode="best_effort")
    found = {r["location"]: (r["code"], r["agency"]) for r in rejections(stack, token, job)}
    assert found == {
        "reports[0].figures[3]": ("invalid-value", None),  # a decimal as a JSON number: not exact
        "reports[0].figures[4]": ("unknown-indicator", None),
        "reports[1].figures[0]": ("not-allowed", "P79"),  # 000.00.00.H29 is Ho Chi Minh City's
        "reports[2].figures[0]": ("unmapped-agency", None),
    }
    assert counts(job) == (3, 0, 0, 4)
    assert {e.agency for e in value_events_of(stack, data)} == {"P01"}


def fill(workbook: bytes, values: dict[str, object]) -> bytes:
    book = openpyxl.load_workbook(io.BytesIO(workbook))
    sheet = book["Số liệu"]
    for row in sheet.iter_rows(min_row=6):
        if row[1].value in values:
            row[7].value = values[str(row[1].value)]
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_the_template_workbook_round_trip_and_a_workbook_of_another_month(importing: Stack) -> None:
    stack = importing
    token = stack.token(Role.AGENCY_REPORTER, "P01")
    template = httpx.get(f"{stack.ingest_url}/agencies/P01/periods/{PERIOD}/template.xlsx", headers=auth(token))
    assert template.status_code == 200, template.text
    assert template.headers["content-type"] == XLSX
    filled = fill(template.content, {"TEL.MOBILE_SUBSCRIBERS": 8450123, "TEL.HOUSEHOLDS_FIBRE_PCT": 120})
    dry = finished(stack, token, filled, XLSX, dry_run=True, period=PERIOD)
    (error,) = rejections(stack, token, dry)
    assert (error["code"], error["indicator"]) == ("out-of-range", "TEL.HOUSEHOLDS_FIBRE_PCT")
    assert error["location"].startswith("Sheet 'Số liệu', cell H")
    assert dry["summary"]["dry_run"] is True
    assert value_events_of(stack, filled) == []
    fixed = fill(template.content, {"TEL.MOBILE_SUBSCRIBERS": 8450123, "TEL.HOUSEHOLDS_FIBRE_PCT": 93.5})
    job = finished(stack, token, fixed, XLSX, period=PERIOD)
    assert counts(job) == (2, 0, 0, 0)
    # A workbook made for September, uploaded for October: refused whole, nothing stored.
    september = httpx.get(f"{stack.ingest_url}/agencies/P01/periods/2026-09/template.xlsx", headers=auth(token))
    wrong = fill(september.content, {"TEL.MOBILE_SUBSCRIBERS": 1})
    refused = finished(stack, token, wrong, XLSX, period=PERIOD)
    assert [(r["location"], r["code"]) for r in rejections(stack, token, refused)] == [("workbook", "wrong-period")]
    assert value_events_of(stack, wrong) == []


def test_uploads_refused_before_any_job(importing: Stack) -> None:
    stack = importing
    token = stack.token(Role.AGENCY_REPORTER, "P01")
    data = (CODECS / "values.csv").read_bytes()

    def refused(status: int, code: str, response: httpx.Response) -> None:
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == code

    refused(422, "format-required", upload(stack, token, b"{}", "application/json", wait=False))
    refused(422, "unknown-mapping", upload(stack, token, data, "text/csv", format="dhis2-csv", mapping="Nope"))
    refused(422, "unknown-mapping", upload(stack, token, data, "text/csv", format="dhis2-csv"))  # two configured
    refused(422, "period-not-open", upload(stack, token, data, "text/csv", period="2099-01"))
    refused(422, "invalid-period", upload(stack, token, data, "text/csv", period="2026Q3"))
    refused(422, "empty-file", upload(stack, token, b"", "text/csv", period=PERIOD))
    refused(403, "forbidden", upload(stack, stack.token(Role.MINISTRY_REVIEWER), data, "text/csv", period=PERIOD))
    refused(413, "body-too-large", upload(stack, token, b"x" * (stack.settings.max_upload_bytes + 1), "text/csv"))
    with connect(stack.settings) as conn:
        assert conn.execute("SELECT count(*) FROM import_jobs").fetchone() == (0,)


def test_a_multipart_upload_is_the_same_import(importing: Stack) -> None:
    token = importing.token(Role.AGENCY_REPORTER, "P01")
    data = (CODECS / "values.csv").read_bytes()
    response = httpx.post(
        f"{importing.ingest_url}/imports",
        params={"period": PERIOD, "wait_ms": 10_000},
        files={"file": ("số-liệu.csv", data, "text/csv")},
        headers=auth(token),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.json()["file"]["filename"] == "số-liệu.csv"
    assert counts(response.json()) == (6, 0, 0, 0)
