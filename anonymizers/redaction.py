"""Find a subject's identifiers in free text and replace them, leaving the rest as it was.

Text is searched as a reader sees it (normalize.py: entities, percent-encoding and
JSON escapes decoded, case and diacritics folded); a match is replaced over exactly
its original characters. The rules are precise on purpose, because erasing the
wrong person is worse than missing one (docs/data-map.md lists them):

- emails: the address itself (any case, any encoding), the same mailbox with a
  "+tag", and the subject's address written "jane at example dot com"; never the
  same local part at another domain, and no name is looked for inside an email;
- phone numbers: what phonenumbers reads as the subject's E.164 number, in the
  tenant's region (phones.py): never a number that only shares its digits;
- handles and visitor ids: whole tokens;
- names (forms from the subject's structured names):
  * the full name as stored, in any case, spelling and spacing;
  * given names and family names in any order and any subset that keeps a family
    name and a given name ("Šimić, Zoë", "Zoë Šimić" for "Zoë Anna Šimić-Novak");
  * a family name alone, capitalized or after a title ("Ms. Šimić");
  * a given name alone, capitalized, in the subject's own rows only;
  a form another person of the tenant could also be (`Identifiers.namesakes`) is
  never used, a standalone name never next to a capitalized word that is no part
  of the subject's name ("Ivan Šimić", "Zoë Novak"), and no name continues into a
  longer one ("Šimić-Horvat");
- postal addresses: word by word, in the subject's own rows, and elsewhere when
  no one else in the tenant has the same address.

`everyone=True` (a whole tenant, where every person is the subject) also takes
every email, phone number and @handle.
"""

from __future__ import annotations

import html
import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from itertools import combinations
from urllib.parse import quote

from anonymizers import phones, tokens
from anonymizers.identity import PARTICLES, Identifiers, Name, words
from anonymizers.normalize import WORD, Normalized, fold, normalize

REDACTED = "[redacted]"

_MAX_FORM_WORDS = 6
# Titles before a family name: "Ms. Doe", "Dr Doe", "Frau Šimić".
TITLES = frozenset(
    "mr mrs ms miss mx dr prof sir dame madam mme mlle herr frau sr sra srta dott dra".split()
)
_EMAIL = re.compile(
    r"(?<![\w.+-])(?P<local>[\w.+-]+)@(?P<domain>[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,})"
)
_HANDLE = re.compile(r"(?<![\w@.-])@?[\w][\w-]*(?:\.[\w-]+)*")
_TOKEN = WORD
# Between the words of a name: "Jane Doe", "Jane_Doe", "jane.doe", "Jane+Doe", "Jane-Doe".
_NAME_GAP = re.compile(r"[\s_.+\-]{1,3}")
# Between a family name and a given name written the other way round: "Doe, Jane",
# and a vCard's structured name or a semicolon-separated row: "N:Doe;Jane;;;".
_COMMA_GAP = re.compile(r"\s{0,2}[,;]\s{0,2}")
# Between a title and the name: "Ms. Doe", "Dr Doe".
_TITLE_GAP = re.compile(r"\.?\s{1,2}")
# Between the words of an address: "9 Elm St, Springfield".
_ADDRESS_GAP = re.compile(r"[\s,.#/\-]{1,4}")
# Short texts (addresses, subjects) recur across a tenant's rows: redacted once each.
_MEMO_CHARS = 200
_MEMO_ENTRIES = 20_000
_MIN_HANDLE = 3
# A handle matched without its "@" as well must be unlike a plain word.
_DISTINCT_HANDLE = re.compile(r"^(?=.*[\d_.\-])|^.{8,}$")
_DIGIT = re.compile("[0-9]")
_AT = r"\s*(?:@|\[at\]|\(at\)|\{at\}|\s+at\s+)\s*"
_DOT = r"(?:\.|\s*\[dot\]\s*|\s*\(dot\)\s*|\s*\{dot\}\s*|\s+dot\s+)"


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


