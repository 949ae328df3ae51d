"""Deterministic, realistic fakes keyed by a tenant secret.

Every choice comes from HMAC-SHA256(key, kind + "\\0" + normalized input): the same key and
input always give the same fake (inputs are folded as normalize.py folds text, so "Zoë",
"ZOË" and "Zoe" give one fake) (so references stay consistent across tables and runs),
different keys give unrelated fakes, and nothing is stored that could map a fake back.
Picks index into tuples built once at import, so one call costs one HMAC and a few divmods.
"""

from __future__ import annotations

import hmac
import re

from faker.providers.address.en_US import Provider as _Address
from faker.providers.person.en_US import Provider as _Person

from anonymizers.text.normalize import fold

__all__ = ["Fakes"]

_FIRST: tuple[str, ...] = tuple(_Person.first_names)
_LAST: tuple[str, ...] = tuple(_Person.last_names)
# Lowercase twins for the "differs from the input" check and for emails and handles.
_FIRST_LC = tuple(n.lower() for n in _FIRST)
_LAST_LC = tuple(n.lower() for n in _LAST)
_STREET_SUFFIXES: tuple[str, ...] = tuple(dict.fromkeys(_Address.street_suffixes))
_CITY_PREFIXES: tuple[str, ...] = tuple(dict.fromkeys(_Address.city_prefixes))
_CITY_SUFFIXES: tuple[str, ...] = tuple(dict.fromkeys(_Address.city_suffixes))
# The four shapes of faker's en_US city_formats, by number: the first two begin with a
# prefix ("North"); the last is named after a last name, the others after a first
# name; the second has no suffix ("-ville").
_CITY_FORMS_WITH_PREFIX = 2
_CITY_FORM_OF_A_LAST_NAME = 3
_CITY_FORM_WITHOUT_SUFFIX = 1
# ZIP ranges per state so a fake address's ZIP agrees with its state.
_STATES: tuple[tuple[str, int, int], ...] = tuple(
    (s, *_Address.states_postcode[s]) for s in _Address.states_abbr
)
# Reserved for documentation and testing (RFC 2606 / RFC 6761): mail to them never arrives.
_EMAIL_DOMAINS = ("example.com", "example.net", "example.org", "mail.example", "inbox.test")
_SEPARATORS = (".", "_", "")
# NANP area codes NXX: N is 2-9; N11 are service codes and N9X are reserved for expansion.
_AREA_CODES = tuple(
    f"{a}{b}{c}"
    for a in range(2, 10)
    for b in range(9)
    for c in range(10)
    if not (b == 1 and c == 1)
)
_NATIONAL_DIGITS = 10
_NON_DIGITS = re.compile(r"[^0-9]+")
_EMAIL_SHAPE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PHONE_SHAPE = re.compile(r"[0-9+()\-. ]+")
_PHONE_MIN_DIGITS, _PHONE_MAX_DIGITS = 7, 15


