"""PDF: page text, annotations, form fields, document information and XMP metadata."""

from __future__ import annotations

import io
import logging
import threading
import warnings
from functools import partial
from typing import Any

import pypdf
from pypdf.generic import StreamObject

from anonymizers.text.documents.guards import PART_LIMIT, attempt
from anonymizers.text.documents.office import METADATA_STYLE, xml_text

# pypdf logs every robustness fix it applies to a malformed file; user uploads are often
# malformed and nobody acts on those lines.
logging.getLogger("pypdf").setLevel(logging.CRITICAL)


# --- PDF --------------------------------------------------------------------------

# warnings.catch_warnings() swaps process-wide filters; two threads inside it at once
# could leave "ignore" installed for good. pypdf is pure Python, so the lock costs little.
_PDF_LOCK = threading.Lock()


def pdf_views(data: bytes) -> list[str]:
    # The raw bytes show uncompressed content, and "PDFs" no parser accepts.
    views = [data.decode("latin-1")]
    # Without an end-of-file marker and a cross-reference there is nothing pypdf can
    # read, and it is slow: this runs on every file of a tenant.
    if b"%%EOF" in data and b"xref" in data:
        views += attempt(partial(_pdf_text, data))
    return views


def _pdf_text(data: bytes) -> list[str]:
    with _PDF_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
        views = []
        for page in reader.pages:
            views += attempt(partial(_pdf_page, page))
            views += attempt(partial(_pdf_annotations, page))
        for read in (_pdf_info, _pdf_fields, _pdf_xmp):
            views += attempt(partial(read, reader))
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
    return [xml_text(io.BytesIO(stream.get_data()), METADATA_STYLE, PART_LIMIT)]


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
