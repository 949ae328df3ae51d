"""Redact a subject's known identifiers from free text, leaving the rest as it was."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

REDACTED = "[redacted]"

# Separators people write inside phone numbers.
_PHONE_SEP = r"[\s().+\-]*"
# Fewer digits than this match too much unrelated text to be a phone number.
_MIN_PHONE_DIGITS = 7
# The national part of a number: enough to match with or without a country code.
_NATIONAL_DIGITS = 10


@dataclass(frozen=True)
class Identifiers:
    """What identifies a subject in free text."""

    names: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    handles: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        return not (self.names or self.emails or self.phones or self.handles)


def digits(phone: str) -> str:
    """The digits of a phone number, in any format."""
    return re.sub(r"\D", "", phone)


def _phone_pattern(phone: str) -> str | None:
    d = digits(phone)
    if len(d) < _MIN_PHONE_DIGITS:
        return None
    d = d[-_NATIONAL_DIGITS:]
    # Optional country code and separators before, between and around the digits.
    body = _PHONE_SEP.join(d)
    return rf"(?<!\d)(?:\+?\d{{1,3}}{_PHONE_SEP})?{body}(?!\d)"


def _literal(value: str) -> str:
    return rf"(?<![\w.@]){re.escape(value)}(?![\w@])"


def compile_identifiers(ids: Identifiers) -> re.Pattern[str] | None:
    """One case-insensitive pattern for all of a subject's identifiers (None if none)."""
    parts: list[str] = []
    # Longest first, so "Jane Doe" wins over a shorter overlapping identifier.
    literals = sorted(
        {v.strip() for v in (*ids.names, *ids.emails, *ids.handles) if v and v.strip()},
        key=len,
        reverse=True,
    )
    parts.extend(_literal(v) for v in literals)
    parts.extend(p for p in map(_phone_pattern, ids.phones) if p)
    if not parts:
        return None
    return re.compile("|".join(parts), re.IGNORECASE)


def redact(text: str, pattern: re.Pattern[str] | None) -> str:
    """Replace every match of the subject's identifiers with REDACTED."""
    if pattern is None or not text:
        return text
    return pattern.sub(REDACTED, text)


def full_names(pairs: Iterable[tuple[str | None, str | None]]) -> tuple[str, ...]:
    """'First Last' for each (first, last) pair that has both."""
    return tuple(f"{first} {last}" for first, last in pairs if first and last)
