"""Documents: the text inside a file's bytes, in every form a reader of the file sees it.

Files come from users, so every parser here meets broken, hostile or mislabelled input:
each reader returns what it could read and never raises, and zip parts are read only up
to a size budget. Matching and replacing happen elsewhere, over the views returned here.
"""

from __future__ import annotations

import codecs
import email
import email.policy
import io
import logging
import quopri
import re
import threading
import warnings
import zipfile
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.message import Message
from enum import StrEnum
from functools import partial
from html.parser import HTMLParser
from typing import IO, Any
from xml.parsers import expat

import pypdf
from pypdf.generic import StreamObject

# pypdf logs every robustness fix it applies to a malformed file; user uploads are often
# malformed and nobody acts on those lines.
logging.getLogger("pypdf").setLevel(logging.CRITICAL)


class FileFormat(StrEnum):
    """How far a file's contents can be searched and rewritten."""

    TEXT = "text"  # plain text we can rewrite in place: txt, csv, json, html, xml, eml, vcf...
    DOCUMENT = "document"  # text we can read but not safely rewrite: pdf, docx, odt, rtf...
    OTHER = "other"  # images, archives, audio, unknown binaries: not searched


class _Kind(StrEnum):
    """The reader a file needs; finer than FileFormat."""

    PLAIN = "plain"
    HTML = "html"
    EMAIL = "email"
    CONTENT_LINES = "content-lines"  # vCard and iCalendar share the RFC 6350/5545 line syntax
    PDF = "pdf"
    OFFICE = "office"  # OOXML or ODF: a zip of XML parts
    RTF = "rtf"
    OTHER = "other"


_FORMATS = {
    _Kind.PLAIN: FileFormat.TEXT,
    _Kind.HTML: FileFormat.TEXT,
    _Kind.EMAIL: FileFormat.TEXT,
    _Kind.CONTENT_LINES: FileFormat.TEXT,
    _Kind.PDF: FileFormat.DOCUMENT,
    _Kind.OFFICE: FileFormat.DOCUMENT,
    _Kind.RTF: FileFormat.DOCUMENT,
    _Kind.OTHER: FileFormat.OTHER,
}
_TEXT_SUBKINDS = frozenset({_Kind.HTML, _Kind.EMAIL, _Kind.CONTENT_LINES})

_TYPES = {
    "text/html": _Kind.HTML,
    "application/xhtml+xml": _Kind.HTML,
    "message/rfc822": _Kind.EMAIL,
    "text/vcard": _Kind.CONTENT_LINES,
    "text/x-vcard": _Kind.CONTENT_LINES,
    "text/directory": _Kind.CONTENT_LINES,
    "text/calendar": _Kind.CONTENT_LINES,
    "text/rtf": _Kind.RTF,
    "application/rtf": _Kind.RTF,
    "application/pdf": _Kind.PDF,
    "application/json": _Kind.PLAIN,
    "application/xml": _Kind.PLAIN,
}
_OFFICE_TYPES = (
    "application/vnd.openxmlformats-officedocument.",
    "application/vnd.oasis.opendocument.",
)
_MEDIA_TYPES = ("image/", "audio/", "video/", "font/", "model/")
_EXTENSIONS = {
    **dict.fromkeys(("txt", "csv", "tsv", "json", "xml", "md", "markdown", "log"), _Kind.PLAIN),
    **dict.fromkeys(("html", "htm"), _Kind.HTML),
    "eml": _Kind.EMAIL,
    **dict.fromkeys(("vcf", "ics"), _Kind.CONTENT_LINES),
    "pdf": _Kind.PDF,
    **dict.fromkeys(("docx", "xlsx", "pptx", "odt", "ods", "odp"), _Kind.OFFICE),
    "rtf": _Kind.RTF,
}

