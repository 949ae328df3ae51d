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
import re
import zipfile
from collections.abc import Callable
from email.header import decode_header, make_header
from email.message import Message
from enum import StrEnum
from functools import partial

from anonymizers.text.documents.guards import attempt
from anonymizers.text.documents.office import office_family, office_views
from anonymizers.text.documents.pdf import pdf_views
from anonymizers.text.documents.plaintext import (
    ESCAPED,
    TextFile,
    content_line_views,
    cp1252_escape,
    decode_bytes,
    decode_text,
    html_views,
)
from anonymizers.text.documents.rtf import rtf_views

__all__ = ["FileFormat", "TextFile", "decode_text", "file_format", "text_views"]


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
            return office_family(archive) is not None
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
    if legacy and ESCAPED.search(text):
        # Mostly UTF-8 with some legacy bytes (a CSV pasted together from two sources):
        # the escaped bytes read as cp1252 too.
        extras.append(ESCAPED.sub(cp1252_escape, text))
    if kind is _Kind.HTML:
        extras += attempt(partial(html_views, text))
    elif kind is _Kind.CONTENT_LINES:
        extras += attempt(partial(content_line_views, text))
    elif kind is _Kind.EMAIL:
        extras += attempt(partial(_email_views, data, depth))
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


# --- E-mail -----------------------------------------------------------------------


def _email_views(data: bytes, depth: int) -> list[str]:
    message = email.message_from_bytes(data, policy=email.policy.default)
    views: list[str] = []
    # walk() enters multiparts and message/rfc822 parts: nested mails are read here.
    for part in message.walk():
        views.append(_attempt_text(partial(_headers_text, part)))
        if not part.is_multipart():
            views += attempt(partial(_part_views, part, depth))
    return views


def _attempt_text(read: Callable[[], str]) -> str:
    return "".join(attempt(lambda: [read()]))


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
        values += attempt(lambda: [str(make_header(decode_header(raw)))])
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
    text = decode_bytes(payload, part.get_content_charset())
    return _text_views(text, kind, payload, depth + 1, legacy=False)


# --- Documents --------------------------------------------------------------------


def _document_views(data: bytes, declared: _Kind) -> list[str]:
    # The bytes decide over the label: a parser reads only what they are.
    if data.startswith(_ZIP_SIGNATURE):
        return attempt(partial(office_views, data))
    if _PDF_HEADER in data[:_PDF_HEADER_WINDOW]:
        return pdf_views(data)
    if data[:64].lstrip().startswith(_RTF_HEADER):
        return rtf_views(data)
    if declared is _Kind.PDF:
        return pdf_views(data)
    if declared is _Kind.RTF:
        return rtf_views(data)
    return attempt(partial(office_views, data))
