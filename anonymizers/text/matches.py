"""What the redactor finds in a text (a Match: its span, its kind, the identifier it is)
and how a replacement is written back over it."""

from __future__ import annotations

import html
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import quote

REDACTED = "[redacted]"


class Kind(StrEnum):
    NAME = "name"
    EMAIL = "email"
    PHONE = "phone"
    HANDLE = "handle"
    ADDRESS = "address"


class Role(StrEnum):
    GIVEN = "given"
    FAMILY = "family"


@dataclass(frozen=True)
class Part:
    """A word of a name match: its original span, and the subject's part it is."""

    start: int
    end: int
    role: Role
    canonical: str  # the subject's folded word


@dataclass(frozen=True)
class Match:
    """An identifier found in a text: its original span and what it is."""

    start: int
    end: int
    kind: Kind
    text: str  # the original characters, as written
    canonical: str  # the identifier it is: folded email, E.164, handle, address, name
    parts: tuple[Part, ...] = ()  # names: the words, each faked on its own
    encoded: bool = False  # written percent-encoded (in a URL): replaced the same way


Replace = Callable[[Match], str]


def redacted(_match: Match) -> str:
    return REDACTED


def merged(spans: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    """Overlapping spans merged, as sorted starts and their ends (for inside)."""
    starts: list[int] = []
    ends: list[int] = []
    for s, e in sorted(spans):
        if ends and s <= ends[-1]:
            ends[-1] = max(ends[-1], e)
        else:
            starts.append(s)
            ends.append(e)
    return starts, ends


def inside(at: int, starts: list[int], ends: list[int]) -> bool:
    i = bisect_right(starts, at) - 1
    return i >= 0 and at < ends[i]


def encoded_like(match: Match, replacement: str) -> str:
    """The replacement written the way the original was: percent-encoded in a URL,
    as HTML where the original held entities."""
    if match.encoded:
        return quote(replacement, safe="")
    if "&" in match.text and ";" in match.text:
        return html.escape(replacement, quote=False)
    return replacement
