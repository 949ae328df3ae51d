"""Files: metadata rows here, contents in the blob store."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

from anonymizers.base import Action, Batch, BatchResult, Category, Column, Connection, Scope, Tools
from anonymizers.mentions import TextColumns, redact_batch
from anonymizers.metadata import strip_metadata
from anonymizers.queries import load_queries
from anonymizers.records import Rendered, rendered_files
from anonymizers.redaction import Identifiers, Kind

_SQL = load_queries("anonymizers.sql", "files.sql")
_NAMES = TextColumns("files", text=("name",), owner="contact_id", indexed=True)
# Contents read as text and rewritten with the subject's identifiers replaced.
_TEXT_TYPES = ("text/", "application/json", "application/xml")


def _args(scope: Scope) -> tuple[str, bool, list[int], list[int]]:
    # Files belong to contacts and to users: both id lists.
    return (*scope.by_contact(), list(scope.user_ids))


def _mask(_kind: Kind, text: str) -> str:
    # Same length: offsets inside binary formats (a PDF's xref table) stay valid.
    return "x" * len(text)


def anonymized_contents(data: bytes, content_type: str, tools: Tools) -> bytes:
    """The file without identifying metadata and without the subject's identifiers."""
    data = strip_metadata(data, content_type)
    if content_type.startswith(_TEXT_TYPES):
        text = data.decode("utf-8", errors="surrogateescape")
        return tools.redactor.redact(text, tools.replace).encode("utf-8", "surrogateescape")
    # Other formats: identifiers stored uncompressed are masked in place; compressed
    # streams cannot be searched (docs/data-map.md says so).
    return tools.redactor.redact(data.decode("latin-1"), _mask).encode("latin-1")


class FilesAnonymizer:
    """A subject's files and attachments; others' file names that mention the subject."""

    data_type = "files"
    stage = 10  # first: file rows reference messages and contacts
    columns = (
        Column("files", "name", Category.FILE_NAME, Action.DELETE_ROW, Action.REDACT),
        Column(
            "files",
            "blob_key",
            Category.FILE_REFERENCE,
            Action.DELETE_ROW,
            Action.KEEP,
            "an opaque random key; the contents behind it are rewritten instead",
        ),
        Column(
            "files",
            "content_type",
            Category.TECHNICAL,
            Action.DELETE_ROW,
            Action.KEEP,
            "a format: names no one",
        ),
        Column(
            "files",
            "sha256",
            Category.TECHNICAL,
            Action.DELETE_ROW,
            Action.KEEP,
            "recomputed for the rewritten contents",
        ),
    )

    async def identifiers(self, conn: Connection, scope: Scope) -> Identifiers:
        return Identifiers()  # a file names its subject only through other data types

    def count_query(self, scope: Scope) -> tuple[str, tuple[Any, ...]]:
        return _SQL["count"], _args(scope)

    async def redact_mentions(self, conn: Connection, batch: Batch, tools: Tools) -> BatchResult:
        # Other people's files whose names mention the subject are renamed.
        return await redact_batch(
            conn, _NAMES, batch, tools, rows="others", owners=batch.scope.contact_ids
        )

    async def erase(self, conn: Connection, batch: Batch, tools: Tools) -> BatchResult:
        rows = await conn.fetch(_SQL["erase_batch"], *_args(batch.scope), batch.after, batch.limit)
        return BatchResult(
            processed=len(rows),
            part=0,
            checkpoint=max((r["id"] for r in rows), default=batch.after),
            finished=len(rows) < batch.limit,
            blob_keys=tuple(r["blob_key"] for r in rows),
        )

    async def anonymize(self, conn: Connection, batch: Batch, tools: Tools) -> BatchResult:
        rows = await conn.fetch(_SQL["lock_batch"], *_args(batch.scope), batch.after, batch.limit)
        rewrites: list[tuple[str, bytes]] = []
        names, sizes, digests = [], [], []
        # All at once: one trip off the event loop (the store overlaps its requests
        # if that suits it).
        contents = await tools.read_blobs([r["blob_key"] for r in rows])
        for r, original in zip(rows, contents, strict=True):
            data = anonymized_contents(original, r["content_type"], tools)
            rewrites.append((r["blob_key"], data))
            names.append(tools.redactor.redact(r["name"], tools.replace))
            sizes.append(len(data))
            digests.append(hashlib.sha256(data).hexdigest())
        await conn.execute(
            _SQL["update_anonymized"],
            batch.scope.tenant_id,
            [r["id"] for r in rows],
            names,
            sizes,
            digests,
        )
        return BatchResult(
            processed=len(rows),
            part=0,
            checkpoint=rows[-1]["id"] if rows else batch.after,
            finished=len(rows) < batch.limit,
            blob_rewrites=tuple(rewrites),
        )

    async def export(self, conn: Connection, scope: Scope) -> AsyncIterator[Rendered]:
        async for r in rendered_files(conn, _SQL["export"], *_args(scope)):
            yield r
