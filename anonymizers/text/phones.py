"""Phone numbers as E.164, read against a tenant's region with `phonenumbers`.

Two numbers are the same only if their E.164 forms are: "+1 207 946 0958" (Maine)
and "+44 20 7946 0958" (London) share ten national digits and are different
people. A number written without a country code is read in the tenant's region
(a tenant setting, docs/configuration.md); one written with an international
prefix but no "+" ("0044 20…", "011 44 20…", "wa.me/4420…") is read as
international when it is no valid number of the region.

`phonenumbers` is Google's libphonenumber in Python: the maintained source of every
country's numbering plan, which no hand-written rule would keep up with.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberMatcher

DEFAULT_REGION = "US"
MIN_DIGITS = 7
MAX_DIGITS = 17  # 15 of E.164, with an international prefix or a "(0)"
# International dialling prefixes written before a country code without "+".
_IDD = ("00", "011")
# ASCII digits only: the mention index's digit chains know no others.
_NON_DIGITS = re.compile(r"[^0-9]+")
_FOREIGN_DIGIT = re.compile(r"[^\D0-9]")
# A number as free text writes it: digits in groups, separated by at most three of
# space, dot, dash, slash or parentheses, optionally after "+".
CANDIDATE = re.compile(r"(?<![\w+])\(?\+?[0-9](?:[\s().\-/]{0,3}[0-9]){6,16}(?![0-9])")


@dataclass(frozen=True)
class Phone:
    """A phone number: its E.164 form and its national significant number."""

    e164: str  # "+12079460958"
    national: str  # "2079460958": every written form has these digits in a row
    valid: bool = True  # a number of the numbering plan (not merely of a possible length)


def digits(text: str) -> str:
    """The digits of a text, in any format."""
    return _NON_DIGITS.sub("", text)


def is_region(region: str) -> bool:
    """Whether `region` is a region code phonenumbers knows ("US", "GB", "DE"…)."""
    return region in phonenumbers.SUPPORTED_REGIONS


@lru_cache(maxsize=8192)
def parse(text: str, region: str) -> Phone | None:
    """The number `text` writes, read in `region`; None if it writes no number."""
    written = digits(text)
    if not MIN_DIGITS <= len(written) <= MAX_DIGITS:
        return None
    number = _parse(text, region)
    if (number is None or not phonenumbers.is_valid_number(number)) and "+" not in text:
        for international in _international(written):
            found = _parse("+" + international, region)
            if found is not None and phonenumbers.is_valid_number(found):
                number = found
                break
    # A number of a length its country cannot have is no number (two written as one).
    if number is None or not phonenumbers.is_possible_number(number):
        return None
    return _phone(number)


def _international(written: str) -> Iterator[str]:
    """The digits after an international prefix, then all of them (no prefix)."""
    for prefix in _IDD:
        if written.startswith(prefix):
            yield written[len(prefix) :]
    yield written


def _parse(text: str, region: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(text, region)
    except NumberParseException:
        return None


def _phone(number: phonenumbers.PhoneNumber) -> Phone:
    return Phone(
        e164=phonenumbers.format_number(number, PhoneNumberFormat.E164),
        national=phonenumbers.national_significant_number(number),
        valid=phonenumbers.is_valid_number(number),
    )


def stored_forms(phone: Phone, region: str) -> list[str]:
    """The digit strings a stored number of this E.164 can have, in any format the
    tenant's region reads back as it: the index looks these up, parse() confirms."""
    number = phonenumbers.parse(phone.e164, None)
    country = number.country_code or 0
    code = str(country)
    own = phonenumbers.region_code_for_country_code(country)
    forms = {code + phone.national, phone.national}
    for r in {own, region}:
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(r)
        if metadata is None:
            continue
        for prefix in (metadata.national_prefix, metadata.national_prefix_for_parsing):
            if prefix and prefix.isdigit():
                forms.add(prefix + phone.national)  # 020 7946 0958
                forms.add(code + prefix + phone.national)  # +44 (0)20 7946 0958
        idd = metadata.international_prefix
        if idd and idd.isdigit():
            forms.add(idd + code + phone.national)
    forms.update(prefix + code + phone.national for prefix in _IDD)
    return sorted(forms)


def find(text: str, region: str, wanted: Collection[str] = ()) -> Iterator[tuple[int, int, Phone]]:
    """Every phone number in `text` (folded, normalize.py): span and number.

    Candidates are digit groups (CANDIDATE) read by phonenumbers; a run of groups
    that is no number as a whole ("207 946 0958 / 207 946 0959") is tried group by
    group. phonenumbers' own matcher adds what it finds, where the groups are
    joined as CANDIDATE joins them (the mention index's digit chains need that).
    `wanted` (E.164 numbers): a run of groups read as one of these is taken before
    any other reading of the same groups."""
    seen: set[tuple[int, int]] = set()
    for m in CANDIDATE.finditer(text):
        whole = parse(m.group(), region)
        if whole is not None and phone_fits(whole, m.group()):
            # The groups are one number: none of them is another number's part
            # ("+44 20 7946 0958" holds a US number's ten digits, and is not it).
            seen.add(m.span())
            yield m.start(), m.end(), whole
            continue
        taken: list[tuple[int, int]] = []
        readings = []
        for start, end in _runs(text, m.start(), m.end())[1:]:
            phone = parse(text[start:end], region)
            if phone is not None and phone_fits(phone, text[start:end]):
                readings.append((start, end, phone))
        # The numbers asked for first, then valid ones, then the longest, left to right.
        readings.sort(
            key=lambda r: (r[2].e164 not in wanted, not r[2].valid, -len(r[2].national), r[0])
        )
        for start, end, phone in readings:
            if all(end <= s or start >= e for s, e in taken):
                taken.append((start, end))
                seen.add((start, end))
                yield start, end, phone
    for match in PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.POSSIBLE):
        span = (match.start, match.end)
        raw = match.raw_string
        if span not in seen and not _WIDE_GAP.search(raw) and not _FOREIGN_DIGIT.search(raw):
            if not any(s <= match.start < e for s, e in seen):
                yield match.start, match.end, _phone(match.number)


# Inside one number, groups are joined by at most three characters.
_WIDE_GAP = re.compile(r"(?<=[0-9])[^0-9]{4,}(?=[0-9])")
_GROUP = re.compile(r"[0-9]+")


def phone_fits(phone: Phone, written: str) -> bool:
    """A number read from a run of groups holds all of the run's digits (a run of
    two numbers read as one would drop some)."""
    return phone.national in digits(written)


def _runs(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The candidate whole, then every shorter run of its digit groups, longest first."""
    groups = [m.span() for m in _GROUP.finditer(text, start, end)]
    runs = [(start, end)]
    for size in range(len(groups) - 1, 0, -1):
        for i in range(len(groups) - size + 1):
            first, last = groups[i], groups[i + size - 1]
            count = sum(e - s for s, e in groups[i : i + size])
            if MIN_DIGITS <= count <= MAX_DIGITS:
                # A "+" or "(" right before the first group belongs to the number.
                s = first[0]
                while s > start and text[s - 1] in "+(":
                    s -= 1
                runs.append((s, last[1]))
    return runs
