"""The audit trail: every event of the log, one row each, filterable and paged by position.

Besides the columns auditors filter on, each row keeps the event's canonical bytes: the leaf the
transparency log hashed, so an auditor can check any row against a signed checkpoint
(docs/AUDIT.md), and time-travel views are folded from the log itself (`queries.py` reads the
prefix of the log they fold).
"""
