"""Reading CSV from bytes a line at a time: UTF-8 with or without BOM, comma or semicolon.

Bytes that are not UTF-8 do not stop the file: they are decoded as lone surrogates
("surrogateescape"), which valid UTF-8 never produces, so the one row holding them is
reported and the others are still read. A line is read with a length limit, so one huge
"line" cannot fill memory.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

# Far above any real row (a text value is at most 4000 characters): past it a file is not CSV.
MAX_LINE_BYTES = 1 << 20
_BAD_BYTES = re.compile("[\udc80-\udcff]")
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
UTF8_BOM = b"\xef\xbb\xbf"

Source = bytes | BinaryIO


class UnreadableText(Exception):
    """The text cannot be read past this point; `code` is a SourceError code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def binary_stream(source: Source) -> BinaryIO:
    return io.BytesIO(source) if isinstance(source, bytes | bytearray) else source


def has_bad_bytes(text: str) -> bool:
    return _BAD_BYTES.search(text) is not None


def _lines(stream: BinaryIO, first: bytes) -> Iterator[str]:
    line = first
    number = 1
    while line:
        if len(line) > MAX_LINE_BYTES:
            raise UnreadableText("line-too-long", f"line {number} is longer than {MAX_LINE_BYTES} bytes")
        yield line.decode("utf-8", errors="surrogateescape")
        line = stream.readline(MAX_LINE_BYTES + 1)
        number += 1


@dataclass
class CsvRecord:
    row: int  # the record's number, the header being row 1 (what a spreadsheet shows)
    first_line: int  # its first physical line (differs from `row` after a quoted line break)
    fields: list[str]

    @property
    def location(self) -> str:
        if self.first_line == self.row:
            return f"row {self.row}"
        return f"row {self.row} (line {self.first_line})"

    @property
    def blank(self) -> bool:
        return not any(field.strip() for field in self.fields)


class CsvReader:
    """The header, then the records of a CSV file, lazily; `delimiter` is guessed from the header line."""

    def __init__(self, source: Source) -> None:
        stream = binary_stream(source)
        first = stream.readline(MAX_LINE_BYTES + 1)
        if first.startswith(_UTF16_BOMS) or b"\x00" in first[:200]:
            raise UnreadableText(
                "unsupported-encoding", "the file is UTF-16 ('Unicode text'); save it as 'CSV UTF-8' instead"
            )
        first = first.removeprefix(UTF8_BOM)
        if not first.strip():
            raise UnreadableText("empty-file", "the file is empty: it needs a header row")
        header_line = first.decode("utf-8", errors="surrogateescape")
        # The header holds only column names, so counting separators in it is unambiguous.
        self.delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
        self._reader = csv.reader(_lines(stream, first), delimiter=self.delimiter, strict=True)
        try:
            header = next(self._reader)
        except csv.Error as problem:
            raise UnreadableText("invalid-csv", f"line 1: {problem}") from None
        self.header = [name.strip().lower() for name in header]
        self._row = 1

    def records(self) -> Iterator[CsvRecord]:
        """Every record after the header; `UnreadableText` when the file cannot be read further."""
        while True:
            first_line = self._reader.line_num + 1
            try:
                fields = next(self._reader)
            except StopIteration:
                return
            except csv.Error as problem:
                raise UnreadableText("invalid-csv", f"line {first_line}: {problem}") from None
            self._row += 1
            yield CsvRecord(self._row, first_line, fields)
