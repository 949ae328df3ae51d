"""Who is in a demo tenant, and how their identifiers are kept apart.

A contact's identifiers (email, phone, full name, Telegram handle, live-chat
visitor id) must appear only in that contact's own records (see demo/__init__.py):
  - full names: no full name contains another (NameRegistry), and generated free
    text (companies, addresses, filler) is checked to mention none;
  - emails end in a per-contact number after a non-digit ("jane.doe+42@..."),
    so no address is a substring of another;
  - phones have distinct national numbers (last ten digits) in the fictional
    555 area code with a 0xx exchange, and staff and company lines use their own
    exchanges (PhoneBook);
  - Telegram handles are letters plus exactly two digits, so none is a prefix of
    another; visitor ids are fixed-length hex.
"""

from __future__ import annotations

import base64
import itertools
import random
import re
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from demo.corpus import COMPANY_WORDS

_T = TypeVar("_T")


class Rng(random.Random):
    """random.Random plus cheaper picks: choice() and randint() cost ~2 us, these
    ~0.3 us, and the planner makes a few hundred thousand of them."""

    def pick(self, seq: Sequence[_T]) -> _T:
        return seq[int(self.random() * len(seq))]

    def between(self, low: int, high: int) -> int:
        """An int from low to high, both included."""
        return low + int(self.random() * (high - low + 1))


class NameRegistry:
    """Full names in use; refuses a name that contains, or is inside, another.

    Names are "First Last" with no space inside either part, so "F L" occurs in
    "F' L'" exactly when F ends F' and L starts L' ("Dan Lee" in "Jordan Leeds").
    The same test finds a name in any text, at each space between two words.
    Everything is compared in lower case, as an ILIKE search would.
    """

    def __init__(self) -> None:
        self._lasts_by_first: dict[str, list[str]] = {}
        self._firsts_by_last_prefix: dict[str, list[str]] = {}
        self._first_lengths: set[int] = set()

    def clashes(self, first: str, last: str) -> bool:
        f, la = first.lower(), last.lower()
        # Would contain a known name: its first name ends ours, its last starts ours.
        for k in range(1, len(f) + 1):
            if any(la.startswith(other) for other in self._lasts_by_first.get(f[-k:], ())):
                return True
        # Would be inside a known name.
        return any(other.endswith(f) for other in self._firsts_by_last_prefix.get(la, ()))

    def add(self, first: str, last: str) -> None:
        f, la = first.lower(), last.lower()
        self._lasts_by_first.setdefault(f, []).append(la)
        self._first_lengths.add(len(f))
        for k in range(1, len(la) + 1):
            self._firsts_by_last_prefix.setdefault(la[:k], []).append(f)

    def mentioned_in(self, text: str) -> bool:
        """Whether any registered full name occurs in text."""
        words = text.lower().split(" ")
        for before, after in itertools.pairwise(words):
            for k in self._first_lengths:
                lasts = self._lasts_by_first.get(before[-k:]) if k <= len(before) else None
                if lasts and any(after.startswith(last) for last in lasts):
                    return True
        return False


class PhoneBook:
    """Distinct US national numbers in the fictional 555 area code.

    The exchange says whose line it is: 000 the tenant's business lines, 001-009
    staff, 010-099 contacts. An exchange starting with 0 is never assigned for
    real, so no real person's number appears.
    """

    def __init__(self, rng: Rng) -> None:
        self._rng = rng
        self._used: set[str] = set()

    def new(self, exchanges: range) -> str:
        """A new national number: ten digits."""
        while True:
            number = f"555{self._rng.pick(exchanges):03d}{self._rng.between(0, 9999):04d}"
            if number not in self._used:
                self._used.add(number)
                return number


def format_phone(national: str, style: int) -> str:
    """The same number as people type it; the last ten digits never change."""
    a, e, n = national[:3], national[3:6], national[6:]
    styles = (
        f"+1 ({a}) {e}-{n}",
        f"{a}-{e}-{n}",
        f"+1{a}{e}{n}",
        f"({a}) {e}-{n}",
        f"{a}.{e}.{n}",
        f"+1 {a} {e} {n}",
    )
    return styles[style % len(styles)]


def e164(national: str) -> str:
    return f"+1{national}"


def letters(text: str) -> str:
    return "".join(c for c in text.lower() if "a" <= c <= "z")


def slug(company: str) -> str:
    words = [w for w in re.findall(r"[A-Za-z]+", company) if w.lower() not in COMPANY_WORDS]
    return "".join(words[:2]).lower() or "company"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def png(text: str, rgb: tuple[int, int, int]) -> bytes:
    """A valid 1x1 PNG whose tEXt chunk carries text (for a profile picture)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 1x1, 8-bit RGB
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            chunk(b"IHDR", header),
            chunk(b"tEXt", b"Author\x00" + text.encode("latin-1", "replace")),
            chunk(b"IDAT", zlib.compress(b"\x00" + bytes(rgb))),
            chunk(b"IEND", b""),
        )
    )


@dataclass(frozen=True, slots=True)
class Contact:
    """A contact's identity, as its rows and messages quote it."""

    index: int
    first: str
    last: str
    f: str  # first name in lower-case letters only, for addresses and handles
    la: str  # same for the last name
    email: str
    phone: str  # as stored on the contact
    national: str  # its ten digits
    handle: str  # Telegram
    visitor: str  # live chat
    company: str
    owner: int
    age: timedelta

    @property
    def full(self) -> str:
        return f"{self.first} {self.last}"


@dataclass(frozen=True, slots=True)
class Staff:
    first: str
    last: str
    email: str

    @property
    def full(self) -> str:
        return f"{self.first} {self.last}"
