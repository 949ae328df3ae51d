"""Metadata stripping removes identifying metadata and leaves every other byte as it was."""

from __future__ import annotations

import binascii
import io
import random
import re
import struct
import zipfile
import zlib

from hypothesis import assume, given
from hypothesis import strategies as st

from anonymizers.text.metadata import strip_metadata
from tests.helpers.images import (
    APP0,
    APP1_EXIF,
    APP2_ICC,
    APP14_ADOBE,
    COM,
    DQT,
    JPEG,
    NAME,
    SCAN,
    exif_with_gps,
)


def test_jpeg_drops_exif_xmp_iptc_and_comments_only() -> None:
    out = strip_metadata(JPEG, "image/jpeg")
    assert out == b"\xff\xd8" + APP0 + APP2_ICC + DQT + APP14_ADOBE + SCAN
    assert out.startswith(b"\xff\xd8")
    assert out.endswith(b"\xff\xd9")
    assert NAME not in out
    assert exif_with_gps()[26:] not in out  # the GPS IFD and its latitude


def test_jpeg_segments_after_the_scan_start_are_copied_verbatim() -> None:
    # After SOS the bytes are image data, even if they look like an APP1 marker.
    tail = SCAN[:-2] + APP1_EXIF + b"\xff\xd9"
    data = b"\xff\xd8" + APP0 + tail
    assert strip_metadata(data, "image/jpeg") == data


def test_jpeg_fill_bytes_before_a_marker_are_understood() -> None:
    data = b"\xff\xd8\xff\xff" + COM + APP0 + SCAN
    assert strip_metadata(data, "image/jpeg") == b"\xff\xd8" + APP0 + SCAN


def test_truncated_jpeg_comes_back_unchanged() -> None:
    for cut in (3, 5, len(APP0) + 10, len(JPEG) - len(SCAN) - 3):
        data = JPEG[:cut]
        assert strip_metadata(data, "image/jpeg") == data


# --- PNG --------------------------------------------------------------------------

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def chunk(kind: bytes, payload: bytes) -> bytes:
    crc = binascii.crc32(kind + payload)
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def read_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """Walk a PNG chunk by chunk, checking every CRC."""
    assert data.startswith(PNG_SIGNATURE)
    chunks, pos = [], len(PNG_SIGNATURE)
    while pos < len(data):
        (length,) = struct.unpack_from(">I", data, pos)
        kind, payload = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack_from(">I", data, pos + 8 + length)
        assert crc == binascii.crc32(kind + payload), kind
        chunks.append((kind, payload))
        pos += 12 + length
    assert pos == len(data)
    return chunks


IHDR = chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))  # 1x1 grey
PHYS = chunk(b"pHYs", struct.pack(">IIB", 2835, 2835, 1))
IDAT = chunk(b"IDAT", zlib.compress(b"\x00\x80"))  # filter byte + one pixel
IEND = chunk(b"IEND", b"")
PNG = (
    PNG_SIGNATURE
    + IHDR
    + chunk(b"tEXt", b"Author\x00" + NAME)
    + chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"Shot by " + NAME))
    + chunk(b"iTXt", b"Author\x00\x00\x00\x00\x00" + NAME)
    + chunk(b"tIME", struct.pack(">HBBBBB", 2024, 5, 1, 12, 30, 0))
    + chunk(b"eXIf", exif_with_gps())
    + PHYS
    + IDAT
    + IEND
)


def test_png_drops_text_exif_and_time_chunks_and_keeps_the_rest_byte_identical() -> None:
    out = strip_metadata(PNG, "image/png")
    assert out == PNG_SIGNATURE + IHDR + PHYS + IDAT + IEND
    assert [kind for kind, _ in read_chunks(out)] == [b"IHDR", b"pHYs", b"IDAT", b"IEND"]
    assert zlib.decompress(read_chunks(out)[2][1]) == b"\x00\x80"
    assert NAME not in out


def test_malformed_png_comes_back_unchanged() -> None:
    noise = random.Random(7).randbytes(200)
    truncated = PNG[: len(PNG) - 5]
    no_iend = PNG[: -len(IEND)]
    for data in (PNG_SIGNATURE + noise, truncated, no_iend, PNG_SIGNATURE):
        assert strip_metadata(data, "image/png") == data


# --- PDF --------------------------------------------------------------------------


