"""Interchange codecs: files from and for other systems, as typed rows (bytes in, rows out, and back).

Pure: no database, no HTTP, no broker. Every reader yields `SourceValue`s for the values it found
and `SourceError`s for what it could not read, each with its exact location in the source
(see `rows`). Storing the values is the ingest service's job, through the ordinary commands.
"""
