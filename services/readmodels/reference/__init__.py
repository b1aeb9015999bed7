"""Reference data read models: agencies, indicators, templates and report definitions.

Built from the registry, catalogue, template and report-definition events (`projection.py`), so
that the read side knows names, regions, template versions and aggregation types without ever
reading the event store. `queries.py` reads them: the registry and templates as rows
(`rows.py`), and the whole reference data as one in-memory snapshot (`snapshot.py`) that roll-ups
and compliance take names, scopes and expected counts from; `asof.py` folds the same snapshot
from a prefix of the log.
"""
