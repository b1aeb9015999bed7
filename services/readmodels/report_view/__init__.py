"""The per-agency report view: agency, period, indicator -> current value, who, when.

`projection.py` fills it, `queries.py` reads it, `asof.py` folds the same rows from the log
(time travel); `rows.py` is what one row is, for both.
"""
