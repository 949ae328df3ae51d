"""One normalizer for search and redaction: text as a reader sees it, folded for comparing.

`normalize(text)` decodes what free text in a CRM hides characters behind (HTML
entities, percent-encoding, JSON `\\uXXXX` escapes, `+` for a space in a URL's query
string) and folds every character the same way for every comparison: compatibility
decomposition (NFKD), case folding, diacritics dropped, typographic apostrophes and
dashes made ASCII. "Zo&euml;", "Zo%C3%AB", "Zo\\u00eb", "ZOË", "Zoë" (decomposed) and
"Zoe" all become "zoe".

Every folded character keeps the span of the original text it came from, so a match
in the folded text is replaced over exactly its original characters (an entity or an
escape whole) and every other byte of the text stays as it was.

The database folds text for the mention index the same way (`privacy_fold()`,
migration 0010): the tokens it indexes are the ASCII letter and digit runs of this
fold, which is what lets the index find "Zo&euml;" for "Zoe". A property test
(tests/integration/test_mention_index.py) holds the two to each other.
"""

from __future__ import annotations

import html.entities
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Marks dropped after decomposition: the combining diacritics of Latin, Greek and
# Cyrillic letters. Exactly these ranges, in privacy_fold() too: other scripts'
# marks stay (they are no letters to either side's tokens).
_MARK_RANGES = (
    (0x0300, 0x036F),
    (0x1AB0, 0x1AFF),
    (0x1DC0, 0x1DFF),
    (0x20D0, 0x20FF),
    (0xFE20, 0xFE2F),
)
# Letters with no decomposition that readers take for a base letter plus a stroke.
_LETTERS = {
    "ø": "o",
    "đ": "d",
    "ð": "d",
    "ł": "l",
    "ħ": "h",
    "\u0131": "i",  # dotless i
    "ŧ": "t",
    "þ": "th",
    "æ": "ae",
    "œ": "oe",
}
# Typographic punctuation written where ASCII is meant (O\u2019Brien, an en dash).
_PUNCTUATION = {
    **dict.fromkeys("\u2018\u2019\u201b\u02bc\u2032\u00b4", "'"),
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2043\ufe58\ufe63\uff0d", "-"),
    **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033", '"'),
}
# Invisible characters that split a word without showing: dropped.
_INVISIBLE = frozenset("\u00ad\u200b\u200c\u200d\u2060\ufeff")

# A word of folded text (a name's, an address's): letters or digits, apostrophes inside.
WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
# Escapes decoded, left to right, one pass (an escape inside a decoded one stays).
_ESCAPE = re.compile(
    r"&#(?P<dec>[0-9]{1,7});"
    r"|&#[xX](?P<hex>[0-9a-fA-F]{1,6});"
    r"|&(?P<name>[A-Za-z][A-Za-z0-9]{1,31});"
    r"|(?P<pct>(?:%[0-9A-Fa-f]{2})+)"
    r"|\\u(?P<u>[0-9A-Fa-f]{4})(?:\\u(?P<low>[dD][c-fC-F][0-9a-fA-F]{2}))?"
)
# A URL's query string, where "+" is a space: from "?" to the end of the URL.
_QUERY = re.compile(r"\?[^\s#]*")
_QUERY_VALUE = re.compile(r"\?[^\s#=]*=")
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
# Texts that need the slow path's decoding; the rest are folded by str.translate.
_NEEDS_DECODING = re.compile(r"&#?[A-Za-z0-9]+;|%[0-9A-Fa-f]{2}|\\u[0-9A-Fa-f]{4}|\?[^\s#]*\+")


def _is_mark(c: str) -> bool:
    code = ord(c)
    return any(low <= code <= high for low, high in _MARK_RANGES)


@lru_cache(maxsize=65_536)
def fold_char(c: str) -> str:
    """What one decoded character becomes: decomposed, unmarked, case-folded."""
    if c in _INVISIBLE:
        return ""
    if c in _PUNCTUATION:
        return _PUNCTUATION[c]
    # Decomposition may give capitals (№ -> "No"), case folding decomposable
    # characters (İ -> i + dot above): both, in this order, until nothing changes.
    unmarked = "".join(d for d in unicodedata.normalize("NFKD", c) if not _is_mark(d))
    folded = unicodedata.normalize("NFKD", unmarked.casefold())
    return "".join(_LETTERS.get(d, d) for d in folded if not _is_mark(d))


class _FoldTable(dict[int, str]):
    """str.translate's table, filled on first sight of each character."""

    def __missing__(self, code: int) -> str:
        folded = self[code] = fold_char(chr(code))
        return folded


class _UnevenTable(dict[int, str]):
    """Maps a character to "" if it folds to one character, else to itself: a text
    translated to "" folds character for character (same offsets)."""

    def __missing__(self, code: int) -> str:
        c = chr(code)
        uneven = self[code] = "" if len(fold_char(c)) == 1 else c
        return uneven


_TABLE = _FoldTable()
_UNEVEN = _UnevenTable()

# UTF-16 surrogates: a high one (first of a pair), then a low one; no characters alone.
_HIGH_SURROGATE, _LAST_HIGH_SURROGATE = 0xD800, 0xDBFF
_LOW_SURROGATE, _LAST_SURROGATE = 0xDC00, 0xDFFF
_LAST_CODE_POINT = 0x10FFFF


