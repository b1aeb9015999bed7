"""The write side's application layer: typed commands, their handlers, the ports they need.

Handlers are plain functions `(write_side, principal, command, idempotency) -> outcome`
(`submissions.py`, `registry.py`, `catalogue.py`); each runs through `execute.py`.
"""