_PDF_HEADER = b"%PDF-"
_ZIP_SIGNATURE = b"PK\x03\x04"
_RTF_HEADER = b"{\\rtf"
# Readers accept junk before the PDF header; how far they look.
_PDF_HEADER_WINDOW = 1024
# How much of a file the text sniffers look at.
_SNIFF_WINDOW = 8192
_ODF_MIMETYPE = b"application/vnd.oasis.opendocument"
# Zip parts are inflated only within these budgets: a 60 KB upload can hold gigabytes.
_PART_LIMIT = 50 * 1024 * 1024
_TOTAL_LIMIT = 200 * 1024 * 1024
# A zip of a million empty parts costs a parser each: past this many, the rest are skipped.
_MAX_PARTS = 10_000
# An e-mail attaching an e-mail attaching...: how deep attachments are read.
_MAX_DEPTH = 3


def file_format(content_type: str, name: str, data: bytes) -> FileFormat:
    """Decide by declared content type first, file extension second, magic bytes third."""
    return _FORMATS[_kind(content_type, name, data)]


def text_views(data: bytes, content_type: str, name: str) -> list[str]:
    """Return every text a reader of the file sees, decoded: what must be searched.

    For a TEXT file views[0] is decode_text(data).text, the one view a rewrite changes;
    the others are decoded forms of the same bytes (MIME parts, unfolded vCard lines,
    HTML without tags). For non-empty PDF and RTF files views[0] is the raw bytes read as
    latin-1, and no view can be rewritten. OTHER files give []. Never raises: malformed
    files give what could be read, possibly [].
    """
    try:
        return _views(data, _kind(content_type, name, data), 0)
    except Exception:
        # Untrusted bytes can break any parser in any way; the search goes on without them.
        return []


def _kind(content_type: str, name: str, data: bytes) -> _Kind:
    named = _name_kind(name)
    kind = _type_kind(content_type) or named or _magic_kind(data)
    if kind is _Kind.PLAIN:
        # "text/plain" says little: a .vcf name or a BEGIN:VCARD line says more.
        kind = named if named in _TEXT_SUBKINDS else _sniff_text(data)
    return kind


def _type_kind(content_type: str) -> _Kind | None:
    mime = content_type.partition(";")[0].strip().lower()
    if mime in _TYPES:
        return _TYPES[mime]
    if mime.startswith(_OFFICE_TYPES):
        return _Kind.OFFICE
    if mime.startswith("text/") or mime.endswith(("+json", "+xml")):
        return _Kind.PLAIN
    if mime.startswith(_MEDIA_TYPES):
        return _Kind.OTHER
    # Empty, application/octet-stream, application/zip, or a type we don't know (Windows
    # browsers send application/vnd.ms-excel for .csv): the name and the bytes decide.
    return None


def _name_kind(name: str) -> _Kind | None:
    stem, dot, extension = name.rpartition(".")
    return _EXTENSIONS.get(extension.lower()) if dot and stem else None


def _magic_kind(data: bytes) -> _Kind:
    if data.startswith(_PDF_HEADER):
        return _Kind.PDF
    if data.startswith(_RTF_HEADER):
        return _Kind.RTF
    if data.startswith(_ZIP_SIGNATURE):
        return _Kind.OFFICE if _is_office_zip(data) else _Kind.OTHER
    if b"\x00" in data[:_SNIFF_WINDOW]:
        return _Kind.OTHER
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return _Kind.OTHER
    return _Kind.PLAIN


