"""The shapes identifiers take in free text: the regexes the redactor matches with,
and the gaps allowed between the words of a name or an address."""

from __future__ import annotations

import re
from itertools import combinations

from anonymizers.text.normalize import WORD

EMAIL = re.compile(r"(?<![\w.+-])(?P<local>[\w.+-]+)@(?P<domain>[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,})")
HANDLE = re.compile(r"(?<![\w@.-])@?[\w][\w-]*(?:\.[\w-]+)*")
TOKEN = WORD
# Between the words of a name: "Jane Doe", "Jane_Doe", "jane.doe", "Jane+Doe", "Jane-Doe".
NAME_GAP = re.compile(r"[\s_.+\-]{1,3}")
# Between a family name and a given name written the other way round: "Doe, Jane",
# and a vCard's structured name or a semicolon-separated row: "N:Doe;Jane;;;".
COMMA_GAP = re.compile(r"\s{0,2}[,;]\s{0,2}")
# Between a title and the name: "Ms. Doe", "Dr Doe".
TITLE_GAP = re.compile(r"\.?\s{1,2}")
# Between the words of an address: "9 Elm St, Springfield".
ADDRESS_GAP = re.compile(r"[\s,.#/\-]{1,4}")
MIN_HANDLE = 3
# A handle matched without its "@" as well must be unlike a plain word.
DISTINCT_HANDLE = re.compile(r"^(?=.*[\d_.\-])|^.{8,}$")
DIGIT = re.compile("[0-9]")
AT = r"\s*(?:@|\[at\]|\(at\)|\{at\}|\s+at\s+)\s*"
DOT = r"(?:\.|\s*\[dot\]\s*|\s*\(dot\)\s*|\s*\{dot\}\s*|\s+dot\s+)"


# The tokens of folded text: runs of letters and digits (filetokens.py).
RUN = re.compile(r"[^\W_]+")
PHONE_GRAM = 7


def grams(number: str) -> list[str]:
    return [number[i : i + PHONE_GRAM] for i in range(len(number) - PHONE_GRAM + 1)]


def subsequences(items: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Every non-empty subsequence, in order."""
    return [c for k in range(1, len(items) + 1) for c in combinations(items, k)]


def obfuscation(email: str) -> str:
    """A regex of an email written to fool a harvester: "jane at example dot com"."""
    local, _, domain = email.partition("@")
    parts = [DOT.join(re.escape(p) for p in part.split(".")) for part in (local, domain)]
    return parts[0] + AT + parts[1]
