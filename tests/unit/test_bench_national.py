"""The national month's workload, as each client process makes its share of it."""

from __future__ import annotations

from bench.environment import Job
from bench.national import REASON, unit_jobs

CODES = [f"I{n:03d}" for n in range(200)]


def _jobs(tokens: dict[str, str], seed: int = 7) -> list[Job]:
    return list(unit_jobs("http://x", tokens, CODES, "2025-01", 0.02, seed))


def test_each_unit_sends_its_whole_form_then_two_percent_as_corrections() -> None:
    tokens = {f"B{n:05d}": f"t{n}" for n in range(5)}
    jobs = _jobs(tokens)
    forms, corrections = jobs[:5], jobs[5:]
    assert [(j.agency, j.token) for j in forms] == list(tokens.items())
    assert all([v["indicator"] for v in j.values] == CODES and j.reason is None for j in forms)
    assert [j.agency for j in corrections] == list(tokens)
    for job in corrections:
        indicators = [v["indicator"] for v in job.values]
        assert len(indicators) == 4
        assert len(set(indicators)) == 4
        assert set(indicators) <= set(CODES)
        assert job.reason == REASON


def test_the_same_seed_makes_the_same_values_and_another_seed_others() -> None:
    tokens = {"B00000": "t"}
    assert [j.values for j in _jobs(tokens)] == [j.values for j in _jobs(tokens)]
    assert [j.values for j in _jobs(tokens)] != [j.values for j in _jobs(tokens, seed=8)]