def _redacted(_match: Match) -> str:
    return REDACTED


class _Form(StrEnum):
    FULL = "full"  # the full name as stored
    PAIR = "pair"  # given and family names, in any order and subset
    FAMILY = "family"  # a family name alone
    GIVEN = "given"  # a given name alone: the subject's own rows only
    ADDRESS = "address"


@dataclass(frozen=True)
class _Phrase:
    words: tuple[str, ...]
    form: _Form
    roles: tuple[Role, ...] = ()
    comma: int = -1  # the gap (after word i) that may be a comma: "Doe, Jane"
    own_only: bool = False  # an address someone else has too
    written: str = ""  # an address as stored: its fake is the stored row's


class Redactor:
    """Finds a subject's identifiers; `everyone=True` also takes every email, phone
    number and @handle (for a whole tenant, where every person is the subject)."""

    def __init__(self, ids: Identifiers, *, everyone: bool = False) -> None:
        self._ids = ids
        self._everyone = everyone
        self._region = ids.region
        self._emails = {fold(e.strip()) for e in ids.emails if "@" in e}
        self._email_words = self._obfuscated_emails() if not everyone else None
        self._phones: dict[str, phones.Phone] = {}
        self._raw_phones: set[str] = set()  # stored numbers phonenumbers cannot read
        for p in ids.phones:
            parsed = phones.parse(p, ids.region)
            if parsed is not None:
                self._phones[parsed.e164] = parsed
            elif len(phones.digits(p)) >= phones.MIN_DIGITS:
                self._raw_phones.add(phones.digits(p))
        self._nationals = {p.national for p in self._phones.values()} | self._raw_phones
        self._handles: set[str] = set()
        for h in ids.handles:
            folded = fold(h.strip())
            bare = folded.lstrip("@")
            if len(bare) < _MIN_HANDLE:
                continue
            if folded.startswith("@") or not _DISTINCT_HANDLE.search(bare):
                self._handles.add("@" + bare)
            if _DISTINCT_HANDLE.search(bare) or not folded.startswith("@"):
                self._handles.add(bare)
        # Phrases by their words; the first words alone, to skip most words fast.
        self._plain_handles = {h for h in self._handles if not h.startswith("@")}
        self._phrases: dict[tuple[str, ...], list[_Phrase]] = {}
        self._first_words: set[str] = set()
        self._longest = 0
        self._build_phrases()
        self._subject_words = {w for n in ids.names for w in n.all_words()}
        self._namesakes = [frozenset(n) for n in ids.namesakes]
        self._memo: dict[tuple[Replace, bool, str], str] = {}

    # --- building -----------------------------------------------------------------

    def _obfuscated_emails(self) -> re.Pattern[str] | None:
        """The subject's emails written to fool a harvester: "jane at example dot com"."""
        # Dots of the local part may be spelled out too: "zoe dot simic at …".
        forms = [_obfuscation(email) for email in sorted(self._emails)]
        if not forms:
            return None
        # Nor the start of a longer address: jane.doe@example.com.au is someone else's.
        return re.compile(rf"(?<![\w.+-])(?:{'|'.join(forms)})(?![\w-]|\.[\w-])")

    def _add(self, phrase: _Phrase) -> None:
        if not phrase.words or len(phrase.words) > _MAX_FORM_WORDS:
            return
        entries = self._phrases.setdefault(phrase.words, [])
        if phrase not in entries:
            entries.append(phrase)

    def _ambiguous(self, form: Iterable[str]) -> bool:
        """Another person of the tenant has every word of this form in their name."""
        if self._everyone:
            return False
        wanted = set(form)
        return any(wanted <= other for other in self._namesakes)

    def _build_phrases(self) -> None:
        self._namesakes = [frozenset(n) for n in self._ids.namesakes]
        for name in self._ids.names:
            self._name_phrases(name)
        shared = {fold(a) for a in self._ids.shared_addresses}
        for address in self._ids.addresses:
            key = tuple(_TOKEN.findall(fold(address)))
            if len(key) >= 2:
                own_only = fold(address) in shared
                self._add(_Phrase(key, _Form.ADDRESS, own_only=own_only, written=address))
        order = list(_Form)
        for entries in self._phrases.values():
            entries.sort(key=lambda p: order.index(p.form))  # the full name first
        self._first_words = {words[0] for words in self._phrases}
        self._longest = max(map(len, self._phrases), default=0)

    def _name_phrases(self, name: Name) -> None:
        given, family = name.given_words, name.family_words
        if given and family:
            roles = (Role.GIVEN,) * len(given) + (Role.FAMILY,) * len(family)
            self._add(_Phrase(given + family, _Form.FULL, roles))
        surnames = [f for f in _subsequences(family) if set(f) - PARTICLES]
        for g in _subsequences(given) if family else ():
            for f in surnames:
                if len(g) + len(f) > _MAX_FORM_WORDS or self._ambiguous(g + f):
                    continue
                roles = (Role.GIVEN,) * len(g) + (Role.FAMILY,) * len(f)
                self._add(_Phrase(g + f, _Form.PAIR, roles))
                reverse = (Role.FAMILY,) * len(f) + (Role.GIVEN,) * len(g)
                self._add(_Phrase(f + g, _Form.PAIR, reverse, comma=len(f) - 1))
        for f in surnames:
            if not self._ambiguous(f):
                self._add(_Phrase(f, _Form.FAMILY, (Role.FAMILY,) * len(f)))
        for word in given:
            if word not in PARTICLES:
                self._add(_Phrase((word,), _Form.GIVEN, (Role.GIVEN,)))

    # --- asking -------------------------------------------------------------------

    def is_empty(self) -> bool:
        return not (
            self._everyone
            or self._emails
            or self._phones
            or self._raw_phones
            or self._handles
            or self._phrases
        )

    def find(self, text: str, *, own: bool = False) -> list[Match]:
        """Every identifier in text, in order, not overlapping. `own`: the text is one of
        the subject's own rows (a given name alone counts there)."""
        if not text or self.is_empty():
            return []
        n = normalize(text)
        folded = n.text
        found: list[tuple[int, int, Kind, str, tuple[Part, ...]]] = []
        opaque: list[tuple[int, int]] = []  # emails and phone numbers: no names inside
        if "@" in folded or (self._email_words is not None and "at" in folded):
            for m in _EMAIL.finditer(folded):
                opaque.append(m.span())
                email = self._email(m)
                if email is not None:
                    found.append((m.start(), m.end(), Kind.EMAIL, email, ()))
            if self._email_words is not None:
                for m in self._email_words.finditer(folded):
                    opaque.append(m.span())
                    found.append((m.start(), m.end(), Kind.EMAIL, self._obfuscated(m), ()))
        if self._everyone or self._nationals:
            for start, end, e164 in self._find_phones(folded):
                opaque.append((start, end))
                found.append((start, end, Kind.PHONE, e164, ()))
        # Every word is handle-shaped: looked at one by one only where one can match.
        if ("@" in folded and (self._handles or self._everyone)) or (
            self._plain_handles and not self._plain_handles.isdisjoint(_HANDLE.findall(folded))
        ):
            for m in _HANDLE.finditer(folded):
                value = m.group()
                if value in self._handles or (self._everyone and value.startswith("@")):
                    found.append((m.start(), m.end(), Kind.HANDLE, value, ()))
        if self._phrases:
            found.extend(self._find_phrases(n, opaque, own=own))
        found.sort(key=lambda f: (f[0], -f[1]))
        result: list[Match] = []
        end = -1
        for start, stop, kind, canonical, parts in found:
            if start < end:
                continue
            s, e = n.span(start, stop)
            result.append(
                Match(s, e, kind, text[s:e], canonical, parts, encoded=n.encoded(start, stop))
            )
            end = stop
        return result

    def _email(self, m: re.Match[str]) -> str | None:
        email = m.group()
        if self._everyone or email in self._emails:
            return email
        # The same mailbox with a sub-address: jane+news@example.com is jane@example.com.
        local, plus, _ = m.group("local").partition("+")
        if plus and f"{local}@{m.group('domain')}" in self._emails:
            return f"{local}@{m.group('domain')}"
        return None

    def _obfuscated(self, m: re.Match[str]) -> str:
        """The subject's email an obfuscated one spells (the canonical, for fakes)."""
        for email in self._emails:
            if re.fullmatch(_obfuscation(email), m.group()):
                return email
        return m.group()

    def _find_phones(self, folded: str) -> Iterator[tuple[int, int, str]]:
        if not _DIGIT.search(folded):
            return
        if self._everyone:
            # Every number goes: no need to read one. Its digits key its fake, as the
            # E.164 form would (fakes.phone uses the last ten digits).
            for m in phones.CANDIDATE.finditer(folded):
                yield m.start(), m.end(), phones.digits(m.group())
            return
        # Only where the subject's national digits appear at all: parsing costs.
        all_digits = phones.digits(folded)
        if not any(national in all_digits for national in self._nationals):
            return
        for start, end, phone in phones.find(folded, self._region, self._phones):
            if phone.e164 in self._phones:
                yield start, end, phone.e164
        if self._raw_phones:
            for m in phones.CANDIDATE.finditer(folded):
                if phones.digits(m.group()) in self._raw_phones:
                    yield m.start(), m.end(), phones.digits(m.group())

    def _find_phrases(
        self, n: Normalized, opaque: list[tuple[int, int]], *, own: bool
    ) -> Iterator[tuple[int, int, Kind, str, tuple[Part, ...]]]:
        folded = n.text
        first_words = self._first_words
        if first_words.isdisjoint(_TOKEN.findall(folded)) and "'s" not in folded:
            return  # most texts name no one: a set lookup a word, in C
        toks = list(_TOKEN.finditer(folded))
        if opaque:
            starts, ends = _merged(opaque)
            toks = [m for m in toks if not _inside(m.start(), starts, ends)]
        keys = [m.group() for m in toks]
        # A possessive ("Doe's") is the name and an "'s".
        if "'s" in folded:
            for i, key in enumerate(keys):
                if key.endswith("'s") and key not in first_words:
                    keys[i] = key[:-2]
        phrases = self._phrases
        i = 0
        while i < len(toks):
            if keys[i] not in first_words:
                i += 1
                continue
            hit = None
            for size in range(min(self._longest, len(toks) - i), 0, -1):
                for phrase in phrases.get(tuple(keys[i : i + size]), ()):
                    if self._fits(n, toks, keys, i, phrase, own=own):
                        hit = phrase
                        break
                if hit is not None:
                    break
            if hit is None:
                i += 1
                continue
            size = len(hit.words)
            start = toks[i].start()
            end = toks[i].start() + len(keys[i]) if size == 1 else toks[i + size - 1].end()
            if size > 1 and keys[i + size - 1] != toks[i + size - 1].group():
                end = toks[i + size - 1].start() + len(keys[i + size - 1])
            if hit.form is _Form.ADDRESS:
                yield start, end, Kind.ADDRESS, hit.written, ()
            else:
                parts = []
                for j, role in zip(range(i, i + size), hit.roles, strict=True):
                    word_end = toks[j].start() + len(keys[j])
                    s, e = n.span(toks[j].start(), word_end)
                    parts.append(Part(s, e, role, keys[j]))
                yield start, end, Kind.NAME, " ".join(hit.words), tuple(parts)
            i += size

    def _fits(
        self,
        n: Normalized,
        toks: list[re.Match[str]],
        keys: list[str],
        i: int,
        phrase: _Phrase,
        *,
        own: bool,
    ) -> bool:
        """Whether the phrase found at word i is the subject, by its form's rules."""
        folded = n.text
        size = len(phrase.words)
        last = i + size - 1
        # The words must be one run: only gaps of their kind between them.
        for j in range(i, last):
            gap = folded[toks[j].end() : toks[j + 1].start()]
            if phrase.form is _Form.ADDRESS:
                if not _ADDRESS_GAP.fullmatch(gap):
                    return False
            elif not (
                _NAME_GAP.fullmatch(gap) or (j - i == phrase.comma and _COMMA_GAP.fullmatch(gap))
            ):
                return False
        if phrase.form is _Form.ADDRESS:
            return own or not phrase.own_only
        if phrase.form is _Form.GIVEN and not own:
            return False
        before = folded[toks[i - 1].end() : toks[i].start()] if i > 0 else None
        after = folded[toks[last].end() : toks[last + 1].start()] if last + 1 < len(toks) else None
        # A name does not go on into a longer one: "Šimić-Horvat", "Jane-Marie".
        if (before is not None and before == "-") or (after is not None and after == "-"):
            return False
        matched = set(phrase.words)
        # Nor into a namesake's: "Zoë Šimić Horvat" when someone is called that, or
        # "Abbott, Ann" when the subject is Ann Baker and Ann Abbott is someone else.
        for j, side in ((i - 1, before), (last + 1, after)):
            if side is not None and (_NAME_GAP.fullmatch(side) or _COMMA_GAP.fullmatch(side)):
                if any(matched | {keys[j]} <= other for other in self._namesakes):
                    return False
        if phrase.form in (_Form.FULL, _Form.PAIR):
            return True
        titled = i > 0 and keys[i - 1] in TITLES and _TITLE_GAP.fullmatch(before or "")
        if not titled and not n.source(toks[i].start()).isupper():
            return False  # standalone names are capitalized: "Baker", not "baker"
        # A standalone given name is not the first of someone else's full name
        # ("Zoë Novak"), a family name not the last ("Ivan Šimić").
        # Written the other way round, nor the last of "Novak, Zoë", nor the first of
        # "Šimić, Ivan".
        if phrase.form is _Form.GIVEN and after is not None and _NAME_GAP.fullmatch(after):
            word = last + 1
            if self._foreign_name_word(n, toks, keys, word):
                return False
        if phrase.form is _Form.GIVEN and before is not None and _COMMA_GAP.fullmatch(before):
            if self._foreign_name_word(n, toks, keys, i - 1):
                return False
        if phrase.form is _Form.FAMILY and not titled and before is not None:
            if _NAME_GAP.fullmatch(before) and self._foreign_name_word(n, toks, keys, i - 1):
                return False
        if phrase.form is _Form.FAMILY and not titled and after and _COMMA_GAP.fullmatch(after):
            if self._foreign_name_word(n, toks, keys, last + 1):
                return False
        return True

    def _foreign_name_word(
        self, n: Normalized, toks: list[re.Match[str]], keys: list[str], j: int
    ) -> bool:
        """A capitalized word that is none of the subject's names nor a title."""
        key = keys[j]
        if key in TITLES or key in self._subject_words or not key.isalpha():
            return False
        return n.source(toks[j].start()).isupper()

    # --- the index ----------------------------------------------------------------

    def sql_tsqueries(self) -> list[str] | None:
        """tsqueries for the mention index (anonymizers/tokens.py), one of which matches
        every row whose text this redactor may change outside the subject's own rows;
        None when rows must be scanned."""
        if self._everyone:
            return None
        phrases = [w for entries in self._phrases.values() for p in entries for w in _keys(p)]
        return tokens.tsqueries(
            names=sorted({tuple(sorted(set(words))) for words in phrases}),
            emails=sorted(self._emails),
            nationals=sorted(self._nationals),
            handles=sorted(self._handles),
        )

    def token_groups(self) -> list[tuple[str, ...]] | None:
        """For each identifier, the tokens (filetokens.py) every text it is found in
        outside the subject's own rows holds; None for a whole tenant."""
        if self._everyone:
            return None
        groups = [
            tuple(run for w in words for run in _RUN.findall(w))
            for entries in self._phrases.values()
            for p in entries
            for words in _keys(p)
        ]
        for email in self._emails:
            runs = _RUN.findall(email)
            groups.append(tuple(runs[:-1]))  # the last run may go on in the text
        groups += [tuple(_RUN.findall(h)) for h in self._handles]
        groups += [tuple(_grams(n)) for n in self._nationals]
        return [g for g in dict.fromkeys(groups) if g] if all(groups) else None

    # --- replacing ----------------------------------------------------------------

    def redact(self, text: str, replace: Replace = _redacted, *, own: bool = False) -> str:
        """Replace every identifier; everything between them stays as it was."""
        if not text or self.is_empty():
            return text
        if len(text) > _MEMO_CHARS:
            return self._redact(text, replace, own)
        memo_key = (replace, own, text)
        done = self._memo.get(memo_key)
        if done is None:
            if len(self._memo) >= _MEMO_ENTRIES:
                self._memo.clear()
            done = self._memo[memo_key] = self._redact(text, replace, own)
        return done

    def _redact(self, text: str, replace: Replace, own: bool) -> str:
        out: list[str] = []
        pos = 0
        for m in self.find(text, own=own):
            out.append(text[pos : m.start])
            out.append(_encoded_like(m, replace(m)))
            pos = m.end
        out.append(text[pos:])
        return "".join(out)