@dataclass(frozen=True, slots=True)
class Normalized:
    """A text folded for comparing, and where each folded character came from."""

    original: str
    text: str
    # starts[i], ends[i]: the original span of text[i]; None: the same index (the
    # fold changed no length and decoded nothing).
    starts: list[int] | None = None
    ends: list[int] | None = None
    # The decoded character text[i] came from (for its case); None: original[i].
    sources: list[str] | None = None

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of text[start:end] (whole escapes and characters)."""
        if self.starts is None or self.ends is None:
            return start, end
        # Characters that folded to nothing after the last one (a combining mark
        # written apart, a soft hyphen) belong to it.
        stop = self.ends[end - 1]
        following = self.starts[end] if end < len(self.starts) else len(self.original)
        return self.starts[start], max(stop, following)

    def source(self, i: int) -> str:
        """The decoded character text[i] comes from (before folding)."""
        return self.original[i] if self.sources is None else self.sources[i]

    def encoded(self, start: int, end: int) -> bool:
        """Whether the original span of text[start:end] is inside a URL that is
        percent-encoded: its run of non-space characters holds a percent escape or a
        query string ("?q=…")."""
        s, e = self.span(start, end)
        text = self.original
        if "%" not in text and "?" not in text:
            return False
        low = max(text.rfind(c, 0, s) for c in " \t\n\r\"'<>") + 1
        highs = [i for c in " \t\n\r\"'<>" if (i := text.find(c, e)) >= 0]
        run = text[low : min(highs, default=len(text))]
        return _PERCENT.search(run) is not None or _QUERY_VALUE.search(run) is not None


def fold(text: str) -> str:
    """The folded text alone (see normalize)."""
    return normalize(text).text


def normalize(text: str) -> Normalized:
    """Decode the text's escapes and fold it, keeping each character's original span."""
    if not _NEEDS_DECODING.search(text):
        # ASCII folds to its lower case; other texts character for character when
        # no character of theirs folds to none or to several (ß, æ, a soft hyphen).
        if text.isascii():
            return Normalized(text, text.lower())
        if not text.translate(_UNEVEN):
            return Normalized(text, text.translate(_TABLE))
    return _normalize_slowly(text)


def _decoded(text: str) -> list[tuple[str, int, int]]:
    """The text's characters after decoding, each with its original span."""
    out: list[tuple[str, int, int]] = []
    pos = 0

    def plain(upto: int) -> None:
        out.extend((text[i], i, i + 1) for i in range(pos, upto))

    for m in _ESCAPE.finditer(text):
        plain(m.start())
        pos = m.start()
        decoded = _decode_escape(m)
        if decoded is None:
            # Not a valid escape: its characters stay as they are.
            plain(m.end())
        elif m.lastgroup == "pct":
            out.extend(decoded)
        else:
            out.extend((c, m.start(), m.end()) for c, _, _ in decoded)
        pos = m.end()
    plain(len(text))
    # "+" in a query string is a space (application/x-www-form-urlencoded).
    if "+" in text and "?" in text:
        plus = {i for q in _QUERY.finditer(text) for i in range(q.start(), q.end())}
        out = [(" " if c == "+" and s in plus and e == s + 1 else c, s, e) for c, s, e in out]
    return out


def _decode_escape(m: re.Match[str]) -> list[tuple[str, int, int]] | None:
    """An escape's characters (spans relative to the text), or None if it is no escape."""
    kind = m.lastgroup
    if kind in ("dec", "hex"):
        code = int(m.group(kind), 10 if kind == "dec" else 16)
        return [(chr(code), 0, 0)] if _valid_code(code) else None
    if kind == "name":
        value = html.entities.html5.get(m.group("name") + ";")
        return [(c, 0, 0) for c in value] if value else None
    if kind == "pct":
        return _percent_decoded(m.group("pct"), m.start())
    # JSON \uXXXX, a surrogate pair joined; a lone surrogate is no character.
    high = int(m.group("u"), 16)
    low = m.group("low")
    if _HIGH_SURROGATE <= high <= _LAST_HIGH_SURROGATE and low is not None:
        code = 0x10000 + ((high - _HIGH_SURROGATE) << 10) + (int(low, 16) - _LOW_SURROGATE)
        return [(chr(code), 0, 0)]
    if low is not None:
        return None  # "\uXXXX\uDCxx" without a high surrogate first: keep both as written
    return [(chr(high), 0, 0)] if _valid_code(high) else None


def _valid_code(code: int) -> bool:
    # NUL cannot be stored in PostgreSQL text, surrogates are no characters.
    return 0 < code <= _LAST_CODE_POINT and not _HIGH_SURROGATE <= code <= _LAST_SURROGATE


def _percent_decoded(run: str, at: int) -> list[tuple[str, int, int]] | None:
    """A run of %XX escapes as UTF-8: every character with the escapes it came from.

    A run that is not valid UTF-8 as a whole (or holds a NUL) stays as written."""
    data = bytes(int(run[i + 1 : i + 3], 16) for i in range(0, len(run), 3))
    if 0 in data:
        return None
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    out: list[tuple[str, int, int]] = []
    offset = at
    for c in decoded:
        width = 3 * len(c.encode("utf-8"))
        out.append((c, offset, offset + width))
        offset += width
    return out


def _normalize_slowly(text: str) -> Normalized:
    folded: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    sources: list[str] = []
    for c, s, e in _decoded(text):
        for f in fold_char(c):
            folded.append(f)
            starts.append(s)
            ends.append(e)
            sources.append(c)
    return Normalized(text, "".join(folded), starts, ends, sources)
