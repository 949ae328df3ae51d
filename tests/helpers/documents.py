"""Real documents for tests, written by hand: a PDF with a compressed page, OOXML parts."""

from __future__ import annotations

import io
import zipfile
import zlib

W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="xml" ContentType="application/xml"/></Types>'
)


def pdf(
    content: bytes,
    *,
    compress: bool = True,
    xmp: bytes = b"",
    annotation: bytes = b"",
    form_value: bytes = b"",
    author: bytes = b"Zoe Simic",
) -> bytes:
    """Write a valid one-page PDF: Helvetica text, an /Info author, optional extras."""
    stream = zlib.compress(content) if compress else content
    flate = b"/Filter /FlateDecode " if compress else b""
    annots = b" /Annots [" + annotation + b"]" if annotation else b""
    objects = [
        b"",  # the catalog, written last: it points at the optional objects
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792]"
        b" /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R" + annots + b" >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< " + flate + b"/Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Author (" + author + b") /Title (Quarterly review) >>",
    ]
    catalog = b"<< /Type /Catalog /Pages 2 0 R"
    if xmp:
        objects.append(b"<< /Type /Metadata /Subtype /XML /Length %d >>\n" % len(xmp))
        objects[-1] += b"stream\n" + xmp + b"\nendstream"
        catalog += b" /Metadata %d 0 R" % len(objects)
    if form_value:
        objects.append(b"<< /FT /Tx /T (email) /V (" + form_value + b") >>")
        catalog += b" /AcroForm << /Fields [%d 0 R] >>" % len(objects)
    objects[0] = catalog + b" >>"
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\n" % (len(objects) + 1)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def zipped(parts: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in parts.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def docx(body: str, **parts: str) -> bytes:
    document = f'<?xml version="1.0"?><w:document {W}><w:body>{body}</w:body></w:document>'
    return zipped({"[Content_Types].xml": CONTENT_TYPES, "word/document.xml": document, **parts})
