"""Electronic identifier codes of agencies (mã định danh điện tử), as QCVN 102:2016/BTTTT writes them.

A code is at most 35 characters: groups of digits and capital letters separated by single dots,
for example ``000.00.00.G22``. Codes are compared exactly, so nothing is normalised here: a code
with lower-case letters or spaces is refused with a message saying what to fix, not "corrected".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_LENGTH = 35
# [0-9A-Z], not \w: \w also matches lower case, "_" and non-ASCII letters. fullmatch, not "$",
# which would accept a trailing newline.
_GROUP = re.compile(r"[0-9A-Z]+")
_EXAMPLE = "000.00.00.G22"


def parse_electronic_code(text: str) -> str:
    """The code itself when `text` is a valid electronic identifier code; ValueError saying why otherwise."""
    if not isinstance(text, str):
        raise ValueError(f"an electronic identifier code is a string, not {type(text).__name__}")
    shown = repr(text if len(text) <= 40 else text[:40] + "…")
    if not text:
        raise ValueError(f"an electronic identifier code is required (for example {_EXAMPLE})")
    if text != text.strip():
        raise ValueError(f"electronic identifier code {shown} has spaces around it")
    if len(text) > MAX_LENGTH:
        raise ValueError(f"electronic identifier code {shown} is {len(text)} characters; at most {MAX_LENGTH}")
    groups = text.split(".")
    if len(groups) < 2:
        raise ValueError(
            f"electronic identifier code {shown} has no dots: it is groups separated by dots, like {_EXAMPLE}"
        )
    if any(not group for group in groups):
        raise ValueError(f"electronic identifier code {shown} has an empty group (a dot at an end, or two dots)")
    for group in groups:
        if _GROUP.fullmatch(group) is None:
            if group.isascii() and _GROUP.fullmatch(group.upper()) is not None:
                raise ValueError(f"electronic identifier code {shown}: letters are capitals ({text.upper()})")
            raise ValueError(
                f"electronic identifier code {shown}: group {group!r} holds something other than digits 0-9 "
                "and capital letters A-Z"
            )
    return text


@dataclass(frozen=True)
class ElectronicCode:
    """A valid electronic identifier code; construction checks it."""

    value: str

    def __post_init__(self) -> None:
        parse_electronic_code(self.value)

    @property
    def groups(self) -> tuple[str, ...]:
        return tuple(self.value.split("."))

    def __str__(self) -> str:
        return self.value