def build_pdf(objects: list[bytes], info: int) -> bytes:
    """Lay out numbered objects with a correct xref table and trailer."""
    out = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%b\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\n" % (len(objects) + 1, info)
    return out + b"startxref\n%d\n%%%%EOF\n" % xref


XMP = (
    b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description>'
    b"<dc:creator><rdf:Seq><rdf:li>Jane Doe</rdf:li></rdf:Seq></dc:creator>"
    b"</rdf:Description></rdf:RDF></x:xmpmeta>\n"
    b'<?xpacket end="w"?>'
)
PDF = build_pdf(
    [
        b"<< /Type /Catalog /Pages 2 0 R /Metadata 4 0 R /Outlines 5 0 R >>",
        b"<< /Type /Pages /Kids [] /Count 0 >>",
        b"<< /Author (Jane \\(JD\\) Doe) /Title(Notes (draft) on Jane Doe)"
        b" /Producer <4A616E6520446F65> /Creator 6 0 R /Subject (a\\\\) /Keywords ()"
        b" /CreationDate (D:20240501123000Z) /Authority (kept) >>",
        b"<< /Type /Metadata /Subtype /XML /Length %d >>\nstream\n%b\nendstream" % (len(XMP), XMP),
        b"<< /Title (Chapter one) /Count 0 >>",
        b"(Jane Doe's PDF tool)",
    ],
    info=3,
)


def xref_offsets(pdf: bytes) -> list[int]:
    start = int(re.findall(rb"startxref\s+(\d+)", pdf)[-1])
    return [int(m) for m in re.findall(rb"(\d{10}) 00000 n", pdf[start:])]


def test_pdf_blanks_info_strings_and_xmp_in_place() -> None:
    out = strip_metadata(PDF, "application/pdf")
    assert len(out) == len(PDF)
    assert b"Jane" not in out
    assert b"4A61" not in out
    assert b"/Author (%b)" % (b" " * 15) in out
    assert b"/Title(%b)" % (b" " * 25) in out
    assert b"/Producer <%b>" % (b" " * 16) in out
    assert b"6 0 obj\n(%b)\nendobj" % (b" " * 19) in out  # the indirect /Creator value
    assert b"/Subject (   ) /Keywords ()" in out
    # Other strings, and titles outside the Info dictionary, are not metadata.
    for kept in (b"/CreationDate (D:20240501123000Z)", b"/Authority (kept)", b"(Chapter one)"):
        assert kept in out
    assert b'<?xpacket begin="\xef\xbb\xbf"' in out
    assert b'<?xpacket end="w"?>' in out
    assert b"xmpmeta" not in out
    for number, offset in enumerate(xref_offsets(out), start=1):
        assert out[offset:].startswith(b"%d 0 obj" % number)


def test_pdf_xmp_without_a_packet_wrapper_is_blanked() -> None:
    meta = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><dc:creator>Jane Doe</dc:creator></x:xmpmeta>'
    pdf = build_pdf([b"<< /Type /Catalog >>", b"stream\n%b\nendstream" % meta], info=9)
    out = strip_metadata(pdf, "application/pdf")
    assert len(out) == len(pdf)
    assert NAME not in out


def test_pdf_header_after_junk_is_trusted_only_with_a_pdf_content_type() -> None:
    data = b"junk\n" + PDF
    assert NAME not in strip_metadata(data, "application/pdf; charset=binary")
    assert strip_metadata(data, "application/octet-stream") == data


def test_unterminated_pdf_strings_are_left_alone() -> None:
    data = b"%PDF-1.4\n1 0 obj << /Author (Jane Doe >> endobj trailer << /Info 1 0 R >>"
    assert strip_metadata(data, "application/pdf") == data


# --- OOXML ------------------------------------------------------------------------

