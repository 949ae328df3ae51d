"""Text files: decoded to give back their exact bytes, and the views an HTML page or a
vCard/iCalendar file adds."""

from __future__ import annotations

import codecs
import quopri
import re
from dataclasses import dataclass
from html.parser import HTMLParser

# --- Plain text -------------------------------------------------------------------


@dataclass(frozen=True)
class TextFile:
    """A text file decoded so that encode() gives back its exact bytes."""

    text: str  # the whole file decoded, exactly reversible with encode()
    encoding: str  # the codec used: utf-8, utf-16-le, utf-16-be, utf-32-le, utf-32-be, cp1252...
    bom: bytes  # the byte-order mark the file started with (b"" if none)

    def encode(self, text: str) -> bytes:
        """Encode `text` in the file's own encoding, BOM kept."""
        return self.bom + text.encode(self.encoding, _ENCODE_ERRORS.get(self.encoding, "replace"))


# UTF-32 first: its little-endian BOM starts with UTF-16's.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# surrogateescape: bytes that are not UTF-8 come back as they were. The 8-bit codecs
# replace: a replacement value may hold a character cp1252 lacks, and "?" there beats
# failing an erasure.
_ENCODE_ERRORS = {
    "utf-8": "surrogateescape",
    "utf-16-le": "surrogatepass",
    "utf-16-be": "surrogatepass",
    "utf-32-le": "surrogatepass",
    "utf-32-be": "surrogatepass",
}
ESCAPED = re.compile("[\udc80-\udcff]")
_NON_ASCII = re.compile("[^\x00-\x7f]")


def decode_text(data: bytes) -> TextFile:
    """Decode a text file so that encode() gives back exactly `data`, whatever the bytes.

    The rule, first match wins: a UTF-32/UTF-8/UTF-16 BOM names the codec (UTF-16/32
    only when the rest decodes strictly); strict UTF-8; UTF-8 keeping undecodable bytes
    as surrogate escapes when it decodes more multi-byte characters than it escapes
    bytes; cp1252 when no byte is undefined there; latin-1, which decodes anything.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            errors = "surrogateescape" if encoding == "utf-8" else "strict"
            try:
                return TextFile(data[len(bom) :].decode(encoding, errors), encoding, bom)
            except UnicodeDecodeError:
                continue  # not that codec after all: try the shorter BOM, then the rules below
    try:
        return TextFile(data.decode("utf-8"), "utf-8", b"")
    except UnicodeDecodeError:
        pass
    text = data.decode("utf-8", "surrogateescape")
    escaped = len(ESCAPED.findall(text))
    if len(_NON_ASCII.findall(text)) - escaped > escaped:
        return TextFile(text, "utf-8", b"")
    try:
        return TextFile(data.decode("cp1252"), "cp1252", b"")
    except UnicodeDecodeError:
        return TextFile(data.decode("latin-1"), "latin-1", b"")


def cp1252_escape(match: re.Match[str]) -> str:
    return bytes([ord(match[0]) - 0xDC00]).decode("cp1252", "replace")


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Decode with a declared charset, or guess when it is missing, unknown or wrong."""
    if charset:
        try:
            return data.decode(charset)
        except (LookupError, UnicodeDecodeError):
            pass
    return decode_text(data).text


# --- HTML -------------------------------------------------------------------------

_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "caption", "dd", "div", "dl",
        "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4",
        "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "option", "p", "pre",
        "section", "table", "td", "th", "title", "tr", "ul",
    }
)  # fmt: skip
_HIDDEN_TAGS = frozenset({"script", "style", "template"})


class _HtmlText(HTMLParser):
    """Collects text nodes: inline ones joined as they are, blocks on their own lines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            # Whitespace collapses as in a browser: a name wrapped in the source reads whole.
            self.parts.append(re.sub(r"\s+", " ", data))


def html_views(text: str) -> list[str]:
    parser = _HtmlText()
    try:
        parser.feed(text)
        parser.close()
    except Exception:
        pass  # markup this broken still gave the text before the break
    return [re.sub(r" *\n\s*", "\n", "".join(parser.parts)).strip()]


# --- vCard and iCalendar ----------------------------------------------------------

# NAME;PARAM="quoted: colon":value — the first colon outside quotes ends the parameters.
_CONTENT_LINE = re.compile(r'((?:[^":]|"[^"]*")*):(.*)', re.DOTALL)
_CHARSET_PARAM = re.compile(r';\s*CHARSET="?([^;:"]+)', re.IGNORECASE)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def content_line_views(text: str) -> list[str]:
    lines: list[str] = []
    for physical in _LINE_BREAK.split(text):
        if lines and lines[-1].endswith("=") and _is_quoted_printable(lines[-1].partition(":")[0]):
            lines[-1] = lines[-1][:-1] + physical  # a vCard 2.1 soft line break
        elif lines and physical[:1] in (" ", "\t"):
            lines[-1] += physical[1:]  # RFC folding: CRLF and one space or tab
        else:
            lines.append(physical)
    return ["\n".join(_decode_content_line(line) for line in lines)]


def _is_quoted_printable(head: str) -> bool:
    # vCard 2.1 writes ENCODING=QUOTED-PRINTABLE or the bare QUOTED-PRINTABLE parameter.
    return "QUOTED-PRINTABLE" in head.upper()


def _decode_content_line(line: str) -> str:
    match = _CONTENT_LINE.fullmatch(line)
    if match is None:
        return line
    head, value = match.groups()
    if _is_quoted_printable(head):
        charset = _CHARSET_PARAM.search(head)
        raw = quopri.decodestring(value.encode("utf-8", "surrogateescape"))
        value = decode_bytes(raw, charset[1] if charset else "utf-8")
    # RFC 6868 escapes parameter values with ^; RFC 6350/5545 escape values with \.
    head = re.sub(r"\^([n^'])", lambda m: {"n": "\n", "^": "^", "'": '"'}[m[1]], head)
    value = re.sub(r"\\(.)", lambda m: "\n" if m[1] in "nN" else m[1], value, flags=re.DOTALL)
    return f"{head}:{value}"
