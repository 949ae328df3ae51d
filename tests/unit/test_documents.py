"""Text views show a subject's identifiers wherever a file hides them from a byte search."""

from __future__ import annotations

import base64
import codecs
import io
import logging
import warnings
import zipfile
from email.message import EmailMessage
from typing import Any

import pypdf
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from anonymizers.text.documents import FileFormat, decode_text, file_format, office, text_views
from tests.helpers.documents import CONTENT_TYPES, W, docx, pdf, zipped

NAME = "Zoë Šimić"
EMAIL = "zoe.simic@example.com"


def seen(views: list[str], needle: str) -> bool:
    return any(needle in view for view in views)


# --- PDF --------------------------------------------------------------------------


PAGE = b"BT /F1 12 Tf 72 720 Td (Zoe Simic zoe.simic@example.com) Tj ET"
XMP = (
    b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF'
    b' xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">'
    b"<dc:creator><rdf:Seq><rdf:li>jane.doe@example.net</rdf:li></rdf:Seq></dc:creator>"
    b'</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
)


def test_pdf_text_is_read_from_compressed_page_content() -> None:
    data = pdf(PAGE)
    assert file_format("application/pdf", "review.pdf", data) is FileFormat.DOCUMENT
    views = text_views(data, "application/pdf", "review.pdf")
    # The raw view cannot see inside the compressed stream: pypdf's view is what finds it.
    assert EMAIL.encode() not in data
    assert EMAIL not in views[0]
    assert seen(views[1:], f"Zoe Simic {EMAIL}")
    assert seen(views[1:], "Zoe Simic\nQuarterly review")  # the /Info values
    assert pypdf.PdfReader(io.BytesIO(data)).pages[0].extract_text()  # the helper is valid


def test_pdf_xmp_metadata_is_read() -> None:
    views = text_views(pdf(PAGE, xmp=XMP), "application/octet-stream", "scan")
    assert seen(views, "jane.doe@example.net")
    assert not seen(text_views(pdf(PAGE), "application/pdf", "x.pdf"), "jane.doe")


def test_pdf_comments_and_form_values_are_read() -> None:
    comment = b"<< /Type /Annot /Subtype /Text /Rect [0 0 9 9] /T (Ann Lee) /Contents (Call me) >>"
    data = pdf(PAGE, xmp=XMP, annotation=comment, form_value=b"ann.lee@example.net")
    views = text_views(data, "application/pdf", "form.pdf")
    assert "Ann Lee\nCall me" in views
    assert "ann.lee@example.net" in views  # views of their own


def test_uncompressed_pdf_content_is_in_the_raw_view() -> None:
    views = text_views(pdf(PAGE, compress=False), "application/pdf", "")
    assert EMAIL in views[0]