CORE = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b"<cp:coreProperties"
    b' xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties"'
    b' xmlns:dc="http://purl.org/dc/elements/1.1/"'
    b' xmlns:dcterms="http://purl.org/dc/terms/"'
    b' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
    b"<dc:title>Offer for Jane Doe</dc:title><dc:subject/>"
    b"<dc:creator>Jane Doe</dc:creator><cp:keywords>jane, doe</cp:keywords>"
    b'<dc:description xml:lang="en">Written by Jane Doe</dc:description>'
    b"<cp:lastModifiedBy>Jane Doe</cp:lastModifiedBy><cp:revision>3</cp:revision>"
    b'<dcterms:created xsi:type="dcterms:W3CDTF">2024-05-01T12:30:00Z</dcterms:created>'
    b"</cp:coreProperties>"
)
EMPTIED_CORE = (
    CORE.replace(b">Offer for Jane Doe<", b"><")
    .replace(b">Jane Doe<", b"><")
    .replace(b">jane, doe<", b"><")
    .replace(b">Written by Jane Doe<", b"><")
)
APP = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
    b"<Application>Microsoft Office Word</Application><Company>Doe Ltd</Company>"
    b"<Manager>Jane Doe</Manager></Properties>"
)
OTHER_MEMBERS = {
    "[Content_Types].xml": b'<?xml version="1.0"?><Types/>',
    "_rels/.rels": b'<?xml version="1.0"?><Relationships/>',
    "word/document.xml": b"<w:document>Hello</w:document>" * 20,
    "word/media/image1.png": PNG,
}


def build_docx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as docx:
        for name, content in OTHER_MEMBERS.items():
            stored = name.endswith(".png")
            docx.writestr(name, content, zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED)
            if name == "_rels/.rels":
                docx.writestr("docProps/core.xml", CORE, zipfile.ZIP_DEFLATED)
                docx.writestr("docProps/app.xml", APP, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def test_ooxml_empties_document_properties_and_copies_other_members() -> None:
    original = build_docx()
    out = strip_metadata(original, "application/vnd.openxmlformats-officedocument")
    with zipfile.ZipFile(io.BytesIO(original)) as before, zipfile.ZipFile(io.BytesIO(out)) as after:
        assert after.testzip() is None
        assert [(i.filename, i.compress_type, i.date_time) for i in after.infolist()] == [
            (i.filename, i.compress_type, i.date_time) for i in before.infolist()
        ]
        for name, content in OTHER_MEMBERS.items():
            assert after.read(name) == content
        core, app = after.read("docProps/core.xml"), after.read("docProps/app.xml")
    assert core == EMPTIED_CORE
    assert NAME not in core
    assert b"<Company></Company>" in app
    assert b"<Manager></Manager>" in app
    assert b"<Application>Microsoft Office Word</Application>" in app
    assert b"<cp:revision>3</cp:revision>" in core
    assert b"<dc:subject/>" in core


def test_zips_that_are_not_ooxml_or_not_zips_come_back_unchanged() -> None:
    plain = io.BytesIO()
    with zipfile.ZipFile(plain, "w") as archive:
        archive.writestr("docProps/core.xml", CORE)  # no [Content_Types].xml
    for data in (plain.getvalue(), b"PK\x03\x04" + b"\x00" * 40, build_docx()[:-30]):
        assert strip_metadata(data, "application/zip") == data
    # A core.xml that does not parse is not rewritten, so neither is the archive.
    stored = io.BytesIO()
    with zipfile.ZipFile(stored, "w") as archive:
        archive.writestr("[Content_Types].xml", b"<Types/>")
        archive.writestr("docProps/core.xml", CORE[:-5])
    assert strip_metadata(stored.getvalue(), "application/zip") == stored.getvalue()


# --- Anything else ----------------------------------------------------------------


def test_text_and_unknown_formats_come_back_unchanged() -> None:
    for data, content_type in (
        (b"Author: Jane Doe\n", "text/plain"),
        (b"GIF89a" + NAME, "image/gif"),
        (b"", "application/pdf"),
        (NAME, "image/jpeg"),  # the declared type alone is no reason to parse
    ):
        assert strip_metadata(data, content_type) == data


SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"PK\x03\x04", b"%PDF-")


@given(st.binary(), st.text(max_size=40))
def test_content_matching_no_signature_comes_back_unchanged(data: bytes, content_type: str) -> None:
    assume(not data.startswith(SIGNATURES) and b"%PDF-" not in data)
    assert strip_metadata(data, content_type) == data


@given(st.sampled_from(SIGNATURES), st.binary(), st.sampled_from(["", "application/pdf"]))
def test_arbitrary_bytes_after_a_signature_never_raise(
    signature: bytes, rest: bytes, content_type: str
) -> None:
    assert isinstance(strip_metadata(signature + rest, content_type), bytes)
