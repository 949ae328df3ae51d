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

import re
from collections.abc import Iterator

from anonymizers.text import phones, tokens
from anonymizers.text.identity import Identifiers, words
from anonymizers.text.matches import (
    Kind,
    Match,
    Part,
    Replace,
    encoded_like,
    inside,
    merged,
    redacted,
)
from anonymizers.text.normalize import Normalized, fold, normalize
from anonymizers.text.patterns import (
    ADDRESS_GAP,
    COMMA_GAP,
    DIGIT,
    DISTINCT_HANDLE,
    EMAIL,
    HANDLE,
    MIN_HANDLE,
    NAME_GAP,
    RUN,
    TITLE_GAP,
    TOKEN,
    grams,
    obfuscation,
)
from anonymizers.text.phrases import Form, Phrase, keys, phrases_of

# Short texts (addresses, subjects) recur across a tenant's rows: redacted once each.
_MEMO_CHARS = 200
_MEMO_ENTRIES = 20_000
# Titles before a family name: "Ms. Doe", "Dr Doe", "Frau Šimić".
TITLES = frozenset(
    "mr mrs ms miss mx dr prof sir dame madam mme mlle herr frau sr sra srta dott dra".split()
)


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
            if len(bare) < MIN_HANDLE:
                continue
            if folded.startswith("@") or not DISTINCT_HANDLE.search(bare):
                self._handles.add("@" + bare)
            if DISTINCT_HANDLE.search(bare) or not folded.startswith("@"):
                self._handles.add(bare)
        # Phrases by their words; the first words alone, to skip most words fast.
        self._plain_handles = {h for h in self._handles if not h.startswith("@")}
        self._phrases = phrases_of(ids, everyone=everyone)
        self._first_words = {words[0] for words in self._phrases}
        self._longest = max(map(len, self._phrases), default=0)
        self._subject_words = {w for n in ids.names for w in n.all_words()}
        self._namesakes = [frozenset(n) for n in ids.namesakes]
        self._memo: dict[tuple[Replace, bool, str], str] = {}

    # --- building -----------------------------------------------------------------

    def _obfuscated_emails(self) -> re.Pattern[str] | None:
        """The subject's emails written to fool a harvester: "jane at example dot com"."""
        # Dots of the local part may be spelled out too: "zoe dot simic at …".
        forms = [obfuscation(email) for email in sorted(self._emails)]
        if not forms:
            return None
        # Nor the start of a longer address: jane.doe@example.com.au is someone else's.
        return re.compile(rf"(?<![\w.+-])(?:{'|'.join(forms)})(?![\w-]|\.[\w-])")

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
            self._find_emails(folded, found, opaque)
        if self._everyone or self._nationals:
            for start, end, e164 in self._find_phones(folded):
                opaque.append((start, end))
                found.append((start, end, Kind.PHONE, e164, ()))
        # Every word is handle-shaped: looked at one by one only where one can match.
        if ("@" in folded and (self._handles or self._everyone)) or (
            self._plain_handles and not self._plain_handles.isdisjoint(HANDLE.findall(folded))
        ):
            for m in HANDLE.finditer(folded):
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

    def _find_emails(
        self,
        folded: str,
        found: list[tuple[int, int, Kind, str, tuple[Part, ...]]],
        opaque: list[tuple[int, int]],
    ) -> None:
        """The subject's emails (every email, for everyone), written out or obfuscated,
        added to `found`; every email's span, the subject's or not, to `opaque`."""
        for m in EMAIL.finditer(folded):
            opaque.append(m.span())
            email = self._email(m)
            if email is not None:
                found.append((m.start(), m.end(), Kind.EMAIL, email, ()))
        if self._email_words is not None:
            for m in self._email_words.finditer(folded):
                opaque.append(m.span())
                found.append((m.start(), m.end(), Kind.EMAIL, self._obfuscated(m), ()))

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
            if re.fullmatch(obfuscation(email), m.group()):
                return email
        return m.group()

    def _find_phones(self, folded: str) -> Iterator[tuple[int, int, str]]:
        if not DIGIT.search(folded):
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

    def _find_phrases(  # noqa: PLR0912 - one pass of the phrase matcher; split, it reads worse
        self, n: Normalized, opaque: list[tuple[int, int]], *, own: bool
    ) -> Iterator[tuple[int, int, Kind, str, tuple[Part, ...]]]:
        folded = n.text
        first_words = self._first_words
        if first_words.isdisjoint(TOKEN.findall(folded)) and "'s" not in folded:
            return  # most texts name no one: a set lookup a word, in C
        toks = list(TOKEN.finditer(folded))
        if opaque:
            starts, ends = merged(opaque)
            toks = [m for m in toks if not inside(m.start(), starts, ends)]
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
            if hit.form is Form.ADDRESS:
                yield start, end, Kind.ADDRESS, hit.written, ()
            else:
                parts = []
                for j, role in zip(range(i, i + size), hit.roles, strict=True):
                    word_end = toks[j].start() + len(keys[j])
                    s, e = n.span(toks[j].start(), word_end)
                    parts.append(Part(s, e, role, keys[j]))
                yield start, end, Kind.NAME, " ".join(hit.words), tuple(parts)
            i += size

    def _fits(  # noqa: PLR0911, PLR0912 - the forms' rules, one after another, each a return
        self,
        n: Normalized,
        toks: list[re.Match[str]],
        keys: list[str],
        i: int,
        phrase: Phrase,
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
            if phrase.form is Form.ADDRESS:
                if not ADDRESS_GAP.fullmatch(gap):
                    return False
            elif not (
                NAME_GAP.fullmatch(gap) or (j - i == phrase.comma and COMMA_GAP.fullmatch(gap))
            ):
                return False
        if phrase.form is Form.ADDRESS:
            return own or not phrase.own_only
        if phrase.form is Form.GIVEN and not own:
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
            if side is not None and (NAME_GAP.fullmatch(side) or COMMA_GAP.fullmatch(side)):
                if any(matched | {keys[j]} <= other for other in self._namesakes):
                    return False
        if phrase.form in (Form.FULL, Form.PAIR):
            return True
        titled = i > 0 and keys[i - 1] in TITLES and TITLE_GAP.fullmatch(before or "")
        if not titled and not n.source(toks[i].start()).isupper():
            return False  # standalone names are capitalized: "Baker", not "baker"
        # A standalone given name is not the first of someone else's full name
        # ("Zoë Novak"), a family name not the last ("Ivan Šimić").
        # Written the other way round, nor the last of "Novak, Zoë", nor the first of
        # "Šimić, Ivan".
        if phrase.form is Form.GIVEN and after is not None and NAME_GAP.fullmatch(after):
            word = last + 1
            if self._foreign_name_word(n, toks, keys, word):
                return False
        if phrase.form is Form.GIVEN and before is not None and COMMA_GAP.fullmatch(before):
            if self._foreign_name_word(n, toks, keys, i - 1):
                return False
        if phrase.form is Form.FAMILY and not titled and before is not None:
            if NAME_GAP.fullmatch(before) and self._foreign_name_word(n, toks, keys, i - 1):
                return False
        if phrase.form is Form.FAMILY and not titled and after and COMMA_GAP.fullmatch(after):
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
        """tsqueries for the mention index (anonymizers/text/tokens.py), one of which matches
        every row whose text this redactor may change outside the subject's own rows;
        None when rows must be scanned."""
        if self._everyone:
            return None
        phrases = [w for entries in self._phrases.values() for p in entries for w in keys(p)]
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
            tuple(run for w in words for run in RUN.findall(w))
            for entries in self._phrases.values()
            for p in entries
            for words in keys(p)
        ]
        for email in self._emails:
            runs = RUN.findall(email)
            groups.append(tuple(runs[:-1]))  # the last run may go on in the text
        groups += [tuple(RUN.findall(h)) for h in self._handles]
        groups += [tuple(grams(n)) for n in self._nationals]
        return [g for g in dict.fromkeys(groups) if g] if all(groups) else None

    # --- replacing ----------------------------------------------------------------

    def redact(self, text: str, replace: Replace = redacted, *, own: bool = False) -> str:
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
            out.append(encoded_like(m, replace(m)))
            pos = m.end
        out.append(text[pos:])
        return "".join(out)


def name_words(text: str) -> tuple[str, ...]:
    """The folded words of a name, as the redactor compares them."""
    return words(text)
