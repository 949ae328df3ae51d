"""The token index of file contents (privacy_file_tokens, migration 0010).

A subject's erasure must search other people's files too, and a tenant holds
hundreds of thousands of them: reading every one for every subject would make a
single erasure cost as much as the tenant's files. Each file's text (every view
documents.py reads, folded as normalize.py folds) is reduced once to its tokens:
runs of letters and digits, and every 7 digits in a row of its digit chains (digits
joined across at most 3 other characters, as a phone number's groups are). A job
asks for the tokens each of the subject's identifiers leaves in any text it is
found in (Redactor.token_groups) and reads only the files that have them.

Tokens are stored as keyed hashes (BLAKE2b with the tenant's key): the table is no
word list of the tenant's files, and a pg_dump of it holds no one's name.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from anonymizers.text.normalize import fold

_RUN = re.compile(r"[^\W_]+")
_CHAIN_GAP = re.compile(r"(?<=[0-9])[^0-9]{1,3}(?=[0-9])")
_DIGIT_RUN = re.compile(r"[0-9]{7,}")
_GRAM = 7
# A file with more distinct tokens than this is not indexed token by token (a
# tsvector has a size limit): it gets OVERFLOW, which every query matches.
MAX_TOKENS = 30_000
OVERFLOW = "~"


def tokens(views: Iterable[str]) -> set[str]:
    """The tokens of a file's text views."""
    found: set[str] = set()
    for view in views:
        folded = fold(view)
        found.update(_RUN.findall(folded))
        for run in _DIGIT_RUN.findall(_CHAIN_GAP.sub("", folded)):
            found.update(run[i : i + _GRAM] for i in range(len(run) - _GRAM + 1))
    return found


def _hashed(key: bytes, token: str) -> str:
    return hashlib.blake2b(token.encode(), key=key, digest_size=8).hexdigest()


def lexemes(key: bytes, found: set[str]) -> list[str]:
    """The tsvector lexemes of a file's tokens (hashed with the tenant's key)."""
    if len(found) > MAX_TOKENS:
        return [OVERFLOW]
    return sorted(_hashed(key, t) for t in found)


def tsqueries(key: bytes, groups: Iterable[tuple[str, ...]]) -> list[str]:
    """One tsquery per identifier (all its tokens), and one for unindexed files."""
    queries = [" & ".join(f"'{_hashed(key, t)}'" for t in dict.fromkeys(g)) for g in groups]
    return [*dict.fromkeys(q for q in queries if q), f"'{OVERFLOW}'"]
