"""Where one 200-value request spends its time in the write application (no HTTP).

python -m bench.profile_ingest
"""

from __future__ import annotations

import cProfile
import pstats
import time

from bench.environment import agency_codes, bench_settings, indicator_codes, load_national_reference
from domain.identity import Principal, Role
from entrypoints.bootstrap import postgres_write_side
from services.ingest.application.commands import EnterValues
from services.ingest.application.submissions import enter_values

WARM_UP, MEASURED = 10, 50


def main() -> None:
    with bench_settings() as settings:
        load_national_reference(settings, WARM_UP + MEASURED, 200)
        agencies, codes = agency_codes(WARM_UP + MEASURED), indicator_codes(200)
        with postgres_write_side(settings) as write_side:

            def submit(batch: list[str]) -> None:
                for agency in batch:
                    principal = Principal(f"bench:{agency}", Role.AGENCY_REPORTER, agency)
                    command = EnterValues.of(agency, "2025-01", [(code, 5) for code in codes])
                    enter_values(write_side, principal, command)

            submit(agencies[:WARM_UP])
            started = time.perf_counter()
            submit(agencies[WARM_UP : WARM_UP + MEASURED // 2])
            plain = (time.perf_counter() - started) / (MEASURED // 2)
            profiler = cProfile.Profile()
            profiler.runcall(submit, agencies[WARM_UP + MEASURED // 2 :])
    print(f"per 200-value request, no profiler: {plain * 1000:.1f} ms")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
