"""Find a subject's identifiers in free text and replace them, leaving the rest as it was.

One left-to-right scan finds email-, phone- and handle-shaped tokens and checks
them against the subject's sets; names are found as runs of 2-4 words whose
lowercased tuple is a known name. Set lookups instead of one big alternation keep
it fast when the "subject" is a whole tenant with many thousands of names.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from itertools import accumulate

from anonymizers import tokens

REDACTED = "[redacted]"

# Fewer digits than this match too much unrelated text to be a phone number.
_MIN_PHONE_DIGITS = 7
# The national part of a number: compared so a number matches with or without its
# country code.
_NATIONAL_DIGITS = 10
_MAX_NAME_WORDS = 4

_EMAIL = r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}"
_PHONE = r"\(?\+?\d(?:[\s().-]{0,3}\d){6,14}"
_HANDLE = r"@?[\w][\w-]*"
# Emails and phones first: a name or handle inside them is part of them.
_TOKEN = re.compile(
    rf"(?<![\w.+-])(?P<email>{_EMAIL})"
    rf"|(?<![\w+])(?P<phone>{_PHONE})(?!\d)"
    rf"|(?<![\w@-])(?P<handle>{_HANDLE})"
)
# The same tokens less plain words (handles without "@"): a whole tenant's text is
# mostly plain words, and each costs a Python call. Inside a plain word, which
# _TOKEN consumes whole, an email or an @handle cannot start (their look-behinds
# forbid a word character or "-" before them), a phone number only right after a
# "-". So where no plain word is a handle of the subject and no phone number
# follows a "-", both find the same emails, phone numbers and @handles.
_TOKEN_LEAN = re.compile(
    rf"(?<![\w.+-])(?P<email>{_EMAIL})"
    rf"|(?<![\w+])(?P<phone>{_PHONE})(?!\d)"
    rf"|(?<![\w@-])(?P<handle>@[\w][\w-]*)"
)
# _TOKEN_LEAN on a text without "@": only phone numbers can be there.
_TOKEN_PHONES = re.compile(rf"(?<![\w+])(?P<phone>{_PHONE})(?!\d)")
_DIGIT = re.compile(r"\d")
_PLAIN_WORD = re.compile(r"(?<![\w@-])[\w][\w-]*")
# Short texts (addresses, subjects) recur across a tenant's rows: redacted once each.
_MEMO_CHARS = 200
_MEMO_ENTRIES = 20_000
# Letters, with inner apostrophes (straight or typographic: O'Brien, O\u2019Brien).
_WORD = re.compile("[^\\W\\d_]+(?:['\u2019][^\\W\\d_]+)*")
_WORD_SPLIT = re.compile(f"({_WORD.pattern})")
# What may stand between the words of a name: "Jane Doe", "Jane_Doe", "jane.doe".
_NAME_GAP = re.compile(r"[\s_.-]{1,3}")


class Kind(StrEnum):
    NAME = "name"
    EMAIL = "email"
    PHONE = "phone"
    HANDLE = "handle"


@dataclass(frozen=True)
class Identifiers:
    """What identifies a subject in free text."""

    names: tuple[str, ...] = ()  # full names, "Jane Doe"
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()  # any format
    handles: tuple[str, ...] = ()  # @handles, visitor ids: matched as whole tokens

    def is_empty(self) -> bool:
        return not (self.names or self.emails or self.phones or self.handles)


def digits(phone: str) -> str:
    """The digits of a phone number, in any format."""
    return re.sub(r"\D", "", phone)


def national(phone: str) -> str:
    """The digits compared between numbers: the last ten (or all, if fewer)."""
    return digits(phone)[-_NATIONAL_DIGITS:]


def _pg_escape(literal: str) -> str:
    """Escape a literal for a PostgreSQL regular expression."""
    return re.sub(r"([\\^$.|?*+()\[\]{}])", r"\\\1", literal)


def full_names(pairs: Iterable[tuple[str | None, str | None]]) -> tuple[str, ...]:
    """'First Last' for each (first, last) pair that has both."""
    return tuple(f"{first} {last}" for first, last in pairs if first and last)


def name_words(name: str) -> list[str]:
    """The words of a name, as the redactor sees them."""
    return _WORD.findall(name)


def _name_key(words: Iterable[str]) -> tuple[str, ...]:
    # Case and apostrophe style do not make another name: O'Brien is O\u2019Brien.
    return tuple(w.lower().replace("\u2019", "'") for w in words)


@dataclass(frozen=True)
class Match:
    start: int
    end: int
    kind: Kind
    text: str


Replace = Callable[[Kind, str], str]


def _redacted(_kind: Kind, _text: str) -> str:
    return REDACTED


class Redactor:
    """Finds a subject's identifiers; `everyone=True` also takes every email, phone
    number and @handle (for a whole tenant, where every person is the subject)."""

    def __init__(self, ids: Identifiers, *, everyone: bool = False) -> None:
        self._emails = {e.strip().lower() for e in ids.emails if e.strip()}
        self._phones = {national(p) for p in ids.phones if len(digits(p)) >= _MIN_PHONE_DIGITS}
        self._handles = {h.strip().lower() for h in ids.handles if h.strip()}
        self._plain_handles = {h for h in self._handles if not h.startswith("@")}
        self._names = {
            words
            for n in ids.names
            if 2 <= len(words := _name_key(_WORD.findall(n))) <= _MAX_NAME_WORDS
        }
        self._first_words = {words[0] for words in self._names}
        self._longest = max((len(words) for words in self._names), default=0)
        self._everyone = everyone
        self._memo: dict[tuple[Replace, str], str] = {}

    def is_empty(self) -> bool:
        return not (self._everyone or self._emails or self._phones or self._handles or self._names)

    def find(self, text: str) -> list[Match]:
        """Every identifier in text, in order, not overlapping."""
        found: list[Match] = []
        opaque: list[tuple[int, int]] = []  # email/phone tokens: no names inside them
        for m in self._tokens(text):
            kind, value = self._token(m)
            if kind in (Kind.EMAIL, Kind.PHONE) or m.lastgroup in ("email", "phone"):
                opaque.append(m.span())
            if kind is not None:
                found.append(Match(m.start(), m.end(), kind, value))
        if self._names:
            found.extend(self._find_names(text, opaque))
        found.sort(key=lambda f: (f.start, -f.end))
        result: list[Match] = []
        for f in found:
            if not result or f.start >= result[-1].end:
                result.append(f)
        return result

    def _tokens(self, text: str) -> list[re.Match[str]]:
        """What _TOKEN finds, less plain words that are no handle of the subject."""
        if self._plain_handles and not self._plain_handles.isdisjoint(
            map(str.lower, _PLAIN_WORD.findall(text))
        ):
            return list(_TOKEN.finditer(text))
        if "@" in text:
            lean = list(_TOKEN_LEAN.finditer(text))
        elif _DIGIT.search(text):
            lean = list(_TOKEN_PHONES.finditer(text))
        else:
            return []  # no email, no phone number, no @handle: nothing to find
        # A phone number right after "-" may start inside a plain word, which
        # _TOKEN takes whole: only _TOKEN itself can tell.
        if any(m.lastgroup == "phone" and text[m.start() - 1 : m.start()] == "-" for m in lean):
            return list(_TOKEN.finditer(text))
        return lean

    def _token(self, m: re.Match[str]) -> tuple[Kind | None, str]:
        value = m.group()
        if m.lastgroup == "email":
            hit = self._everyone or value.lower() in self._emails
            return (Kind.EMAIL if hit else None), value
        if m.lastgroup == "phone":
            number = digits(value)
            hit = len(number) >= _MIN_PHONE_DIGITS and (
                self._everyone or number[-_NATIONAL_DIGITS:] in self._phones
            )
            return (Kind.PHONE if hit else None), value
        hit = value.lower() in self._handles or (self._everyone and value.startswith("@"))
        return (Kind.HANDLE if hit else None), value

    def _find_names(self, text: str, opaque: list[tuple[int, int]]) -> Iterable[Match]:
        # One split in C gives the words, the gaps between them and, summed, where
        # each starts; most texts name no one, and those cost a set lookup a word.
        # Words inside an email or phone number take no part in a name (a run
        # through one would fail the gap check anyway).
        parts = _WORD_SPLIT.split(text)  # gap, word, gap, word, ..., gap
        words = parts[1::2]
        if text.isascii():
            keys = [w.lower() for w in words]
        else:
            keys = [w.lower().replace("\u2019", "'") for w in words]
        first = self._first_words
        starts = [i for i, key in enumerate(keys) if key in first]
        if not starts:
            return
        ends = list(accumulate(map(len, parts)))  # word i spans ends[2i] to ends[2i + 1]

        def free(j: int) -> bool:
            at = ends[2 * j]
            return not any(s <= at < e for s, e in opaque)

        taken = 0  # words before this belong to a name found already
        for i in starts:
            if i < taken or not free(i):
                continue
            for n in range(min(self._longest, len(words) - i), 1, -1):
                if (
                    tuple(keys[i : i + n]) in self._names
                    and all(free(j) for j in range(i + 1, i + n))
                    and all(_NAME_GAP.fullmatch(parts[2 * j + 2]) for j in range(i, i + n - 1))
                ):
                    start, end = ends[2 * i], ends[2 * (i + n - 1) + 1]
                    yield Match(start, end, Kind.NAME, text[start:end])
                    taken = i + n
                    break

    def sql_prefilter(self) -> str | None:
        """A PostgreSQL regex (for ~*) matching every text this redactor may change.

        A superset, so the database can skip rows that cannot mention the subject;
        None when every row must be looked at (a whole tenant).
        """
        if self._everyone:
            return None
        gap = r"[[:space:]_.-]{1,3}"
        parts = [
            gap.join(_pg_escape(w).replace("'", "['\u2019]") for w in name)
            for name in sorted(self._names)
        ]
        parts += [_pg_escape(v) for v in sorted(self._emails | self._handles)]
        parts += ["[^0-9]{0,3}".join(number) for number in sorted(self._phones)]
        # An empty alternation would match everything: match nothing instead.
        return "|".join(parts) if parts else "$^"

    def sql_tsqueries(self) -> list[str] | None:
        """tsqueries for the mention index (anonymizers/tokens.py), one of which matches
        every row this redactor may change; None when rows must be scanned."""
        if self._everyone:
            return None
        return tokens.tsqueries(self._names, self._emails, self._phones, self._handles)

    def redact(self, text: str, replace: Replace = _redacted) -> str:
        """Replace every identifier; everything between them stays as it was."""
        if not text or self.is_empty():
            return text
        if len(text) > _MEMO_CHARS:
            return self._redact(text, replace)
        memo_key = (replace, text)
        done = self._memo.get(memo_key)
        if done is None:
            if len(self._memo) >= _MEMO_ENTRIES:
                self._memo.clear()
            done = self._memo[memo_key] = self._redact(text, replace)
        return done

    def _redact(self, text: str, replace: Replace) -> str:
        out: list[str] = []
        pos = 0
        for m in self.find(text):
            out.append(text[pos : m.start])
            out.append(replace(m.kind, m.text))
            pos = m.end
        out.append(text[pos:])
        return "".join(out)
