"""RTF: the text a reader sees, fields and annotations included."""

from __future__ import annotations

import codecs
import re

from anonymizers.text.documents.guards import attempt

# --- RTF --------------------------------------------------------------------------

_RTF_TOKEN = re.compile(
    r"\\([a-zA-Z]{1,32})(-?\d{1,10})? ?"  # control word, optional numeric argument
    r"|\\'([0-9a-fA-F]{2})"  # a byte in the document's code page
    r"|\\([^a-zA-Z'])"  # control symbol: \{ \} \\ \~ \* ...
    r"|([{}])"
    r"|[\r\n]+"  # line breaks in RTF source mean nothing
    r"|([^\\{}\r\n]+)",
    re.DOTALL,
)
# Destinations that hold no text a reader sees: fonts, colours, styles, pictures.
_RTF_SKIPPED = frozenset(
    {
        "fonttbl", "colortbl", "stylesheet", "listtable", "listoverridetable", "pict",
        "object", "objdata", "themedata", "colorschememapping", "datastore", "xmlnstbl",
        "rsidtbl", "latentstyles", "filetbl", "revtbl", "pgdsctbl", "generator",
    }
)  # fmt: skip
# Optional (\*) destinations that do hold text: field codes and comments.
_RTF_STARRED_KEPT = frozenset({"fldinst", "annotation", "atnauthor"})
_RTF_CHARACTERS = {
    **dict.fromkeys(("par", "line", "sect", "page", "row"), "\n"),
    **dict.fromkeys(("tab", "cell"), "\t"),
    # The document information fields: each on its own line.
    **dict.fromkeys(
        ("author", "operator", "title", "subject", "keywords", "comment", "company",
         "manager", "category", "doccomm", "atnauthor"),
        "\n",
    ),
    "emdash": "\u2014",
    "endash": "\u2013",
    "lquote": "\u2018",
    "rquote": "\u2019",
    "ldblquote": "\u201c",
    "rdblquote": "\u201d",
    "bullet": "\u2022",
    "~": " ",
    "_": "-",
    "\n": "\n",
    "\r": "\n",
    "\\": "\\",
    "{": "{",
    "}": "}",
}  # fmt: skip


def rtf_views(data: bytes) -> list[str]:
    # The raw view as for PDF: RTF is 7-bit, its control words read as written.
    return [data.decode("latin-1"), *attempt(lambda: [_rtf_text(data)])]


def _rtf_text(data: bytes) -> str:  # noqa: PLR0912, PLR0915 - a tokenizer's one loop of states
    out: list[str] = []
    pending = bytearray()  # \'hh bytes decoded together: a double-byte character spans two
    codec = "cp1252"
    stack: list[tuple[bool, int]] = []
    skip, fallback_length, fallback = False, 1, 0  # \ucN: characters after \uN to drop
    group_start = starred = False
    for token in _RTF_TOKEN.finditer(data.decode("latin-1")):
        if token.lastindex is None:
            continue  # a line break in the source, nothing in the text
        word, argument, byte, symbol, brace, text = token.groups()
        if byte is None and pending:
            out.append(pending.decode(codec, "replace"))
            pending.clear()
        first, group_start = group_start, False
        if brace == "{":
            stack.append((skip, fallback_length))
            group_start, starred = True, False
        elif brace == "}":
            if stack:
                skip, fallback_length = stack.pop()
            fallback = 0
        elif symbol == "*":
            starred = group_start = first
        elif word is not None:
            if first and (word in _RTF_SKIPPED or (starred and word not in _RTF_STARRED_KEPT)):
                skip = True
            starred = False
            if word == "ansicpg" and argument:
                codec = _codec(f"cp{argument}", codec)
            elif word == "uc" and argument:
                fallback_length = max(0, min(int(argument), 8))
            elif word == "u" and argument:
                if not skip:
                    out.append(chr(int(argument) % 0x10000))  # signed 16-bit in RTF
                fallback = fallback_length
            elif not skip and word in _RTF_CHARACTERS:
                out.append(_RTF_CHARACTERS[word])
        elif fallback and (byte is not None or symbol is not None):
            fallback -= 1
        elif byte is not None:
            if not skip:
                pending.append(int(byte, 16))
        elif symbol is not None:
            if not skip:
                out.append(_RTF_CHARACTERS.get(symbol, ""))
        elif text is not None:
            dropped = min(fallback, len(text))
            fallback -= dropped
            if not skip:
                out.append(text[dropped:])
    if pending:
        out.append(pending.decode(codec, "replace"))
    # \u escapes spell characters beyond the BMP as surrogate pairs: join them.
    return "".join(out).encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _codec(name: str, default: str) -> str:
    try:
        return codecs.lookup(name).name
    except LookupError:
        return default
