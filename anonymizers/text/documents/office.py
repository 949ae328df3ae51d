"""OOXML (Word, Excel, PowerPoint) and ODF documents: the text of their XML parts,
read within a size budget."""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import IO
from xml.parsers import expat

from anonymizers.text.documents.guards import MAX_PARTS, PART_LIMIT, TOTAL_LIMIT, attempt

_ODF_MIMETYPE = b"application/vnd.oasis.opendocument"

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
METADATA_STYLE = _XmlStyle(text=None, blocks=None, marks={}, attributes=frozenset())

_OOXML_PARTS = (
    (
        re.compile(
            r"docProps/[^/]+\.xml|customXml/[^/]+\.xml|word/people\.xml"
            r"|xl/(comments\d*|threadedComments/[^/]+|persons/[^/]+)\.xml"
            r"|ppt/(comments/[^/]+|commentAuthors|authors)\.xml"
        ),
        METADATA_STYLE,
    ),
    # Every other part can hold what a reader sees: the body, headers, notes, slide
    # masters, charts, SmartArt, text boxes; relationships hold hyperlink targets.
    (re.compile(r"(word|xl|ppt)/.+\.(xml|rels)"), _OOXML_STYLE),
)
_ODF_PARTS = (
    # styles.xml holds headers and footers; embedded objects have their own content.xml.
    (re.compile(r"(.+/)?(content|styles)\.xml"), _ODF_STYLE),
    (re.compile(r"meta\.xml"), METADATA_STYLE),
)


def office_family(
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


def office_views(data: bytes) -> list[str]:
    views: list[str] = []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        parts = office_family(archive)
        if parts is None:
            return []
        budget = TOTAL_LIMIT
        for info in archive.infolist()[:MAX_PARTS]:
            style = next((s for pattern, s in parts if pattern.fullmatch(info.filename)), None)
            # A part over the budget is skipped unread: it is a zip bomb or nothing a
            # person wrote by hand.
            if style is None or info.file_size > min(PART_LIMIT, budget):
                continue
            budget -= info.file_size
            views += attempt(partial(_read_part, archive, info, style))
    return views


def _read_part(archive: zipfile.ZipFile, info: zipfile.ZipInfo, style: _XmlStyle) -> list[str]:
    with archive.open(info) as entry:
        return [xml_text(entry, style, info.file_size)]


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


def xml_text(source: IO[bytes], style: _XmlStyle, limit: int) -> str:
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