def _is_office_zip(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return _office_family(archive) is not None
    except Exception:
        # A truncated or corrupt zip (BadZipFile, OSError, EOFError...) is no document.
        return False


# Header lines (name: value, folded lines) up to a MIME-Version line. Each line can
# match one way only, so a miss costs linear time.
_EMAIL_HEAD = re.compile(rb"(?:[!-9;-~]+:[^\n]*\n(?:[ \t][^\n]*\n)*)*mime-version:", re.IGNORECASE)


def _sniff_text(data: bytes) -> _Kind:
    head = data[:_SNIFF_WINDOW].removeprefix(codecs.BOM_UTF8)
    start = head.lstrip()[:32].lower()
    if start.startswith((b"begin:vcard", b"begin:vcalendar")):
        return _Kind.CONTENT_LINES
    if start.startswith((b"<!doctype html", b"<html")):
        return _Kind.HTML
    # Only MIME mail can hide text in encodings, and MIME mail declares its version.
    if _EMAIL_HEAD.match(head):
        return _Kind.EMAIL
    return _Kind.PLAIN


def _views(data: bytes, kind: _Kind, depth: int) -> list[str]:
    if _FORMATS[kind] is FileFormat.TEXT:
        decoded = decode_text(data)
        return _text_views(decoded.text, kind, data, depth, legacy=decoded.encoding == "utf-8")
    if _FORMATS[kind] is FileFormat.DOCUMENT:
        return _unique(_document_views(data, kind))
    return []


def _text_views(text: str, kind: _Kind, data: bytes, depth: int, *, legacy: bool) -> list[str]:
    extras: list[str] = []
    if legacy and _ESCAPED.search(text):
        # Mostly UTF-8 with some legacy bytes (a CSV pasted together from two sources):
        # the escaped bytes read as cp1252 too.
        extras.append(_ESCAPED.sub(_cp1252_escape, text))
    if kind is _Kind.HTML:
        extras += _attempt(partial(_html_views, text))
    elif kind is _Kind.CONTENT_LINES:
        extras += _attempt(partial(_content_line_views, text))
    elif kind is _Kind.EMAIL:
        extras += _attempt(partial(_email_views, data, depth))
    # views[0] is the file itself even when empty or repeated: it is what a rewrite edits.
    return [text, *_unique(extras, seen={text})]


def _unique(views: list[str], seen: set[str] | None = None) -> list[str]:
    seen = set() if seen is None else seen
    kept = []
    for view in views:
        if view and view not in seen:
            seen.add(view)
            kept.append(view)
    return kept


def _attempt(read: Callable[[], list[str]]) -> list[str]:
    try:
        return read()
    except Exception:
        # Untrusted bytes can break any parser in any way; the other views still count.
        return []


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
_ESCAPED = re.compile("[\udc80-\udcff]")
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
    escaped = len(_ESCAPED.findall(text))
    if len(_NON_ASCII.findall(text)) - escaped > escaped:
        return TextFile(text, "utf-8", b"")
    try:
        return TextFile(data.decode("cp1252"), "cp1252", b"")
    except UnicodeDecodeError:
        return TextFile(data.decode("latin-1"), "latin-1", b"")


def _cp1252_escape(match: re.Match[str]) -> str:
    return bytes([ord(match[0]) - 0xDC00]).decode("cp1252", "replace")


def _decode_bytes(data: bytes, charset: str | None) -> str:
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


def _html_views(text: str) -> list[str]:
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


def _content_line_views(text: str) -> list[str]:
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
        value = _decode_bytes(raw, charset[1] if charset else "utf-8")
    # RFC 6868 escapes parameter values with ^; RFC 6350/5545 escape values with \.
    head = re.sub(r"\^([n^'])", lambda m: {"n": "\n", "^": "^", "'": '"'}[m[1]], head)
    value = re.sub(r"\\(.)", lambda m: "\n" if m[1] in "nN" else m[1], value, flags=re.DOTALL)
    return f"{head}:{value}"


# --- E-mail -----------------------------------------------------------------------


def _email_views(data: bytes, depth: int) -> list[str]:
    message = email.message_from_bytes(data, policy=email.policy.default)
    views: list[str] = []
    # walk() enters multiparts and message/rfc822 parts: nested mails are read here.
    for part in message.walk():
        views.append(_attempt_text(partial(_headers_text, part)))
        if not part.is_multipart():
            views += _attempt(partial(_part_views, part, depth))
    return views


def _attempt_text(read: Callable[[], str]) -> str:
    return "".join(_attempt(lambda: [read()]))


def _headers_text(part: Message) -> str:
    lines = []
    for name, raw in part.raw_items():
        for value in _header_values(part, name, str(raw)):
            lines.append(f"{name}: {value}")
    filename = _attempt_text(lambda: part.get_filename() or "")  # RFC 2231 filename*=
    if filename:
        lines.append(filename)
    return "\n".join(lines)


def _header_values(part: Message, name: str, raw: str) -> list[str]:
    try:
        values = [str(part.policy.header_fetch_parse(name, raw))]
    except Exception:
        values = [raw]  # a header the strict parser chokes on is still searched as written
    # The strict parser drops what it cannot place in a malformed address ("<a@b.c> Name")
    # and leaves words glued to an encoded-word encoded; decode_header keeps everything.
    if "=?" in raw:
        values += _attempt(lambda: [str(make_header(decode_header(raw)))])
    # Raw 8-bit header bytes arrive as surrogate escapes: read them as text.
    return _unique([decode_text(value.encode("utf-8", "surrogateescape")).text for value in values])


def _part_views(part: Message, depth: int) -> list[str]:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes) or depth >= _MAX_DEPTH:
        return []
    filename = _attempt_text(lambda: part.get_filename() or "")
    kind = _kind(part.get_content_type(), filename, payload)
    if _FORMATS[kind] is not FileFormat.TEXT:
        return _views(payload, kind, depth + 1)
    text = _decode_bytes(payload, part.get_content_charset())
    return _text_views(text, kind, payload, depth + 1, legacy=False)


