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
# Letters, with inner apostrophes (straight or typographic: O'Brien, O\u2019Brien).
_WORD = re.compile("[^\\W\\d_]+(?:['\u2019][^\\W\\d_]+)*")
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
        self._names = {
            words
            for n in ids.names
            if 2 <= len(words := _name_key(_WORD.findall(n))) <= _MAX_NAME_WORDS
        }
        self._first_words = {words[0] for words in self._names}
        self._longest = max((len(words) for words in self._names), default=0)
        self._everyone = everyone

    def is_empty(self) -> bool:
        return not (self._everyone or self._emails or self._phones or self._handles or self._names)

    def find(self, text: str) -> list[Match]:
        """Every identifier in text, in order, not overlapping."""
        found: list[Match] = []
        opaque: list[tuple[int, int]] = []  # email/phone tokens: no names inside them
        for m in _TOKEN.finditer(text):
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
        words = [w for w in _WORD.finditer(text) if not any(s <= w.start() < e for s, e in opaque)]
        keys = _name_key(w.group() for w in words)
        i = 0
        while i < len(words):
            # Most words start no name: one set lookup, and on to the next word.
            if keys[i] not in self._first_words:
                i += 1
                continue
            for n in range(min(self._longest, len(words) - i), 1, -1):
                if keys[i : i + n] in self._names and all(
                    _NAME_GAP.fullmatch(text, words[j].end(), words[j + 1].start())
                    for j in range(i, i + n - 1)
                ):
                    start, end = words[i].start(), words[i + n - 1].end()
                    yield Match(start, end, Kind.NAME, text[start:end])
                    i += n
                    break
            else:
                i += 1

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
        out: list[str] = []
        pos = 0
        for m in self.find(text):
            out.append(text[pos : m.start])
            out.append(replace(m.kind, m.text))
            pos = m.end
        out.append(text[pos:])
        return "".join(out)
