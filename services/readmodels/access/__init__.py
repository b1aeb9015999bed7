"""Who has access: people's accounts and systems' API tokens, as the administrators' pages list them.

`projection.py` keeps one row per account and per token from their events (never a password, a
secret or a digest); `queries.py` searches and filters them.
"""