def _obfuscation(email: str) -> str:
    """A regex of an email written to fool a harvester: "jane at example dot com"."""
    local, _, domain = email.partition("@")
    parts = [_DOT.join(re.escape(p) for p in part.split(".")) for part in (local, domain)]
    return parts[0] + _AT + parts[1]


def _keys(phrase: _Phrase) -> Iterator[tuple[str, ...]]:
    """What the index is asked for a phrase found outside the subject's own rows: all
    its words (a full name, a given and a family name: as selective as a name gets),
    a family name alone (only a form when no one else in the tenant has it), the
    address's words. A given name alone is only looked for in the subject's rows."""
    if phrase.form is _Form.ADDRESS:
        if not phrase.own_only:
            yield phrase.words
        return
    if phrase.form is _Form.GIVEN:
        return
    yield phrase.words


# The tokens of folded text: runs of letters and digits (filetokens.py).
_RUN = re.compile(r"[^\W_]+")
_PHONE_GRAM = 7


def _grams(number: str) -> list[str]:
    return [number[i : i + _PHONE_GRAM] for i in range(len(number) - _PHONE_GRAM + 1)]


def _subsequences(items: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Every non-empty subsequence, in order."""
    return [c for k in range(1, len(items) + 1) for c in combinations(items, k)]


def _merged(spans: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    """Overlapping spans merged, as sorted starts and their ends (for _inside)."""
    starts: list[int] = []
    ends: list[int] = []
    for s, e in sorted(spans):
        if ends and s <= ends[-1]:
            ends[-1] = max(ends[-1], e)
        else:
            starts.append(s)
            ends.append(e)
    return starts, ends


def _inside(at: int, starts: list[int], ends: list[int]) -> bool:
    i = bisect_right(starts, at) - 1
    return i >= 0 and at < ends[i]


def _encoded_like(match: Match, replacement: str) -> str:
    """The replacement written the way the original was: percent-encoded in a URL,
    as HTML where the original held entities."""
    if match.encoded:
        return quote(replacement, safe="")
    if "&" in match.text and ";" in match.text:
        return html.escape(replacement, quote=False)
    return replacement


def name_words(text: str) -> tuple[str, ...]:
    """The folded words of a name, as the redactor compares them."""
    return words(text)
