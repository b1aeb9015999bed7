"""Imports through the job path, against the JSON API in the same run, with the importing process's peak memory.

    python -m bench.imports --indicators 400 --months 250 --workbook-agencies 34

1. A 100,000-value CSV (one agency: 400 indicators x 250 months, as an agency's history or another
   system's export holds it) uploaded to `POST /imports` (best effort) and run by `reporting
   import-worker`: values/s from the upload to the job's end. Baseline: the same values posted to
   the JSON API (`POST .../values`, one request per month, as one client), another agency.
2. Template workbooks of 34 agencies (200 indicators each, filled as a clerk would, with openpyxl):
   downloaded, uploaded (all or nothing), imported; against the same values over the JSON API.
3. Peak resident memory (VmHWM) of the import worker and of the API process.
"""

from __future__ import annotations

import argparse
import io
import os
import time
from dataclasses import replace
from datetime import date
from typing import Any

import httpx
import openpyxl

from bench.environment import agency_codes, bench_settings, issue_tokens, load_form, load_national_reference
from bench.report import record
from domain.identity import Role
from domain.periods import Period
from infra.runtime.ports import free_port, wait_until
from infra.runtime.processes import Service, http_ready, log_path
from infra.settings import Settings

FIRST = Period.parse("2000-01")
HISTORY_TEMPLATE = "BENCH-HISTORY"
IMPORTER, POSTER = "BENCH-IMPORT", "BENCH-JSON"
WORKBOOK_MONTH, JSON_MONTH = "2025-01", "2025-02"


def history_reference(settings: Settings, indicators: int) -> list[str]:
    """Two agencies reporting `indicators` integer indicators a month since 2000."""
    codes = [f"HIST.I{n:03d}" for n in range(indicators)]
    load_form(
        settings, HISTORY_TEMPLATE, codes, (IMPORTER, POSTER), since=FIRST, registered=date(2000, 1, 1), backfill=True
    )
    return codes


def months(count: int) -> list[str]:
    result, month = [], FIRST
    for _ in range(count):
        result.append(month.code)
        month = month.next()
    return result


