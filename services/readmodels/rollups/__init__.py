"""Ministry roll-ups: per indicator, across agencies (scopes) and periods.

`projection.py` keeps each agency's figure per period and each scope's running statistics;
`queries.py` reads them; `asof.py` folds the same statistics from a prefix of the log. Both
answer the rows of `figures.py`, computed by the arithmetic of `domain.rollups`.
"""
