"""What an identifier becomes when it is anonymized: the fake of its kind, the same
wherever and however it is written (a name word by word, keeping its case and what
stands between the words)."""

from __future__ import annotations

from collections.abc import Callable

from anonymizers.text.fakes import Fakes
from anonymizers.text.identity import Name
from anonymizers.text.matches import Kind, Match, Replace, Role
from anonymizers.text.normalize import WORD, normalize

# Fakes a replacer remembers (bounded: a tenant names many people).
_FAKES_REMEMBERED = 50_000


def fake_name(fakes: Fakes, written: str, role: Role) -> str:
    """A name as written ("Zoë Anna", "Šimić-Novak"), each word replaced by its fake
    (the same for every spelling of the word, in the case it was written in); what
    stands between the words stays."""
    n = normalize(written)
    out, pos = [], 0
    for m in WORD.finditer(n.text):
        start, end = n.span(m.start(), m.end())
        out.append(written[pos:start])
        fake = fakes.first_name(m.group()) if role is Role.GIVEN else fakes.last_name(m.group())
        original = written[start:end]
        out.append(fake.upper() if original.isupper() and len(original) > 1 else fake)
        pos = end
    out.append(written[pos:])
    return "".join(out)


def fake_full_name(fakes: Fakes, written: str) -> str:
    """A full name in one string ("Zoë Šimić", "Šimić, Zoë"), each word faked by its
    role, as the same words are wherever else the name appears."""
    name = Name.parse(written)
    if name is None:
        return written
    family = len(name.family_words)
    n = normalize(written)
    found = list(WORD.finditer(n.text))
    reverse = "," in written  # "Family, Given"
    out, pos = [], 0
    for i, m in enumerate(found):
        is_family = i < family if reverse else i >= len(found) - family
        start, end = n.span(m.start(), m.end())
        out.append(written[pos:start])
        out.append(fake_name(fakes, written[start:end], Role.FAMILY if is_family else Role.GIVEN))
        pos = end
    out.append(written[pos:])
    return "".join(out)


def fake_replacer(fakes: Fakes) -> Replace:
    """Each identifier becomes the fake of its kind: the same one wherever it appears,
    however it is written (fakes are keyed by the folded identifier)."""
    by_kind: dict[Kind, Callable[[str], str]] = {
        Kind.EMAIL: fakes.email,
        Kind.PHONE: fakes.phone,
        Kind.HANDLE: fakes.like,
        Kind.ADDRESS: fakes.address,
    }

    def fake(match: Match) -> str:
        if match.kind is not Kind.NAME:
            return by_kind[match.kind](match.canonical)
        # Each word of the name becomes the fake of the subject's word it is; what
        # stands between them (a title, a comma, a hyphen) stays.
        out, pos = [], match.start
        for part in match.parts:
            out.append(match.text[pos - match.start : part.start - match.start])
            written = match.text[part.start - match.start : part.end - match.start]
            fake_word = fake_name(fakes, part.canonical, part.role)
            out.append(fake_word.upper() if written.isupper() and len(written) > 1 else fake_word)
            pos = part.end
        out.append(match.text[pos - match.start :])
        return "".join(out)

    # A person is named again and again in a tenant's text: each fake made once.
    made: dict[tuple[Kind, str, str], str] = {}

    def replace(match: Match) -> str:
        key = (match.kind, match.canonical, match.text)
        done = made.get(key)
        if done is None:
            if len(made) >= _FAKES_REMEMBERED:
                made.clear()
            done = made[key] = fake(match)
        return done

    return replace
