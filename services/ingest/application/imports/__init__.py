"""Imports: files of values (workbooks, CSV, DHIS2, ADX, the national feed) stored through the write side.

An import is a job (`model.Job`): the file is kept first, content-addressed by its SHA-256
(`ports.FileStore`); a worker reads it with the codecs of `services/interchange` and enters its
values with the same checks, authorization and idempotency as the JSON API (`engine.py`). Every
value it stores is an ordinary event whose `source` names the file. See docs/INTERCHANGE.md,
*Importing*, and docs/DECISIONS.md, *Imports are jobs*.
"""