# --- Documents --------------------------------------------------------------------


def _document_views(data: bytes, declared: _Kind) -> list[str]:
    # The bytes decide over the label: a parser reads only what they are.
    if data.startswith(_ZIP_SIGNATURE):
        return _attempt(partial(_office_views, data))
    if _PDF_HEADER in data[:_PDF_HEADER_WINDOW]:
        return _pdf_views(data)
    if data[:64].lstrip().startswith(_RTF_HEADER):
        return _rtf_views(data)
    if declared is _Kind.PDF:
        return _pdf_views(data)
    if declared is _Kind.RTF:
        return _rtf_views(data)
    return _attempt(partial(_office_views, data))


# --- PDF --------------------------------------------------------------------------

# warnings.catch_warnings() swaps process-wide filters; two threads inside it at once
# could leave "ignore" installed for good. pypdf is pure Python, so the lock costs little.
_PDF_LOCK = threading.Lock()


def _pdf_views(data: bytes) -> list[str]:
    # The raw bytes show uncompressed content, and "PDFs" no parser accepts.
    views = [data.decode("latin-1")]
    # Without an end-of-file marker and a cross-reference there is nothing pypdf can
    # read, and it is slow: this runs on every file of a tenant.
    if b"%%EOF" in data and b"xref" in data:
        views += _attempt(partial(_pdf_text, data))
    return views


def _pdf_text(data: bytes) -> list[str]:
    with _PDF_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
        views = []
        for page in reader.pages:
            views += _attempt(partial(_pdf_page, page))
            views += _attempt(partial(_pdf_annotations, page))
        for read in (_pdf_info, _pdf_fields, _pdf_xmp):
            views += _attempt(partial(read, reader))
        return views


def _pdf_page(page: pypdf.PageObject) -> list[str]:
    return [page.extract_text()]


def _pdf_annotations(page: pypdf.PageObject) -> list[str]:
    # Comments: their author (/T) and their text (/Contents).
    annotations = page.get("/Annots")
    texts = []
    for annotation in annotations.get_object() if annotations is not None else []:
        texts += _pdf_strings(annotation.get_object(), ("/T", "/Contents"))
    return ["\n".join(texts)]


def _pdf_info(reader: pypdf.PdfReader) -> list[str]:
    info = reader.metadata  # /Author, /Title, /Creator and the rest
    return ["\n".join(_pdf_strings(info, tuple(info)))] if info is not None else []