def peak_rss_mib(service: Service) -> float:
    """The process's peak resident set (VmHWM), in MiB: the high-water mark since it started."""
    assert service.process is not None
    with open(f"/proc/{service.process.pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def wait_done(client: httpx.Client, url: str, token: str, job_ids: list[str], timeout: float) -> list[dict[str, Any]]:
    done: dict[str, dict[str, Any]] = {}

    def finished() -> bool:
        for job_id in job_ids:
            if job_id in done:
                continue
            job = client.get(f"{url}/imports/{job_id}", headers={"Authorization": f"Bearer {token}"}).json()
            if job["status"] == "failed":
                raise SystemExit(f"import {job_id} failed: {job['error']}")
            if job["status"] == "done":
                done[job_id] = job
        return len(done) == len(job_ids)

    wait_until(finished, timeout, interval=0.1, what="imports done")
    return [done[job_id] for job_id in job_ids]


def post_json(client: httpx.Client, url: str, token: str, agency: str, period: str, values: dict[str, int]) -> None:
    response = client.post(
        f"{url}/agencies/{agency}/periods/{period}/values",
        json={"values": [{"indicator": code, "value": value} for code, value in values.items()]},
        headers={"Authorization": f"Bearer {token}"},
    )
    if response.status_code != 200:
        raise SystemExit(f"{response.status_code}: {response.text[:300]}")


def fill(workbook: bytes, values: dict[str, int]) -> bytes:
    book = openpyxl.load_workbook(io.BytesIO(workbook))
    sheet = book["Số liệu"]
    for row in sheet.iter_rows(min_row=6):
        if row[1].value in values:
            row[7].value = values[str(row[1].value)]
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--indicators", type=int, default=400)
    parser.add_argument("--months", type=int, default=250)
    parser.add_argument("--workbook-agencies", type=int, default=34)
    parser.add_argument("--workbook-indicators", type=int, default=200)
    args = parser.parse_args()
    with bench_settings() as settings:
        codes = history_reference(settings, args.indicators)
        load_national_reference(settings, args.workbook_agencies, args.workbook_indicators)
        port = free_port()
        service_settings = replace(settings, ingest_port=port, max_upload_bytes=256 << 20)
        env = {**os.environ, **service_settings.to_env()}
        ingest = Service("ingest", env, log_path("bench-imports-ingest"))
        worker = Service("import-worker", env, log_path("bench-imports-worker"))
        url = f"http://127.0.0.1:{port}"
        ingest.start()
        worker.start()
        try:
            wait_until(lambda: http_ready(url), 30, what="ingest ready")
            workbook_agencies = agency_codes(args.workbook_agencies)
            issued = issue_tokens(settings, Role.AGENCY_REPORTER, [IMPORTER, POSTER, *workbook_agencies])
            importer, poster = issued[IMPORTER], issued[POSTER]
            clerks = {a: issued[a] for a in workbook_agencies}
            periods = months(args.months)
            lines = ["agency,period,indicator,value"]
            by_month: dict[str, dict[str, int]] = {}
            for m, period in enumerate(periods):
                by_month[period] = {code: m * 1000 + i for i, code in enumerate(codes)}
                lines += [f"{IMPORTER},{period},{code},{value}" for code, value in by_month[period].items()]
            csv = ("\r\n".join(lines) + "\r\n").encode()
            total = len(lines) - 1
            with httpx.Client(timeout=120) as client:
                # 1. the CSV through the job path
                started = time.perf_counter()
                response = client.post(
                    f"{url}/imports",
                    content=csv,
                    params={"mode": "best_effort", "filename": "history.csv"},
                    headers={"Authorization": f"Bearer {importer}", "Content-Type": "text/csv"},
                )
                assert response.status_code == 202, response.text
                (job,) = wait_done(client, url, importer, [response.json()["id"]], 1800)
                csv_seconds = time.perf_counter() - started
                assert job["summary"]["stored"] == total, job["summary"]
                csv_rss = peak_rss_mib(worker)
                started = time.perf_counter()
                for period in periods:
                    post_json(client, url, poster, POSTER, period, by_month[period])
                json_seconds = time.perf_counter() - started

                # 2. workbooks of 34 agencies
                agencies = agency_codes(args.workbook_agencies)
                bench_codes = [f"BENCH.I{n:03d}" for n in range(args.workbook_indicators)]
                values = {code: 7 + i for i, code in enumerate(bench_codes)}
                filled = {}
                for agency in agencies:
                    template = client.get(
                        f"{url}/agencies/{agency}/periods/{WORKBOOK_MONTH}/template.xlsx",
                        headers={"Authorization": f"Bearer {clerks[agency]}"},
                    )
                    assert template.status_code == 200, template.text
                    filled[agency] = fill(template.content, values)
                started = time.perf_counter()
                jobs: dict[str, str] = {}
                for agency in agencies:
                    uploaded = client.post(
                        f"{url}/imports",
                        content=filled[agency],
                        params={"period": WORKBOOK_MONTH, "filename": f"{agency}.xlsx"},
                        headers={
                            "Authorization": f"Bearer {clerks[agency]}",
                            "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        },
                    )
                    assert uploaded.status_code == 202, uploaded.text
                    jobs[agency] = uploaded.json()["id"]
                for agency, job_id in jobs.items():
                    (done,) = wait_done(client, url, clerks[agency], [job_id], 600)
                    assert done["summary"]["stored"] == len(values), done["summary"]
                workbook_seconds = time.perf_counter() - started
                started = time.perf_counter()
                for agency in agencies:
                    post_json(client, url, clerks[agency], agency, JSON_MONTH, values)
                workbook_json_seconds = time.perf_counter() - started
            worker_rss = peak_rss_mib(worker)
            ingest_rss = peak_rss_mib(ingest)
        finally:
            worker.stop()
            ingest.stop()
    workbook_values = len(agencies) * len(values)
    print(f"CSV: {total:,} values ({len(csv) / 2**20:.1f} MiB, {args.indicators} indicators x {args.months} months)")
    print(f"  import job (upload to end)       {total / csv_seconds:10,.0f} values/s  ({csv_seconds:.1f} s)")
    record("CSV import job, upload to end", total / csv_seconds, "values/s")
    print(
        f"  JSON API, {args.indicators}-value requests  {total / json_seconds:10,.0f} values/s  ({json_seconds:.1f} s;"
        f" import = {json_seconds / csv_seconds:.2f}x)"
    )
    record(f"baseline JSON API, {args.indicators}-value requests", total / json_seconds, "values/s")
    record("CSV import job / JSON API", json_seconds / csv_seconds, "x")
    print(f"  import worker peak RSS after it  {csv_rss:10.0f} MiB")
    record("import worker peak RSS after the CSV", csv_rss, "MiB", better="lower")
    print(f"workbooks: {len(agencies)} agencies x {len(values)} indicators = {workbook_values:,} values")
    print(
        f"  import jobs (upload to end)      {workbook_values / workbook_seconds:10,.0f} values/s"
        f"  ({workbook_seconds:.1f} s, {workbook_seconds / len(agencies) * 1000:.0f} ms a workbook)"
    )
    record("workbook import jobs, upload to end", workbook_values / workbook_seconds, "values/s")
    print(
        f"  JSON API, one request a form     {workbook_values / workbook_json_seconds:10,.0f} values/s"
        f"  ({workbook_json_seconds:.1f} s; import = {workbook_json_seconds / workbook_seconds:.2f}x)"
    )
    record("baseline JSON API, one request a form", workbook_values / workbook_json_seconds, "values/s")
    record("workbook import jobs / JSON API", workbook_json_seconds / workbook_seconds, "x")
    print(f"peak RSS: import worker {worker_rss:.0f} MiB, ingest API {ingest_rss:.0f} MiB")
    record("import worker peak RSS", worker_rss, "MiB", better="lower")
    record("ingest API peak RSS", ingest_rss, "MiB", better="lower")


if __name__ == "__main__":
    main()
