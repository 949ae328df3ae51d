"""What identifies a subject: the identifier model a job is planned with.

Gathered from every data type when a job is accepted (and again when a scheduled
job starts): the subject's names (structured: given and family parts), emails,
phone numbers, handles and postal addresses, from typed columns and from the JSON
of its own rows. Beside them, what the tenant says about how precise each name
form is: the names of other people who share a family name with the subject
(`namesakes`), and the subject's addresses someone else has too.

Stored as JSON with the job while it runs (privacy_job_identifiers) and forgotten
when it ends.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from anonymizers.text import phones as numbers
from anonymizers.text.normalize import fold

# Lower-case particles of family names: never a family name alone ("van", "de").
PARTICLES = frozenset(
    "van von der den de del della di da das dos du la le ten ter bin ibn al el st".split()
)
# A word of a name, folded: letters, with inner apostrophes (o'brien).
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")
# An email address as written (any case).
EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}")
# Words of a custom field's key ("workPhone", "phone_2", "Telegram handle") that say
# what its value is.
_HANDLE_KEYS = frozenset(
    "telegram signal skype twitter instagram linkedin facebook handle username nickname "
    "wechat discord slack github mastodon tiktok x".split()
)
_PHONE_KEYS = frozenset(
    "phone telephone mobile cell cellphone tel fax whatsapp sms viber landline".split()
)
_KEY_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")
# A name of fewer words has no family name to tell from its given names.
_MIN_NAME_WORDS = 2
# The fewest digits a number written with separators ("(207) 946-0958") needs to be
# taken for a phone number.
_MIN_PHONE_DIGITS = 10
_HANDLE_VALUE = re.compile(r"@?[\w][\w.-]{2,63}")


def words(text: str) -> tuple[str, ...]:
    """The folded words of a name or a part of one ("Šimić-Novak" -> simic, novak)."""
    return tuple(_WORD.findall(fold(text)))


@dataclass(frozen=True)
class Name:
    """A person's name as stored: given names and family names, each as written."""

    given: str
    family: str

    @classmethod
    def of(cls, first: str | None, last: str | None) -> Name | None:
        """A name from first and last name columns (either may be empty)."""
        given, family = (first or "").strip(), (last or "").strip()
        if not words(given) and not words(family):
            return None
        return cls(given, family)

    @classmethod
    def parse(cls, full: str | None) -> Name | None:
        """A name from one string: "Family, Given", or given names then a family name
        (particles before it belong to it: "Ludwig van Beethoven")."""
        text = (full or "").strip()
        if "," in text:
            family, _, given = text.partition(",")
            return cls.of(given, family)
        parts = text.split()
        if len(parts) < _MIN_NAME_WORDS:
            return cls.of(text, None)
        first = len(parts) - 1
        while first > 1 and fold(parts[first - 1]) in PARTICLES:
            first -= 1
        return cls.of(" ".join(parts[:first]), " ".join(parts[first:]))

    @property
    def given_words(self) -> tuple[str, ...]:
        return words(self.given)

    @property
    def family_words(self) -> tuple[str, ...]:
        return words(self.family)

    def all_words(self) -> tuple[str, ...]:
        return self.given_words + self.family_words


@dataclass(frozen=True)
class Identifiers:
    """What identifies a subject in free text, and what the tenant says about it."""

    names: tuple[Name, ...] = ()
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()  # as written: read in `region`
    handles: tuple[str, ...] = ()  # @handles and visitor ids: matched as whole tokens
    addresses: tuple[str, ...] = ()
    # Tenant context. The region phone numbers without a country code are read in.
    region: str = numbers.DEFAULT_REGION
    # The folded name words of other people who share a family name word with the
    # subject: a name form they could also be is never matched (identity.py).
    namesakes: tuple[tuple[str, ...], ...] = ()
    # The subject's addresses (folded) that someone else in the tenant has too.
    shared_addresses: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        return not (self.names or self.emails or self.phones or self.handles or self.addresses)

    def family_words(self) -> tuple[str, ...]:
        """Every family-name word of the subject's names (particles left out)."""
        found = (w for n in self.names for w in n.family_words if w not in PARTICLES)
        return tuple(dict.fromkeys(found))

    def merged(self, *others: Identifiers) -> Identifiers:
        """These identifiers and the others', without repeats (tenant context: the last given)."""
        every = (self, *others)

        def union(values: Iterable[Any]) -> tuple[Any, ...]:
            return tuple(dict.fromkeys(values))

        last = every[-1]
        return Identifiers(
            names=union(n for i in every for n in i.names),
            emails=union(e for i in every for e in i.emails),
            phones=union(p for i in every for p in i.phones),
            handles=union(h for i in every for h in i.handles),
            addresses=union(a for i in every for a in i.addresses),
            region=last.region,
            namesakes=union(n for i in every for n in i.namesakes),
            shared_addresses=union(a for i in every for a in i.shared_addresses),
        )

    def to_json(self) -> str:
        data = {
            "names": [[n.given, n.family] for n in self.names],
            "emails": self.emails,
            "phones": self.phones,
            "handles": self.handles,
            "addresses": self.addresses,
            "region": self.region,
            "namesakes": self.namesakes,
            "shared_addresses": self.shared_addresses,
        }
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str) -> Identifiers:
        data = json.loads(raw)
        return cls(
            names=tuple(Name(g, f) for g, f in data.get("names", ())),
            emails=tuple(data.get("emails", ())),
            phones=tuple(data.get("phones", ())),
            handles=tuple(data.get("handles", ())),
            addresses=tuple(data.get("addresses", ())),
            region=data.get("region", numbers.DEFAULT_REGION),
            namesakes=tuple(tuple(n) for n in data.get("namesakes", ())),
            shared_addresses=tuple(data.get("shared_addresses", ())),
        )


@dataclass
class Harvest:
    """Identifiers found in a subject's own JSON (custom fields)."""

    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    handles: list[str] = field(default_factory=list)


def harvest_json(doc: Any) -> Harvest:
    """Emails, phone numbers and handles in the string values of a subject's own JSON.

    Emails anywhere; phone numbers where a whole value is written as one (with "+",
    or ten digits in groups), or has 7-17 digits under a phone-like key; handles only
    under a handle-like key ("telegram": "zoe_s"), as a bare word could be anything.
    Phone numbers are read in the tenant's region when searched for (redaction.py)."""
    found = Harvest()
    for key, value in _strings(doc, ""):
        found.emails.extend(EMAIL.findall(value))
        stripped = value.strip()
        count = len(numbers.digits(stripped))
        says = {w.lower() for w in _KEY_WORD.findall(key)}
        # A bare run of digits could be any id: a number only under a phone-like key,
        # or written as one ("+44 20 7946 0958", "(207) 946-0958").
        written_as_number = numbers.CANDIDATE.fullmatch(stripped) and (
            stripped.startswith("+") or (count >= _MIN_PHONE_DIGITS and not stripped.isdigit())
        )
        if written_as_number or (
            says & _PHONE_KEYS and numbers.MIN_DIGITS <= count <= numbers.MAX_DIGITS
        ):
            found.phones.append(stripped)
        elif says & _HANDLE_KEYS and _HANDLE_VALUE.fullmatch(stripped):
            found.handles.append(stripped)
    return found


def _strings(doc: Any, key: str) -> Iterator[tuple[str, str]]:
    """(nearest key, string value) for every string in a JSON document."""
    if isinstance(doc, str):
        yield key, doc
    elif isinstance(doc, dict):
        for k, v in doc.items():
            yield from _strings(v, str(k))
    elif isinstance(doc, list):
        for v in doc:
            yield from _strings(v, key)