class Fakes:
    """Map real values to stable fakes under one tenant's secret."""

    __slots__ = ("_mac",)

    def __init__(self, key: bytes) -> None:
        if not key:
            raise ValueError("the fakes key must not be empty")
        # A keyed HMAC copied per call skips re-deriving the key pads every time.
        self._mac = hmac.new(key, digestmod="sha256")

    def _number(self, kind: str, text: str) -> int:
        """Return the digest of kind and normalized text as one 256-bit integer."""
        mac = self._mac.copy()
        mac.update(f"{kind}\0{text}".encode())
        return int.from_bytes(mac.digest(), "big")

    def first_name(self, original: str) -> str:
        """Return a first name that is not the original."""
        norm = fold(original.strip())
        i = self._number("first_name", norm) % len(_FIRST)
        if _FIRST_LC[i] == norm:
            i = (i + 1) % len(_FIRST)
        return _FIRST[i]

    def last_name(self, original: str) -> str:
        """Return a last name that is not the original."""
        norm = fold(original.strip())
        i = self._number("last_name", norm) % len(_LAST)
        if _LAST_LC[i] == norm:
            i = (i + 1) % len(_LAST)
        return _LAST[i]

    def full_name(self, first: str, last: str) -> str:
        """Return "First Last" with each part faked on its own."""
        return f"{self.first_name(first)} {self.last_name(last)}"

    def email(self, original: str) -> str:
        """Return an email at a reserved domain that is not the original."""
        norm = fold(original.strip())
        n = self._number("email", norm)
        n, i = divmod(n, len(_FIRST_LC))
        n, j = divmod(n, len(_LAST_LC))
        n, sep = divmod(n, len(_SEPARATORS))
        n, dom = divmod(n, len(_EMAIL_DOMAINS))
        digits = n % 100
        local = f"{_FIRST_LC[i]}{_SEPARATORS[sep]}{_LAST_LC[j]}"
        fake = f"{local}{digits:02d}@{_EMAIL_DOMAINS[dom]}"
        if fake == norm:
            fake = f"{local}{(digits + 1) % 100:02d}@{_EMAIL_DOMAINS[dom]}"
        return fake

    def phone(self, original: str) -> str:
        """Return a fictional +1 (AAA) 555-01XX number."""
        return self._phone(_NON_DIGITS.sub("", original))

    def _phone(self, digits: str) -> str:
        """Return the fake number for the digits of a phone number.

        Keyed by the last ten digits, as earlier releases were (test_fakes pins it):
        callers pass the E.164 form, so every way of writing one number gets one fake;
        two numbers abroad that share ten digits share a fake, which names neither."""
        digits = digits[-_NATIONAL_DIGITS:]
        n = self._number("phone", digits)
        n, area = divmod(n, len(_AREA_CODES))
        line = n % 100
        if digits == f"{_AREA_CODES[area]}55501{line:02d}":
            line = (line + 1) % 100
        return f"+1 ({_AREA_CODES[area]}) 555-01{line:02d}"

    def address(self, original: str) -> str:
        """Return a US street address whose ZIP lies in its state's range."""
        n = self._number("address", " ".join(fold(original).split()))
        n, width = divmod(n, 3)
        low = 10 ** (width + 2)  # 3 to 5 digits, like faker's building numbers
        n, number = divmod(n, low * 9)
        n, street = divmod(n, len(_LAST))
        n, street_suffix = divmod(n, len(_STREET_SUFFIXES))
        n, city_form = divmod(n, 4)
        n, city_first = divmod(n, len(_FIRST))
        n, city_last = divmod(n, len(_LAST))
        n, city_prefix = divmod(n, len(_CITY_PREFIXES))
        n, city_suffix = divmod(n, len(_CITY_SUFFIXES))
        n, state = divmod(n, len(_STATES))
        abbr, zip_low, zip_high = _STATES[state]
        zip5 = zip_low + n % (zip_high - zip_low + 1)
        # The four shapes of faker's en_US city_formats.
        prefix = f"{_CITY_PREFIXES[city_prefix]} " if city_form < _CITY_FORMS_WITH_PREFIX else ""
        name = _LAST[city_last] if city_form == _CITY_FORM_OF_A_LAST_NAME else _FIRST[city_first]
        suffix = "" if city_form == _CITY_FORM_WITHOUT_SUFFIX else _CITY_SUFFIXES[city_suffix]
        city = f"{prefix}{name}{suffix}"
        street_name = f"{_LAST[street]} {_STREET_SUFFIXES[street_suffix]}"
        return f"{low + number} {street_name}, {city}, {abbr} {zip5:05d}"

    def handle(self, original: str) -> str:
        """Return a Telegram-style @username that is not the original."""
        norm = fold(original.strip()).lstrip("@")
        n = self._number("handle", norm)
        n, i = divmod(n, len(_FIRST_LC))
        n, j = divmod(n, len(_LAST_LC))
        n, underscore = divmod(n, 2)
        # Names are 2-11 ASCII letters, so this is 6-26 characters, starting with a letter.
        name = f"{_FIRST_LC[i]}{'_' * underscore}{_LAST_LC[j]}"
        digits = n % 100
        if f"{name}{digits:02d}" == norm:
            digits = (digits + 1) % 100
        return f"@{name}{digits:02d}"

    def token(self, original: str, prefix: str = "anon") -> str:
        """Return an opaque "{prefix}-{16 hex}" pseudonym."""
        # The prefix stays out of the digest: one id gets the same hex under any label.
        return f"{prefix}-{self._number('token', original) >> 192:016x}"

    def like(self, value: str) -> str:
        """Return the fake that fits the shape of value: email, phone, handle or token."""
        text = value.strip()
        if _EMAIL_SHAPE.fullmatch(text):
            return self.email(text)
        if text.startswith("@"):
            return self.handle(text)
        if _PHONE_SHAPE.fullmatch(text):
            digits = _NON_DIGITS.sub("", text)
            if _PHONE_MIN_DIGITS <= len(digits) <= _PHONE_MAX_DIGITS:
                return self._phone(digits)
        return self.token(value)
