"""The compliance board: each agency's report per month, its lifecycle and timeliness.

`projection.py` keeps one row per agency and month; `queries.py` reads them against the
agencies that had to report (from the reference data) and the deadlines of the reporting regime.
"""
