"""Every benchmark, one after the other, at one scale (`make bench`; `python -m bench.run --scale small`).

Each benchmark starts its own PostgreSQL cluster and broker, runs its baselines in the same run and
prints its ratios; this runs them in turn with the arguments of the chosen scale.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

SCALES: dict[str, list[tuple[str, list[str]]]] = {
    "small": [
        ("bench.ingest", ["--agencies", "100", "--months", "1", "--clients", "4"]),
        ("bench.freshness", ["--rate", "1000", "--seconds", "10", "--agencies", "50"]),
        ("bench.projector", ["--agencies", "50"]),
        ("bench.rollups", ["--agencies", "500", "--indicators", "2", "--months", "3", "--requests", "100"]),
        ("bench.audit", ["--agencies", "100"]),
        ("bench.imports", ["--indicators", "400", "--months", "25", "--workbook-agencies", "5"]),
        ("bench.pages", ["--agencies", "500", "--requests", "50"]),
        ("bench.boards", ["--agencies", "500", "--months", "3", "--requests", "30", "--rate", "300", "--seconds", "5"]),
        ("bench.backup", ["--agencies", "100"]),
    ],
    "full": [
        ("bench.ingest", ["--agencies", "500", "--months", "2", "--clients", "8"]),
        ("bench.freshness", ["--rate", "5000", "--seconds", "20"]),
        ("bench.projector", ["--agencies", "200"]),
        ("bench.rollups", ["--agencies", "10000", "--indicators", "5", "--months", "12"]),
        ("bench.audit", ["--agencies", "1000"]),
        ("bench.imports", ["--indicators", "400", "--months", "250", "--workbook-agencies", "34"]),
        ("bench.pages", ["--agencies", "10000", "--requests", "200"]),
        ("bench.boards", ["--agencies", "10000", "--months", "12", "--rate", "1000", "--seconds", "20"]),
        ("bench.backup", ["--agencies", "1000"]),
    ],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    args = parser.parse_args()
    failed = []
    for module, arguments in SCALES[args.scale]:
        print(f"\n=== python -m {module} {' '.join(arguments)}", flush=True)
        if subprocess.run([sys.executable, "-m", module, *arguments], check=False).returncode != 0:
            failed.append(module)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
