"""Strip identifying metadata from file contents without re-encoding them.

Each format is edited at the byte level: JPEG segments and PNG chunks are dropped
whole, PDF strings are blanked in place (same length, so xref offsets stay valid) and
in OOXML only the two document-property parts are rewritten. Anything unrecognised or
malformed comes back as it was: an erasure must not fail on an odd upload.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
from collections.abc import Callable, Iterator
from xml.etree import ElementTree

_JPEG_SIGNATURE = b"\xff\xd8\xff"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PDF_HEADER = b"%PDF-"
_ZIP_SIGNATURE = b"PK\x03\x04"
# Readers accept junk before the PDF header; how far they look.
_PDF_HEADER_WINDOW = 1024


def strip_metadata(data: bytes, content_type: str) -> bytes:
    """Return the file with identifying metadata removed; other bytes unchanged.

    Unknown or malformed formats come back unchanged (never raise on bad input).
    """
    strip = _stripper(data, content_type)
    if strip is None:
        return data
    try:
        return strip(data)
    except Exception:
        # Parsers raise on truncated or inconsistent input (struct.error, IndexError,
        # BadZipFile, ParseError...); such a file is left as it is.
        return data


def _stripper(data: bytes, content_type: str) -> Callable[[bytes], bytes] | None:
    """Pick the stripper for the format the magic bytes announce."""
    if data.startswith(_JPEG_SIGNATURE):
        return _strip_jpeg
    if data.startswith(_PNG_SIGNATURE):
        return _strip_png
    if data.startswith(_ZIP_SIGNATURE):
        return _strip_ooxml
    if data.startswith(_PDF_HEADER):
        return _strip_pdf
    # A header after leading junk is trusted only when the declared type agrees, or any
    # binary that happens to contain "%PDF-" early on would be edited.
    declared = content_type.split(";", 1)[0].strip().lower()
    if declared == "application/pdf" and _PDF_HEADER in data[:_PDF_HEADER_WINDOW]:
        return _strip_pdf
    return None


# --- JPEG -------------------------------------------------------------------------

# APP0 (JFIF), APP2 (ICC profile) and APP14 (Adobe colour transform) change how the
# image decodes; every other APPn (Exif/XMP in APP1, IPTC in APP13, comments in APP12,
# C2PA in APP11...) is metadata, and so is COM.
_JPEG_KEPT_APPS = frozenset({0xE0, 0xE2, 0xEE})
_JPEG_COM, _JPEG_SOS, _JPEG_EOI = 0xFE, 0xDA, 0xD9
# Every marker begins with this byte, and fill bytes before a marker are it too.
_JPEG_MARKER = 0xFF
# The application segments APP0 … APP15, where EXIF, XMP and the like live.
_JPEG_APP0, _JPEG_APP15 = 0xE0, 0xEF
# A segment's length counts the two bytes of the length itself.
_JPEG_LENGTH_BYTES = 2
# TEM and RST0-7 carry no length field.
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})


def _strip_jpeg(data: bytes) -> bytes:
    """Drop metadata segments before the first scan; copy the scan data verbatim."""
    out = bytearray(data[:2])
    pos = 2
    while True:
        start = pos
        if data[pos] != _JPEG_MARKER:
            raise ValueError("expected a marker")
        while data[pos + 1] == _JPEG_MARKER:  # fill bytes may pad a marker
            pos += 1
        marker = data[pos + 1]
        if marker in (_JPEG_SOS, _JPEG_EOI):
            return bytes(out + data[start:])
        if marker in (0x00, 0xD8):
            raise ValueError("stuffed byte or second SOI among the header segments")
        end = pos + 2
        if marker not in _JPEG_STANDALONE:
            (length,) = struct.unpack_from(">H", data, pos + 2)
            end += length
            if length < _JPEG_LENGTH_BYTES or end > len(data):
                raise ValueError("segment runs past the end")
        is_app = _JPEG_APP0 <= marker <= _JPEG_APP15
        if marker != _JPEG_COM and not (is_app and marker not in _JPEG_KEPT_APPS):
            out += data[start:end]
        pos = end


# --- PNG --------------------------------------------------------------------------

_PNG_DROPPED = frozenset({b"tEXt", b"iTXt", b"zTXt", b"eXIf", b"tIME"})


def _strip_png(data: bytes) -> bytes:
    """Drop text, Exif and timestamp chunks; copy the others with their CRCs."""
    out = bytearray(_PNG_SIGNATURE)
    pos = len(_PNG_SIGNATURE)
    while True:
        length, kind = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length  # length, type, data, CRC
        if end > len(data) or not kind.isalpha():
            raise ValueError("not a chunk")
        if kind not in _PNG_DROPPED:
            out += data[pos:end]
        pos = end
        if kind == b"IEND":
            return bytes(out + data[pos:])


# --- PDF --------------------------------------------------------------------------

_INFO_REF = re.compile(rb"/Info\s*(\d+)\s+(\d+)\s+R(?![^\s/<>\[\]()])")
# A name ends at whitespace or a delimiter: /Author must not match /Authority.
_INFO_KEY = re.compile(
    rb"/(?:Author|Creator|Producer|Title|Subject|Keywords)(?=[\s()<>\[\]{}/%])\s*"
)
_REF = re.compile(rb"(\d+)\s+(\d+)\s+R(?![^\s/<>\[\]()])")
_SPACE = re.compile(rb"\s*")
# The bytes of a PDF literal string that matter: its escape, its parentheses.
_BACKSLASH, _OPEN, _CLOSE = ord("\\"), ord("("), ord(")")
_XMP_PACKET = re.compile(rb"<\?xpacket\s+begin.*?\?>(.*?)<\?xpacket\s+end", re.S)
_XMP_META = re.compile(rb"<x:x[am]pmeta\b.*?</x:x[am]pmeta\s*>", re.S)


def _strip_pdf(data: bytes) -> bytes:
    """Blank Info strings and XMP packets in place, keeping every byte offset."""
    buf = bytearray(data)
    for num, gen in set(_INFO_REF.findall(data)):
        # Incremental updates may define the Info object more than once.
        for start, end in _objects(data, num, gen):
            for key in _INFO_KEY.finditer(data, start, end):
                _blank_value(buf, data, key.end(), end, follow=True)
    # Keeping the xpacket wrappers leaves a well-formed, empty packet.
    for packet in _XMP_PACKET.finditer(data):
        _blank(buf, *packet.span(1))
    for meta in list(_XMP_META.finditer(buf)):
        _blank(buf, *meta.span())
    return bytes(buf)


def _objects(data: bytes, num: bytes, gen: bytes) -> Iterator[tuple[int, int]]:
    """Yield the body span of each definition of indirect object `num gen`."""
    header = re.compile(rb"(?<!\d)" + num + rb"\s+" + gen + rb"\s+obj\b")
    for match in header.finditer(data):
        end = data.find(b"endobj", match.end())
        if end >= 0:
            yield match.end(), end


def _blank_value(buf: bytearray, data: bytes, pos: int, limit: int, *, follow: bool) -> None:
    """Blank the string at `pos`, or the one an indirect reference there points to."""
    if data.startswith(b"(", pos):
        end = _literal_end(data, pos, limit)
        if end is not None:
            _blank(buf, pos + 1, end)
    elif data.startswith(b"<", pos) and not data.startswith(b"<<", pos):
        end = data.find(b">", pos, limit)
        if end >= 0:  # whitespace inside a hex string is ignored: it reads as empty
            _blank(buf, pos + 1, end)
    elif follow and (ref := _REF.match(data, pos, limit)):
        for start, end in _objects(data, ref[1], ref[2]):
            value = _SPACE.match(data, start, end)
            if value:
                _blank_value(buf, data, value.end(), end, follow=False)


def _literal_end(data: bytes, pos: int, limit: int) -> int | None:
    """Return the index of the `)` closing the literal string opened at `pos`."""
    depth = 0
    while pos < limit:
        byte = data[pos]
        if byte == _BACKSLASH:  # a backslash escapes the next byte, parentheses included
            pos += 2
            continue
        if byte == _OPEN:
            depth += 1
        elif byte == _CLOSE:
            depth -= 1
            if depth == 0:
                return pos
        pos += 1
    return None


def _blank(buf: bytearray, start: int, end: int) -> None:
    buf[start:end] = b" " * (end - start)


# --- OOXML ------------------------------------------------------------------------

_EMPTIED = {
    "docProps/core.xml": (
        "creator",
        "lastModifiedBy",
        "title",
        "subject",
        "description",
        "keywords",
    ),
    "docProps/app.xml": ("Company", "Manager"),
}
# Any prefix: the namespaces are conventionally dc:/cp:, but the spec does not fix them.
_ELEMENT_PATTERNS = {
    part: [
        re.compile(rb"<((?:[\w.-]+:)?" + name.encode() + rb")(\s[^>]*)?(?<!/)>.*?</\1\s*>", re.S)
        for name in names
    ]
    for part, names in _EMPTIED.items()
}
# Members are inflated in memory; the declared sizes bound how far, and a zip bomb
# past this is left alone rather than inflated.
_MAX_INFLATED = 256 << 20


def _strip_ooxml(data: bytes) -> bytes:
    """Empty the identifying document properties; copy other members unchanged."""
    with zipfile.ZipFile(io.BytesIO(data)) as src:
        infos = src.infolist()
        names = {info.filename for info in infos}
        if "[Content_Types].xml" not in names or not names & _EMPTIED.keys():
            return data
        if sum(info.file_size for info in infos) > _MAX_INFLATED:
            return data
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as dst:
            dst.comment = src.comment
            for info in infos:
                content = src.read(info)
                if info.filename in _ELEMENT_PATTERNS:
                    content = _empty_elements(content, _ELEMENT_PATTERNS[info.filename])
                # The original ZipInfo keeps name, order, timestamp, attributes and
                # compression type.
                dst.writestr(info, content)
    return out.getvalue()


def _empty_elements(xml: bytes, patterns: list[re.Pattern[bytes]]) -> bytes:
    """Empty the matched elements, keeping their tags and attributes."""
    for pattern in patterns:
        xml = pattern.sub(rb"<\1\2></\1>", xml)
    # A part the regexes could misread (malformed XML) aborts the whole rewrite.
    ElementTree.fromstring(xml)
    return xml