def test_malformed_pdf_is_searched_raw_without_calling_pypdf(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = []

    def record(*args: object, **kwargs: object) -> pypdf.PdfReader:
        calls.append(args)
        raise ValueError("pypdf must not parse this")

    monkeypatch.setattr(pypdf, "PdfReader", record)
    data = b"%PDF-1.4\nSigned by Jane Doe"
    assert file_format("application/pdf", "signed.pdf", data) is FileFormat.DOCUMENT
    assert text_views(data, "application/pdf", "signed.pdf") == ["%PDF-1.4\nSigned by Jane Doe"]
    assert text_views(data + b"\n%%EOF", "application/pdf", "") == [(data + b"\n%%EOF").decode()]
    assert calls == []
    # The same record sees a file that has the markers.
    assert text_views(pdf(PAGE), "application/pdf", "")
    assert len(calls) == 1


def test_pypdf_warnings_stay_inside(monkeypatch: pytest.MonkeyPatch) -> None:
    real = pypdf.PdfReader

    def warning_reader(*args: Any, **kwargs: Any) -> pypdf.PdfReader:
        warnings.warn("an odd file", UserWarning, stacklevel=2)
        return real(*args, **kwargs)

    monkeypatch.setattr(pypdf, "PdfReader", warning_reader)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an escaping warning would end the pypdf view
        assert seen(text_views(pdf(PAGE), "application/pdf", "")[1:], EMAIL)


def test_pdf_that_breaks_pypdf_still_gives_the_raw_view(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> pypdf.PdfReader:
        raise RecursionError("a cyclic page tree")

    monkeypatch.setattr(pypdf, "PdfReader", broken)
    data = pdf(PAGE, compress=False)
    assert text_views(data, "application/pdf", "x.pdf") == [data.decode("latin-1")]


def test_truncated_pdf_neither_raises_nor_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    data = pdf(PAGE)
    for cut in (len(data) // 3, len(data) // 2, len(data) - 40):
        broken = data[:cut] + b"\nxref\nstartxref\n999999\n%%EOF\n"
        views = text_views(broken, "application/pdf", "x.pdf")
        assert views[0] == broken.decode("latin-1")
    assert [record for record in caplog.records if record.name.startswith("pypdf")] == []


# --- OOXML ------------------------------------------------------------------------

A = 'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"'
P = 'xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"'
X = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
CORE = (
    '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/'
    'metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/">'
    "<dc:title>Plan</dc:title><dc:creator>Jane Doe</dc:creator>"
    "<cp:lastModifiedBy>jane.doe@example.net</cp:lastModifiedBy></cp:coreProperties>"
)
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def test_docx_joins_runs_and_reads_headers_and_core_properties() -> None:
    data = docx(
        "<w:p><w:r><w:t>Zo</w:t></w:r><w:r><w:t>ë Šimić</w:t></w:r></w:p>"
        "<w:p><w:r><w:t>Second</w:t><w:tab/><w:t>line</w:t><w:br/><w:t>end</w:t></w:r></w:p>",
        **{
            "word/header1.xml": f"<w:hdr {W}><w:p><w:r><w:t>{EMAIL}</w:t></w:r></w:p></w:hdr>",
            "docProps/core.xml": CORE,
        },
    )
    assert file_format(DOCX, "cv.docx", data) is FileFormat.DOCUMENT
    views = text_views(data, DOCX, "cv.docx")
    assert f"{NAME}\nSecond\tline\nend" in views
    assert EMAIL in views
    assert "Plan\nJane Doe\njane.doe@example.net" in views


def test_docx_comment_authors_deleted_text_and_mailto_links_are_read() -> None:
    data = docx(
        '<w:p><w:del w:author="Jane Doe"><w:r><w:delText>Zoë</w:delText></w:r></w:del>'
        '<w:r><w:fldChar w:fldCharType="begin"/></w:r>'
        '<w:r><w:instrText> HYPERLINK "mailto:zoe.simic@example.com" </w:instrText></w:r>'
        "<w:r><w:t>write to me</w:t></w:r></w:p>",
        **{
            "word/comments.xml": f'<w:comments {W}><w:comment w:author="Ann Lee" w:id="0">'
            "<w:p><w:r><w:t>check</w:t></w:r></w:p></w:comment></w:comments>",
            "word/_rels/document.xml.rels": '<Relationships xmlns="http://schemas.openxml'
            'formats.org/package/2006/relationships"><Relationship Id="rId1" Type="h"'
            ' Target="mailto:jane.doe@example.net" TargetMode="External"/></Relationships>',
        },
    )
    views = text_views(data, "", "notes.docx")
    assert seen(views, "Jane Doe")
    assert seen(views, "Zoë")
    assert seen(views, 'HYPERLINK "mailto:zoe.simic@example.com"')
    assert "check\nAnn Lee" in views
    assert seen(views, "mailto:jane.doe@example.net")


def test_xlsx_reads_shared_inline_and_numeric_cells_but_not_string_indexes() -> None:
    shared = f"<sst {X}><si><r><t>Zo</t></r><r><t>ë</t></r></si><si><t>Šimić</t></si></sst>"
    sheet = (
        f'<worksheet {X}><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c>'
        f'<c r="B1" t="inlineStr"><is><t>{EMAIL}</t></is></c>'
        '<c r="C1"><v>4155550123</v></c></row></sheetData></worksheet>'
    )
    data = zipped(
        {
            "[Content_Types].xml": CONTENT_TYPES,
            "xl/sharedStrings.xml": shared,
            "xl/worksheets/sheet1.xml": sheet,
        }
    )
    views = text_views(data, "application/octet-stream", "export.xlsx")
    assert views == ["Zoë\nŠimić", f"{EMAIL}\n4155550123"]


def test_pptx_reads_slides_notes_and_masters() -> None:
    slide = (
        f"<p:sld {P} {A}><p:cSld><p:spTree><p:sp><p:txBody><a:p>"
        "<a:r><a:t>Zo</a:t></a:r><a:r><a:t>ë Šimić</a:t></a:r></a:p>"
        "</p:txBody></p:sp></p:spTree></p:cSld></p:sld>"
    )
    notes = f"<p:notes {P} {A}><a:p><a:r><a:t>{EMAIL}</a:t></a:r></a:p></p:notes>"
    data = zipped(
        {
            "[Content_Types].xml": CONTENT_TYPES,
            "ppt/slides/slide1.xml": slide,
            "ppt/notesSlides/notesSlide1.xml": notes,
            "ppt/slideMasters/slideMaster1.xml": f"<p:sldMaster {P} {A}><a:p><a:r>"
            "<a:t>Prepared by Ann Lee</a:t></a:r></a:p></p:sldMaster>",
            "ppt/media/note.txt": "not a part of the text",
        }
    )
    assert file_format("", "deck.pptx", data) is FileFormat.DOCUMENT
    assert text_views(data, "", "deck.pptx") == [NAME, EMAIL, "Prepared by Ann Lee"]


def test_xml_with_a_dtd_is_not_expanded() -> None:
    # Entity expansion is how XML bombs work; office parts never declare a DTD.
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "Jane Doe">]>'
        f"<w:document {W}><w:body><w:p><w:r><w:t>&a;</w:t></w:r></w:p></w:body></w:document>"
    )
    data = zipped({"[Content_Types].xml": CONTENT_TYPES, "word/document.xml": bomb})
    assert not seen(text_views(data, DOCX, "x.docx"), "Jane Doe")


def test_a_part_past_the_size_limit_is_skipped_unread() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        with archive.open("word/document.xml", "w") as part:
            part.write(f"<w:document {W}><w:body><w:p><w:r><w:t>Jane Doe".encode())
            zeros = b"0" * (1 << 20)
            for _ in range(60):
                part.write(zeros)
            part.write(b"</w:t></w:r></w:p></w:body></w:document>")
        archive.writestr("word/header1.xml", f"<w:hdr {W}><w:t>{EMAIL}</w:t></w:hdr>")
    data = buffer.getvalue()
    assert len(data) < 1 << 20  # 60 MB inflated, a small upload
    # Read, the huge part would show "Jane Doe": it is skipped and the small one read.
    assert text_views(data, DOCX, "bomb.docx") == [EMAIL]


def test_parts_past_the_total_budget_or_count_are_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    header = f"<w:hdr {W}><w:p><w:r><w:t>Jane Doe</w:t></w:r></w:p></w:hdr>".encode()
    footer = f"<w:ftr {W}><w:p><w:r><w:t>{EMAIL}</w:t></w:r></w:p></w:ftr>".encode()
    data = zipped(
        {
            "[Content_Types].xml": CONTENT_TYPES,
            "word/header1.xml": header,
            "word/footer1.xml": footer,
        }
    )
    assert text_views(data, DOCX, "x.docx") == ["Jane Doe", EMAIL]
    monkeypatch.setattr(office, "TOTAL_LIMIT", len(header) + len(footer) - 1)
    assert text_views(data, DOCX, "x.docx") == ["Jane Doe"]
    monkeypatch.undo()
    monkeypatch.setattr(office, "MAX_PARTS", 2)  # entries, [Content_Types].xml included
    assert text_views(data, DOCX, "x.docx") == ["Jane Doe"]


def test_broken_zip_gives_no_views() -> None:
    data = docx(f"<w:p><w:r><w:t>{EMAIL}</w:t></w:r></w:p>")
    assert text_views(data[: len(data) // 2], DOCX, "x.docx") == []
    assert text_views(b"not a zip", DOCX, "x.docx") == []


# --- ODF --------------------------------------------------------------------------

ODF_TEXT = 'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
ODF_OFFICE = 'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
ODT = "application/vnd.oasis.opendocument.text"


def test_odt_joins_spans_and_reads_metadata() -> None:
    content = (
        f"<office:document-content {ODF_OFFICE} {ODF_TEXT}><office:body><office:text>"
        "<text:h>Contact</text:h>"
        "<text:p>Name:<text:s/><text:span>Zo</text:span><text:span>ë</text:span> Šimić"
        '<text:tab/>x<text:s text:c="2"/>y<text:line-break/>'
        '<text:a xlink:href="mailto:jane.doe@example.net"'
        ' xmlns:xlink="http://www.w3.org/1999/xlink">mail</text:a></text:p>'
        "</office:text></office:body></office:document-content>"
    )
    meta = (
        f'<office:document-meta {ODF_OFFICE} xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0"><office:meta>'
        f"<meta:initial-creator>{EMAIL}</meta:initial-creator><dc:creator>Ann Lee</dc:creator>"
        "</office:meta></office:document-meta>"
    )
    data = zipped({"mimetype": ODT, "content.xml": content, "meta.xml": meta})
    assert file_format("application/octet-stream", "", data) is FileFormat.DOCUMENT
    views = text_views(data, ODT, "letter.odt")
    assert views == [
        f"Contact\nName: {NAME}\tx  y\nmail\nmailto:jane.doe@example.net",
        f"{EMAIL}\nAnn Lee",
    ]


# --- RTF --------------------------------------------------------------------------


def test_rtf_decodes_escapes_and_drops_control_groups() -> None:
    data = (
        rb"{\rtf1\ansi\ansicpg1252\deff0{\fonttbl{\f0\fswiss Helvetica;}}"
        rb"{\*\generator Riched20 10.0;}{\info{\author Jane Doe}}"
        rb"\uc1\pard\f0 Dear Zo\'eb \u352?imi\u263?,\par"
        rb'{\field{\*\fldinst HYPERLINK "mailto:zoe.simic@example.com"}{\fldrslt mail}}}'
    )
    assert file_format("text/rtf", "letter.rtf", data) is FileFormat.DOCUMENT
    views = text_views(data, "application/rtf", "letter.rtf")
    assert views[0] == data.decode("latin-1")
    assert NAME not in views[0]
    text = views[1]
    assert f"Dear {NAME},\n" in text
    assert "\nJane Doe" in text
    assert EMAIL in text
    assert "Helvetica" not in text
    assert "Riched20" not in text


def test_rtf_characters_beyond_the_bmp_and_double_byte_code_pages() -> None:
    data = rb"{\rtf1\ansi\ansicpg932 \u-10179?\u-8704? \'83\'5e}"
    assert text_views(data, "", "x.rtf")[1] == "\U0001f600 \u30bf"


# --- E-mail -----------------------------------------------------------------------


def test_eml_headers_parts_and_attachments_are_decoded() -> None:
    message = EmailMessage()
    message["To"] = "team@example.com"
    message.set_content("placeholder", cte="quoted-printable")
    message.add_alternative("<p>Call <b>+1 415 555 0123</b></p>", subtype="html", cte="base64")
    message.add_attachment(
        "name,email\nAnn Lee,ann.lee@example.net\n", subtype="csv", filename="c.csv", cte="base64"
    )
    nested = EmailMessage()
    nested["Subject"] = "forwarded"
    nested.set_content("Nested: nested.secret@example.org", cte="base64")
    message.add_attachment(nested)
    plain = next(part for part in message.walk() if part.get_content_type() == "text/plain")
    # A quoted-printable soft line break inside the address.
    plain.set_payload("Private: zoe.simic@exa=\nmple.org, Zo=C3=AB\n")
    encoded_name = base64.b64encode(NAME.encode()).decode()
    data = (
        f"From: =?utf-8?b?{encoded_name}?= <{EMAIL}>\nSubject: =?iso-8859-1?q?Ren=E9e?=\n".encode()
        + message.as_bytes()
    )
    assert file_format("message/rfc822", "", data) is FileFormat.TEXT
    views = text_views(data, "message/rfc822", "mail.eml")
    assert views[0] == decode_text(data).text
    hidden = [
        NAME,
        "Renée",
        "zoe.simic@example.org",
        "+1 415 555 0123",
        "ann.lee@example.net",
        "nested.secret@example.org",
    ]
    for value in hidden:
        assert value not in views[0], value
        assert seen(views[1:], value), value
    assert f"From: {NAME} <{EMAIL}>" in views[1]
    assert "Call +1 415 555 0123" in views  # the HTML part without its tags


def test_eml_malformed_address_headers_keep_their_encoded_names() -> None:
    data = f"From: <{EMAIL}> =?utf-8?q?Zo=C3=AB_=C5=A0imi=C4=87?=\n\nhi\n".encode()
    views = text_views(data, "message/rfc822", "")
    assert NAME not in views[0]
    assert seen(views, NAME)


def test_eml_is_recognised_by_its_headers_without_a_type_or_name() -> None:
    data = b"Received: x\nMIME-Version: 1.0\nSubject: =?utf-8?q?Zo=C3=AB?=\n\nhi\n"
    assert seen(text_views(data, "application/octet-stream", ""), "Subject: Zoë")
    assert text_views(b"Subject: =?utf-8?q?Zo=C3=AB?=\n\nno MIME\n", "", "") == [
        "Subject: =?utf-8?q?Zo=C3=AB?=\n\nno MIME\n"
    ]


# --- vCard and iCalendar ----------------------------------------------------------


def test_vcard_21_unfolds_and_decodes_quoted_printable_values() -> None:
    data = (
        b"BEGIN:VCARD\r\nVERSION:2.1\r\n"
        b"N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=C5=A0imi=C4=87;Zo=C3=AB;;;\r\n"
        b"FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:Zo=C3=AB =C5=A0i=\r\nmi=C4=87\r\n"
        b"EMAIL;INTERNET:zoe.simic@exa\r\n mple.com\r\n"
        b"NOTE:Met Jane\\, Doe\\nat the fair\r\nEND:VCARD\r\n"
    )
    assert file_format("text/x-vcard", "", data) is FileFormat.TEXT
    views = text_views(data, "text/vcard; charset=utf-8", "zoe.vcf")
    assert NAME not in views[0]
    assert EMAIL not in views[0]
    assert views[1].splitlines()[2:6] == [
        "N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:Šimić;Zoë;;;",
        f"FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:{NAME}",
        f"EMAIL;INTERNET:{EMAIL}",
        "NOTE:Met Jane, Doe",
    ]


def test_ics_attendee_folded_inside_name_and_address() -> None:
    data = (
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:Review\r\n"
        'ATTENDEE;CN="Zoë Ši\r\n mić";ROLE=REQ-PARTICIPANT:mailto:zoe.simic@exa\r\n\tmple.com\r\n'
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()
    views = text_views(data, "application/octet-stream", "invite.ics")
    assert NAME not in views[0]
    assert f'ATTENDEE;CN="{NAME}";ROLE=REQ-PARTICIPANT:mailto:{EMAIL}' in views[1]


# --- HTML and plain text ----------------------------------------------------------


def test_html_view_joins_inline_text_and_separates_blocks() -> None:
    data = "<html><style>p {}</style><p>Dear Zo<b>&euml;</b>\n  Šimić,</p><div>Bye</div>"
    views = text_views(data.encode(), "text/html; charset=utf-8", "")
    assert views == [data, f"Dear {NAME},\nBye"]


def test_text_views_start_with_the_rewritable_file() -> None:
    data = "name,email\nZoë Šimić,zoe@example.com\n".encode("utf-16")
    views = text_views(data, "text/csv", "people.csv")
    assert views == ["name,email\nZoë Šimić,zoe@example.com\n"]
    assert decode_text(data).encode(views[0].replace("Zoë Šimić", "Ann Lee")) == (
        "name,email\nAnn Lee,zoe@example.com\n".encode("utf-16")
    )
    assert text_views(b"", "text/plain", "empty.txt") == [""]


def test_mostly_utf8_text_with_legacy_bytes_is_also_read_as_cp1252() -> None:
    data = "Zoë Šimić;".encode() + "Renée".encode("cp1252")
    decoded = decode_text(data)
    assert decoded.encoding == "utf-8"
    assert decoded.text.startswith(NAME)
    assert text_views(data, "text/plain", "") == [decoded.text, f"{NAME};Renée"]


# --- decode_text ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "encoding", "bom", "text"),
    [
        (b"plain", "utf-8", b"", "plain"),
        (codecs.BOM_UTF8 + NAME.encode(), "utf-8", codecs.BOM_UTF8, NAME),
        (codecs.BOM_UTF16_BE + NAME.encode("utf-16-be"), "utf-16-be", codecs.BOM_UTF16_BE, NAME),
        (codecs.BOM_UTF32_LE + NAME.encode("utf-32-le"), "utf-32-le", codecs.BOM_UTF32_LE, NAME),
        ("Renée Škoda".encode("cp1252"), "cp1252", b"", "Renée Škoda"),
        (b"Zo\xeb\x81", "latin-1", b"", "Zoë\x81"),  # 0x81 is undefined in cp1252
        (codecs.BOM_UTF16_LE + b"odd", "cp1252", b"", "ÿþodd"),  # not UTF-16 after all
    ],
)
def test_decode_text_rule(data: bytes, encoding: str, bom: bytes, text: str) -> None:
    decoded = decode_text(data)
    assert (decoded.encoding, decoded.bom, decoded.text) == (encoding, bom, text)
    assert decoded.encode(decoded.text) == data


def test_encode_replaces_what_a_legacy_codec_cannot_hold() -> None:
    decoded = decode_text("Renée".encode("cp1252"))
    assert decoded.encode("Łukasz") == b"?ukasz"


@given(st.binary())
def test_decode_text_round_trips_any_bytes(data: bytes) -> None:
    decoded = decode_text(data)
    assert decoded.encode(decoded.text) == data


@given(st.text(), st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]))
def test_decode_text_reads_unicode_text_back(text: str, encoding: str) -> None:
    assume(not text.startswith(("\ufeff", "\x00")))  # a BOM or NUL first reads as another BOM
    data = text.encode(encoding)
    decoded = decode_text(data)
    assert decoded.text == text
    assert decoded.encode(decoded.text) == data


@given(st.text(st.characters(codec="cp1252")))
def test_decode_text_round_trips_cp1252_text(text: str) -> None:
    data = text.encode("cp1252")
    decoded = decode_text(data)
    assert decoded.encode(decoded.text) == data
    if decoded.encoding == "cp1252":
        assert decoded.text == text


# --- file_format ------------------------------------------------------------------

ZIP = zipped({"a.txt": "x"})
OOXML = zipped({"[Content_Types].xml": CONTENT_TYPES, "xl/workbook.xml": "<w/>"})
ODF = zipped({"mimetype": "application/vnd.oasis.opendocument.spreadsheet"})
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"


@pytest.mark.parametrize(
    ("content_type", "name", "data", "expected"),
    [
        ("text/plain", "", b"", FileFormat.TEXT),
        ("TEXT/CSV; charset=utf-8", "x.bin", PNG, FileFormat.TEXT),  # the declared type wins
        ("text/html", "", b"<p>", FileFormat.TEXT),
        ("text/markdown", "", b"#", FileFormat.TEXT),
        ("text/tab-separated-values", "", b"a\tb", FileFormat.TEXT),
        ("text/calendar", "", b"", FileFormat.TEXT),
        ("text/x-vcard", "", b"", FileFormat.TEXT),
        ("application/json", "", b"{}", FileFormat.TEXT),
        ("application/ld+json", "", b"{}", FileFormat.TEXT),
        ("application/atom+xml", "", b"<a/>", FileFormat.TEXT),
        ("image/svg+xml", "", b"<svg/>", FileFormat.TEXT),
        ("message/rfc822", "", b"", FileFormat.TEXT),
        ("text/rtf", "", b"{\\rtf1}", FileFormat.DOCUMENT),
        ("application/rtf", "x.txt", b"{\\rtf1}", FileFormat.DOCUMENT),
        ("application/pdf", "", b"", FileFormat.DOCUMENT),
        (DOCX, "", b"", FileFormat.DOCUMENT),
        (XLSX, "", OOXML, FileFormat.DOCUMENT),
        ("application/vnd.oasis.opendocument.presentation", "", b"", FileFormat.DOCUMENT),
        ("image/png", "photo.txt", PNG, FileFormat.OTHER),
        ("image/jpeg", "", b"\xff\xd8\xff", FileFormat.OTHER),
        ("audio/mpeg", "", b"ID3", FileFormat.OTHER),
        ("video/mp4", "", b"", FileFormat.OTHER),
        # Generic or unknown types: the extension decides...
        ("application/octet-stream", "Notes.TXT", PNG, FileFormat.TEXT),
        ("", "people.csv", b"a,b", FileFormat.TEXT),
        ("application/vnd.ms-excel", "people.csv", b"a,b", FileFormat.TEXT),
        ("", "mail.eml", b"", FileFormat.TEXT),
        ("", "card.vcf", b"", FileFormat.TEXT),
        ("", "x.ics", b"", FileFormat.TEXT),
        ("", "x.htm", b"", FileFormat.TEXT),
        ("", "x.md", b"", FileFormat.TEXT),
        ("", "x.log", b"", FileFormat.TEXT),
        ("", "x.json", b"", FileFormat.TEXT),
        ("", "x.xml", b"", FileFormat.TEXT),
        ("", "x.tsv", b"", FileFormat.TEXT),
        ("", "x.markdown", b"", FileFormat.TEXT),
        ("", "x.pdf", b"", FileFormat.DOCUMENT),
        ("application/octet-stream", "x.docx", b"", FileFormat.DOCUMENT),
        ("", "x.xlsx", b"", FileFormat.DOCUMENT),
        ("", "x.pptx", b"", FileFormat.DOCUMENT),
        ("", "x.odt", b"", FileFormat.DOCUMENT),
        ("", "x.ods", b"", FileFormat.DOCUMENT),
        ("", "x.odp", b"", FileFormat.DOCUMENT),
        ("", "x.rtf", b"", FileFormat.DOCUMENT),
        # ...then the magic bytes.
        ("application/octet-stream", "", b"%PDF-1.7\n", FileFormat.DOCUMENT),
        ("", "scan", b"{\\rtf1 x}", FileFormat.DOCUMENT),
        ("application/octet-stream", "", OOXML, FileFormat.DOCUMENT),
        ("application/zip", "upload", ODF, FileFormat.DOCUMENT),
        ("application/zip", "", ZIP, FileFormat.OTHER),
        ("application/octet-stream", "backup.zip", ZIP, FileFormat.OTHER),
        ("application/octet-stream", "", b"PK\x03\x04broken", FileFormat.OTHER),
        ("application/octet-stream", "", "Zoë Šimić".encode(), FileFormat.TEXT),
        ("", "notes", b"", FileFormat.TEXT),
        ("application/octet-stream", "", b"text\x00with NUL", FileFormat.OTHER),
        ("application/octet-stream", "", b"Zo\xeb", FileFormat.OTHER),  # not UTF-8
        ("application/octet-stream", "", PNG, FileFormat.OTHER),
        ("application/x-unknown", "x.exe", b"MZ\x90\x00", FileFormat.OTHER),
    ],
)  # fmt: skip
def test_file_format(content_type: str, name: str, data: bytes, expected: FileFormat) -> None:
    assert file_format(content_type, name, data) is expected


def test_other_files_have_no_views() -> None:
    assert text_views(PNG + EMAIL.encode(), "image/png", "x.png") == []
    assert text_views(ZIP, "application/zip", "x.zip") == []


# --- Robustness -------------------------------------------------------------------

TYPES = [
    "",
    "application/octet-stream",
    "text/plain",
    "text/html",
    "text/vcard",
    "text/calendar",
    "message/rfc822",
    "application/pdf",
    "application/rtf",
    DOCX,
    ODT,
    "image/png",
]
GARBAGE = st.one_of(
    st.binary(max_size=2000),
    st.binary(max_size=2000).map(lambda data: b"PK\x03\x04" + data),
    st.binary(max_size=2000).map(lambda data: b"%PDF-1.7\n" + data + b"\n%%EOF"),
    st.tuples(st.binary(max_size=500), st.binary(max_size=500)).map(
        lambda pair: b"%PDF-1.7\n" + pair[0] + b"\nxref\n0 1\n" + pair[1] + b"\nstartxref\n9\n%%EOF"
    ),
    st.binary(max_size=2000).map(lambda data: b"{\\rtf1" + data),
    st.binary(max_size=2000).map(lambda data: b"MIME-Version: 1.0\n" + data),
    st.text(max_size=500).map(lambda text: f"BEGIN:VCARD\n{text}".encode()),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(GARBAGE, st.sampled_from(TYPES), st.sampled_from(["", "x.eml", "x.docx", "x.txt"]))
def test_text_views_never_raises(data: bytes, content_type: str, name: str) -> None:
    views = text_views(data, content_type, name)
    assert all(isinstance(view, str) for view in views)
    if file_format(content_type, name, data) is FileFormat.TEXT:
        assert views[0] == decode_text(data).text


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_damaged_documents_never_raise(data: st.DataObject) -> None:
    # Flip bytes inside real documents: the parsers get further than on random bytes.
    original = data.draw(
        st.sampled_from([pdf(PAGE), pdf(PAGE, compress=False, xmp=XMP), docx("<w:p/>"), ODF])
    )
    position = data.draw(st.integers(0, len(original) - 1))
    damaged = (
        original[:position]
        + data.draw(st.binary(min_size=1, max_size=8))
        + original[position + 8 :]
    )
    assert isinstance(text_views(damaged, "", "x.pdf"), list)
    assert isinstance(text_views(damaged, DOCX, ""), list)
