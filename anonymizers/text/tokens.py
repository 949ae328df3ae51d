"""The query side of the mention index (migrations 0006, 0010): which rows can mention a subject.

`privacy_mention_tokens()` in the database folds a text as normalize.py does
(`privacy_fold()`: escapes decoded, diacritics dropped, case folded) and indexes its
ASCII letter runs, its runs of letters and digits that hold both, and every 7
digits in a row of its digit chains (digits joined across at most 3 other
characters). `tsqueries` asks for the tokens an identifier leaves in any text the
redactor finds it in, using only tokens that cannot depend on the characters
around it:

- a name form found outside the subject's own rows always holds a family-name word
  (redaction.py), whole in the folded text: each family word's letter runs are
  tokens of the text;
- an email's letter runs and mixed runs are tokens, except its last run, which a
  character after it may extend: that one is not asked for (a prefix query would
  read every row with "com…");
- a handle is a whole token of letters, digits, "_" and "-": all its runs are;
- a phone number's national significant digits lie, in order, in one digit chain,
  so each 7 of them in a row is a token.

An identifier that leaves no token (a name in another script) gets None: the
caller scans.

Each identifier is one query of tokens that must all be there: GIN answers such
a query by walking its rarest token's rows only, so a lookup costs what the
subject's rarest token costs, not what "com" or a common first name costs. The
queries go to the database as an array (`@@ ANY`), one index scan each.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from anonymizers.text.normalize import fold

_LETTERS = re.compile("[a-z]+")
_ALNUM = re.compile("[a-z0-9]+")
_DIGITS = re.compile("[0-9]+")
_GRAM = 7  # digits per phone token, the fewest a phone number has
# Longer tokens are not indexed (the row gets '~' instead): not asked for either.
_LONGEST = 255
OVERFLOW = "~"  # the lexeme of rows too big to index token by token


def _mixed(run: str) -> bool:
    return any(c.isdigit() for c in run) and any(c.isalpha() for c in run)


def _grams(digits: str) -> list[str]:
    return [digits[i : i + _GRAM] for i in range(len(digits) - _GRAM + 1)]


def _lexeme(token: str) -> str:
    # Tokens are [a-z0-9] only: nothing to escape inside the quotes.
    return f"'{token}'"


def _all(lexemes: list[str]) -> str | None:
    if not lexemes or any(len(x) > _LONGEST + 2 for x in lexemes):
        return None
    return " & ".join(dict.fromkeys(lexemes))


def name_clause(words: Iterable[str]) -> str | None:
    return _all([_lexeme(t) for w in words for t in _LETTERS.findall(fold(w))])


def email_clause(email: str) -> str | None:
    folded = fold(email)
    # The last run may go on in the text (see above): not asked for.
    end = max((m.start() for m in _ALNUM.finditer(folded)), default=0)
    lexemes = [_lexeme(m.group()) for m in _LETTERS.finditer(folded) if m.end() <= end]
    lexemes += [_lexeme(t) for t in _ALNUM.findall(folded[:end]) if _mixed(t)]
    return _all(lexemes)


def handle_clause(handle: str) -> str | None:
    folded = fold(handle)
    lexemes = [_lexeme(t) for t in _LETTERS.findall(folded)]
    lexemes += [_lexeme(t) for t in _ALNUM.findall(folded) if _mixed(t)]
    lexemes += [_lexeme(g) for run in _DIGITS.findall(folded) for g in _grams(run)]
    return _all(lexemes)


def phone_clause(national: str) -> str | None:
    """`national`: the digits every written form of the number holds in a row."""
    if not re.fullmatch("[0-9]+", national):
        return None  # digits of another script: not indexed
    return _all([_lexeme(g) for g in _grams(national)])


def tsqueries(
    names: Iterable[tuple[str, ...]],
    emails: Iterable[str],
    nationals: Iterable[str],
    handles: Iterable[str],
) -> list[str] | None:
    """tsqueries of which one matches every row whose text may hold one of these
    identifiers; None when some identifier leaves no token to look up (scan instead).

    `names`: word groups, each found whole (a family name, an address)."""
    clauses = [name_clause(words) for words in sorted(names)]
    clauses += [email_clause(e) for e in sorted(emails)]
    clauses += [phone_clause(p) for p in sorted(nationals)]
    clauses += [handle_clause(h) for h in sorted(handles)]
    if None in clauses:
        return None
    # Rows too big to index by token are always looked at.
    return [*dict.fromkeys(c for c in clauses if c), _lexeme(OVERFLOW)]


_QUOTED = re.compile(r"'([^']*)'")


def keyed_lexeme(key: bytes, token: str) -> str:
    """A token as the mention index keeps it (privacy_keyed_tokens, migration 0017):
    the first 16 hex digits of SHA-256 over the tenant's key and the token."""
    return hashlib.sha256(key + token.encode()).hexdigest()[:16]


def keyed(key: bytes, queries: Iterable[str]) -> list[str]:
    """tsqueries (of tsqueries() or name_clause()) over the keyed lexemes the index
    holds; OVERFLOW stays as it is, as in the index."""

    def one(match: re.Match[str]) -> str:
        token = match.group(1)
        return match.group(0) if token == OVERFLOW else f"'{keyed_lexeme(key, token)}'"

    return [_QUOTED.sub(one, q) for q in queries]