def _pdf_fields(reader: pypdf.PdfReader) -> list[str]:
    fields = (reader.get_fields() or {}).values()
    return ["\n".join(text for field in fields for text in _pdf_strings(field, ("/V",)))]


def _pdf_xmp(reader: pypdf.PdfReader) -> list[str]:
    stream = reader.root_object.get("/Metadata")
    stream = stream.get_object() if stream is not None else None
    if not isinstance(stream, StreamObject):
        return []
    return [_xml_text(io.BytesIO(stream.get_data()), _METADATA_STYLE, _PART_LIMIT)]


def _pdf_strings(dictionary: Any, keys: tuple[str, ...]) -> list[str]:
    texts = []
    for key in keys:
        value = dictionary.get(key)
        value = value.get_object() if hasattr(value, "get_object") else value
        if isinstance(value, str):
            texts.append(str(value))
        elif isinstance(value, bytes):
            texts.append(value.decode("latin-1"))
    return texts


# --- OOXML and ODF ----------------------------------------------------------------


@dataclass(frozen=True)
class _XmlStyle:
    """Where an XML vocabulary keeps its text."""

    text: frozenset[str] | None  # elements whose character data is text; None: all of it
    blocks: frozenset[str] | None  # elements that stand on their own lines; None: all
    marks: Mapping[str, str]  # empty elements that stand for a character
    attributes: frozenset[str]  # "attr" or "element@attr" whose values name people


_OOXML_STYLE = _XmlStyle(
    # w:t and a:t hold text; Word keeps deleted text and field codes (HYPERLINK
    # "mailto:...") in their own elements; a cell's cached value is its <v>.
    text=frozenset({"t", "delText", "instrText", "v"}),
    blocks=frozenset({"p", "si", "c", "instrText"}),
    marks={"tab": "\t", "br": "\n", "cr": "\n", "noBreakHyphen": "-"},
    # Comment and tracked-change authors, commenters' e-mails, hyperlink targets.
    attributes=frozenset(
        {"author", "userId", "displayName", "author@name", "cmAuthor@name", "Target"}
    ),
)
_ODF_STYLE = _XmlStyle(
    text=None,
    # Footnote numbers and annotation authors sit inside paragraphs: set them apart.
    blocks=frozenset({"p", "h", "note-citation", "creator", "date", "title", "desc"}),
    marks={"s": " ", "tab": "\t", "line-break": "\n"},
    attributes=frozenset({"href"}),
)
_METADATA_STYLE = _XmlStyle(text=None, blocks=None, marks={}, attributes=frozenset())

_OOXML_PARTS = (
    (
        re.compile(
            r"docProps/[^/]+\.xml|customXml/[^/]+\.xml|word/people\.xml"
            r"|xl/(comments\d*|threadedComments/[^/]+|persons/[^/]+)\.xml"
            r"|ppt/(comments/[^/]+|commentAuthors|authors)\.xml"
        ),
        _METADATA_STYLE,
    ),
    # Every other part can hold what a reader sees: the body, headers, notes, slide
    # masters, charts, SmartArt, text boxes; relationships hold hyperlink targets.
    (re.compile(r"(word|xl|ppt)/.+\.(xml|rels)"), _OOXML_STYLE),
)
_ODF_PARTS = (
    # styles.xml holds headers and footers; embedded objects have their own content.xml.
    (re.compile(r"(.+/)?(content|styles)\.xml"), _ODF_STYLE),
    (re.compile(r"meta\.xml"), _METADATA_STYLE),
)


def _office_family(
    archive: zipfile.ZipFile,
) -> tuple[tuple[re.Pattern[str], _XmlStyle], ...] | None:
    names = set(archive.namelist())
    if "[Content_Types].xml" in names:
        if any(name.startswith(("word/", "xl/", "ppt/")) for name in names):
            return _OOXML_PARTS
    if "mimetype" in names:
        with archive.open("mimetype") as entry:
            if entry.read(len(_ODF_MIMETYPE)) == _ODF_MIMETYPE:
                return _ODF_PARTS
    return None


