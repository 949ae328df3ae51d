"""The phrases a subject's names and addresses are looked for as: which form each is
(a full name, a pair, a family or given name alone, an address), and what the token
index is asked for it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum

from anonymizers.text.identity import PARTICLES, Identifiers, Name
from anonymizers.text.matches import Role
from anonymizers.text.normalize import fold
from anonymizers.text.patterns import TOKEN, subsequences

# Longer forms are not looked for (a name of seven words is written in fewer).
_MAX_FORM_WORDS = 6
# An address is a phrase from this many words up: one word alone is too common.
_MIN_ADDRESS_WORDS = 2


class Form(StrEnum):
    FULL = "full"  # the full name as stored
    PAIR = "pair"  # given and family names, in any order and subset
    FAMILY = "family"  # a family name alone
    GIVEN = "given"  # a given name alone: the subject's own rows only
    ADDRESS = "address"


@dataclass(frozen=True)
class Phrase:
    words: tuple[str, ...]
    form: Form
    roles: tuple[Role, ...] = ()
    comma: int = -1  # the gap (after word i) that may be a comma: "Doe, Jane"
    own_only: bool = False  # an address someone else has too
    written: str = ""  # an address as stored: its fake is the stored row's


def keys(phrase: Phrase) -> Iterator[tuple[str, ...]]:
    """What the index is asked for a phrase found outside the subject's own rows: all
    its words (a full name, a given and a family name: as selective as a name gets),
    a family name alone (only a form when no one else in the tenant has it), the
    address's words. A given name alone is only looked for in the subject's rows."""
    if phrase.form is Form.ADDRESS:
        if not phrase.own_only:
            yield phrase.words
        return
    if phrase.form is Form.GIVEN:
        return
    yield phrase.words


Phrases = dict[tuple[str, ...], list[Phrase]]


def phrases_of(ids: Identifiers, *, everyone: bool) -> Phrases:
    """The subject's names and addresses as phrases, by their words, the full name
    first among phrases of the same words. A form another person of the tenant also
    has every word of (`ids.namesakes`) is left out, unless everyone is the subject."""
    namesakes = [] if everyone else [frozenset(n) for n in ids.namesakes]
    phrases: Phrases = {}

    def add(phrase: Phrase) -> None:
        if not phrase.words or len(phrase.words) > _MAX_FORM_WORDS:
            return
        entries = phrases.setdefault(phrase.words, [])
        if phrase not in entries:
            entries.append(phrase)

    def ambiguous(form: tuple[str, ...]) -> bool:
        wanted = set(form)
        return any(wanted <= other for other in namesakes)

    for name in ids.names:
        for phrase in _name_phrases(name, ambiguous):
            add(phrase)
    shared = {fold(a) for a in ids.shared_addresses}
    for address in ids.addresses:
        key = tuple(TOKEN.findall(fold(address)))
        if len(key) >= _MIN_ADDRESS_WORDS:
            own_only = fold(address) in shared
            add(Phrase(key, Form.ADDRESS, own_only=own_only, written=address))
    order = list(Form)
    for entries in phrases.values():
        entries.sort(key=lambda p: order.index(p.form))  # the full name first
    return phrases


def _name_phrases(name: Name, ambiguous: Callable[[tuple[str, ...]], bool]) -> Iterator[Phrase]:
    given, family = name.given_words, name.family_words
    if given and family:
        roles = (Role.GIVEN,) * len(given) + (Role.FAMILY,) * len(family)
        yield Phrase(given + family, Form.FULL, roles)
    surnames = [f for f in subsequences(family) if set(f) - PARTICLES]
    for g in subsequences(given) if family else ():
        for f in surnames:
            if len(g) + len(f) > _MAX_FORM_WORDS or ambiguous(g + f):
                continue
            roles = (Role.GIVEN,) * len(g) + (Role.FAMILY,) * len(f)
            yield Phrase(g + f, Form.PAIR, roles)
            reverse = (Role.FAMILY,) * len(f) + (Role.GIVEN,) * len(g)
            yield Phrase(f + g, Form.PAIR, reverse, comma=len(f) - 1)
    for f in surnames:
        if not ambiguous(f):
            yield Phrase(f, Form.FAMILY, (Role.FAMILY,) * len(f))
    for word in given:
        if word not in PARTICLES:
            yield Phrase((word,), Form.GIVEN, (Role.GIVEN,))