def _office_views(data: bytes) -> list[str]:
    views: list[str] = []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        parts = _office_family(archive)
        if parts is None:
            return []
        budget = _TOTAL_LIMIT
        for info in archive.infolist()[:_MAX_PARTS]:
            style = next((s for pattern, s in parts if pattern.fullmatch(info.filename)), None)
            # A part over the budget is skipped unread: it is a zip bomb or nothing a
            # person wrote by hand.
            if style is None or info.file_size > min(_PART_LIMIT, budget):
                continue
            budget -= info.file_size
            views += _attempt(partial(_read_part, archive, info, style))
    return views


def _read_part(archive: zipfile.ZipFile, info: zipfile.ZipInfo, style: _XmlStyle) -> list[str]:
    with archive.open(info) as entry:
        return [_xml_text(entry, style, info.file_size)]


class _Refused(Exception):
    """An XML document declares a DTD, which no office part needs and entity bombs use."""


class _XmlText:
    """Collects an XML document's text as expat streams it."""

    def __init__(self, style: _XmlStyle) -> None:
        self._style = style
        self._parts: list[str] = []
        self._notes: list[str] = []  # attribute values, apart so they never split a word
        self._in_text: list[bool] = []
        self._depth = 0  # how many open elements hold text
        self._shared_cell = False  # a cell whose <v> is an index into the shared strings

    def start(self, name: str, attributes: dict[str, str]) -> None:
        local = name.rpartition("}")[2]
        style = self._style
        if style.blocks is None or local in style.blocks:
            self._parts.append("\n")
        named = {key.rpartition("}")[2]: value for key, value in attributes.items()}
        mark = style.marks.get(local)
        if mark is not None:
            repeat = named.get("c", "1")  # <text:s text:c="3"/> is three spaces
            self._parts.append(mark * min(int(repeat), 100) if repeat.isdecimal() else mark)
        for attribute, value in named.items():
            if attribute in style.attributes or f"{local}@{attribute}" in style.attributes:
                self._notes.append(value)
        if local == "c":
            self._shared_cell = named.get("t") == "s"
        in_text = style.text is not None and local in style.text
        in_text = in_text and not (local == "v" and self._shared_cell)
        self._in_text.append(in_text)
        self._depth += in_text

    def end(self, name: str) -> None:
        local = name.rpartition("}")[2]
        if self._in_text:
            self._depth -= self._in_text.pop()
        if self._style.blocks is None or local in self._style.blocks:
            self._parts.append("\n")

    def data(self, text: str) -> None:
        if self._style.text is None or self._depth > 0:
            self._parts.append(text)

    def text(self) -> str:
        joined = "".join([*self._parts, "\n", *(f"{note}\n" for note in self._notes)])
        return re.sub(r"\s*\n\s*", "\n", joined).strip()


def _refuse(*_: object) -> None:
    raise _Refused


def _xml_text(source: IO[bytes], style: _XmlStyle, limit: int) -> str:
    collector = _XmlText(style)
    parser = expat.ParserCreate(namespace_separator="}")
    parser.buffer_text = True
    parser.StartElementHandler = collector.start
    parser.EndElementHandler = collector.end
    parser.CharacterDataHandler = collector.data
    parser.StartDoctypeDeclHandler = _refuse
    read = 0
    try:
        while read < limit and (chunk := source.read(min(65536, limit - read))):
            read += len(chunk)
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except (expat.ExpatError, _Refused, zipfile.BadZipFile, zlib.error, EOFError, OSError):
        pass  # the text before the damage still names people
    return collector.text()


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


def _rtf_views(data: bytes) -> list[str]:
    # The raw view as for PDF: RTF is 7-bit, its control words read as written.
    return [data.decode("latin-1"), *_attempt(lambda: [_rtf_text(data)])]


def _rtf_text(data: bytes) -> str:
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
