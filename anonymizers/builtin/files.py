"""Files: metadata rows here, contents in the blob store.

A subject's own files are erased, or anonymized (metadata stripped, identifiers
replaced). Other people's files are searched too, through the token index of
their contents (filetokens.py): a text-like file that names the subject is
rewritten through the blob outbox like any other; a document that does (a PDF, an
office document) cannot be rewritten safely, so the job lists it in needs_review
instead of pretending, and an operator decides (docs/data-map.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from anonymizers.api import (
    Action,
    Batch,
    BatchResult,
    Category,
    Column,
    Connection,
    Identifiers,
    Match,
    Operation,
    Rendered,
    Scope,
    TextColumns,
    Tools,
    load_queries,
    redact_batch,
    rendered_files,
)
from anonymizers.text import documents, filetokens
from anonymizers.text.documents import FileFormat
from anonymizers.text.metadata import strip_metadata

_SQL = load_queries("anonymizers.builtin.sql", "files.sql")
_NAMES = TextColumns("files", text=("name",), owner="contact_id", indexed=True)
# The mentions step's parts: the token index brought up to date, other people's
# files' contents, other people's file names.
_MENTIONS = ("token_index", "contents", "names")
_STILL_NAMED = "still names the subject after its text was rewritten (an encoded part)"


def _args(scope: Scope) -> tuple[str, bool, list[int], list[int], list[int]]:
    # Files belong to contacts and to users (both id lists), or are the subject.
    return (*scope.by_contact(), list(scope.user_ids), list(scope.file_ids))


def _mask(match: Match) -> str:
    # Same length: offsets inside binary formats (a PDF's xref table) stay valid.
    return "x" * len(match.text)


@dataclass(frozen=True)
class Rewritten:
    """A file's contents after redaction, and whether it still names the subject."""

    data: bytes
    changed: bool
    review: str | None  # why an operator must look at it, or None
    views: list[str] | None = None  # the text views of `data`, when read already


def _names(views: Sequence[str], tools: Tools, *, own: bool, written: Collection[str] = ()) -> bool:
    """Whether a view names the subject (`written`: replacements this rewrite put in,
    which a whole tenant's redactor would take for identifiers again)."""
    return any(m.text not in written for v in views for m in tools.redactor.find(v, own=own))


def rewritten(data: bytes, content_type: str, name: str, tools: Tools, *, own: bool) -> Rewritten:
    """The file with the subject's identifiers replaced, where that is safe.

    Text-like files are rewritten in their own encoding. Other formats (a subject's
    own PDF or image) lose identifying metadata, and identifiers stored uncompressed
    are masked in place (same length). Whatever still names the subject afterwards
    (compressed text, an encoded MIME part, a PDF of someone else) is for review."""
    kind = documents.file_format(content_type, name, data)
    written: set[str] = set()

    def replace(match: Match) -> str:
        out = tools.replace(match)
        written.add(out)
        return out

    if kind is FileFormat.TEXT:
        text = documents.decode_text(data)
        new = text.encode(tools.redactor.redact(text.text, replace, own=own))
        views = documents.text_views(new, content_type, name)
    elif own:
        stripped = strip_metadata(data, content_type)
        masked = tools.redactor.redact(stripped.decode("latin-1"), _mask, own=True)
        new = masked.encode("latin-1")
        views = documents.text_views(new, content_type, name)
        if new != stripped:
            unmasked = documents.text_views(stripped, content_type, name)
            # views[0] of a document is its raw bytes, read whatever the structure;
            # fewer views: the mask hit the file's structure, not its text (a whole
            # tenant's redactor takes any phone-like digits, such as a PDF's MediaBox
            # or its xref offsets), the file would no longer read, and a search of it
            # would find nothing. Unmasked, it stays readable, and goes to review below.
            if len(views) < len(unmasked):
                new, views = stripped, unmasked
    else:
        # Someone else's document: its bytes are not ours to edit blindly.
        views = documents.text_views(data, content_type, name)
        if _names(views, tools, own=own):
            return Rewritten(data, False, f"a {kind.value} ({content_type}) cannot be rewritten")
        return Rewritten(data, False, None)
    if kind is FileFormat.OTHER or not _names(views, tools, own=own, written=written):
        return Rewritten(new, new != data, None, views)
    if kind is FileFormat.TEXT:
        return Rewritten(new, new != data, _STILL_NAMED, views)
    # A document that still names the subject is left as it was, for the operator to
    # decide on as a whole: half a rewrite would only look done.
    review = f"a {kind.value} ({content_type}) whose text cannot be rewritten"
    return Rewritten(data, False, review, documents.text_views(data, content_type, name))


class FilesAnonymizer:
    """A subject's files and attachments; other people's files that name the subject."""

    data_type = "files"
    stage = 10  # first: file rows reference messages and contacts
    honours_period = False
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

    def parts(self, operation: Operation, scope: Scope) -> tuple[str, ...]:
        return _MENTIONS if operation == "mentions" else ("files",)

    async def redact_mentions(self, conn: Connection, batch: Batch, tools: Tools) -> BatchResult:
        if batch.part == "token_index":
            return await self._index(conn, batch, tools)
        if batch.part == "contents":
            return await self._contents(conn, batch, tools)
        # Other people's files whose names mention the subject are renamed.
        return await redact_batch(
            conn, _NAMES, batch, tools, rows="others", owners=batch.scope.contact_ids
        )

    async def _index(self, conn: Connection, batch: Batch, tools: Tools) -> BatchResult:
        """Read the tokens of the tenant's files queued for it: new, or changed since."""
        tenant = batch.scope.tenant_id
        finished = BatchResult(processed=0, checkpoint=0, finished=True)
        if not await conn.fetchval(_SQL["index_queued"], tenant):
            return finished  # nothing queued, or another job's index work committed
        await conn.execute(_SQL["index_lock"], tenant)
        rows = await conn.fetch(_SQL["to_index"], tenant, batch.limit)
        present = [r for r in rows if r["blob_key"] is not None]
        contents = await tools.read_blobs([r["blob_key"] for r in present])
        files = [
            _Indexed(r["id"], r["sha256"], r["content_type"], r["name"], data)
            for r, data in zip(present, contents, strict=True)
            if data is not None
        ]
        await _save_tokens(conn, tenant, tools, files)
        # A file whose blob is gone has no contents to index: taken off the queue too
        # (new contents queue it again).
        await conn.execute(_SQL["indexed"], tenant, [r["id"] for r in rows])
        # No mention: bookkeeping. Done when the queue is.
        return BatchResult(
            processed=0,
            checkpoint=0,
            finished=len(rows) < batch.limit,
            missing_files=_missing(present, contents),
        )

    async def _contents(self, conn: Connection, batch: Batch, tools: Tools) -> BatchResult:
        """Other people's files whose tokens say they may name the subject: read,
        rewritten where that is safe, listed for review where it is not."""
        groups = tools.redactor.token_groups()
        queries = filetokens.tsqueries(tools.tenant_key, groups) if groups else None
        scope = batch.scope
        rows = await conn.fetch(
            _SQL["mentioning" if queries else "others"],
            scope.tenant_id,
            list(scope.contact_ids),
            list(scope.user_ids),
            batch.after,
            queries,
            batch.limit,
        )
        contents = await tools.read_blobs([r["blob_key"] for r in rows])
        rewrites: list[tuple[str, bytes]] = []
        reviews: list[tuple[int, str]] = []
        changed: list[_Indexed] = []
        for r, data in zip(rows, contents, strict=True):
            if data is None:  # gone: nothing in it names anyone any more
                continue
            out = rewritten(data, r["content_type"], r["name"], tools, own=False)
            if out.changed:
                rewrites.append((r["blob_key"], out.data))
                digest = hashlib.sha256(out.data).hexdigest()
                changed.append(
                    _Indexed(r["id"], digest, r["content_type"], r["name"], out.data, out.views)
                )
            if out.review:
                reviews.append((r["id"], out.review))
        if changed:
            await conn.execute(
                _SQL["update_contents"],
                scope.tenant_id,
                [c.file_id for c in changed],
                [len(c.data) for c in changed],
                [c.sha256 for c in changed],
            )
            await _save_tokens(conn, scope.tenant_id, tools, changed)
        return BatchResult(
            processed=len(changed) + len(reviews),
            checkpoint=rows[-1]["id"] if rows else batch.after,
            finished=len(rows) < batch.limit,
            blob_rewrites=tuple(rewrites),
            blob_rows=tuple((r["blob_key"], r["id"]) for r in rows),
            needs_review=tuple(reviews),
            missing_files=_missing(rows, contents),
        )

    async def erase(self, conn: Connection, batch: Batch, tools: Tools) -> BatchResult:
        rows = await conn.fetch(_SQL["erase_batch"], *_args(batch.scope), batch.after, batch.limit)
        return BatchResult(
            processed=len(rows),
            checkpoint=max((r["id"] for r in rows), default=batch.after),
            finished=len(rows) < batch.limit,
            blob_keys=tuple(r["blob_key"] for r in rows),
            blob_rows=tuple((r["blob_key"], r["id"]) for r in rows),
        )

    async def anonymize(self, conn: Connection, batch: Batch, tools: Tools) -> BatchResult:
        rows = await conn.fetch(_SQL["lock_batch"], *_args(batch.scope), batch.after, batch.limit)
        rewrites: list[tuple[str, bytes]] = []
        reviews: list[tuple[int, str]] = []
        names: list[str] = []
        sizes: list[int | None] = []
        digests: list[str | None] = []
        # All at once: one trip off the event loop (the store overlaps its requests
        # if that suits it).
        contents = await tools.read_blobs([r["blob_key"] for r in rows])
        indexed: list[_Indexed] = []
        for r, original in zip(rows, contents, strict=True):
            names.append(tools.redactor.redact(r["name"], tools.replace, own=True))
            if original is None:
                # Its blob is gone: the row is anonymized, no contents are made up
                # for it (its size and digest stay).
                sizes.append(None)
                digests.append(None)
                continue
            out = rewritten(original, r["content_type"], r["name"], tools, own=True)
            rewrites.append((r["blob_key"], out.data))
            if out.review:
                reviews.append((r["id"], out.review))
            digest = hashlib.sha256(out.data).hexdigest()
            sizes.append(len(out.data))
            digests.append(digest)
            indexed.append(
                _Indexed(r["id"], digest, r["content_type"], names[-1], out.data, out.views)
            )
        await conn.execute(
            _SQL["update_anonymized"],
            batch.scope.tenant_id,
            [r["id"] for r in rows],
            names,
            sizes,
            digests,
        )
        await _save_tokens(conn, batch.scope.tenant_id, tools, indexed)
        return BatchResult(
            processed=len(rows),
            checkpoint=rows[-1]["id"] if rows else batch.after,
            finished=len(rows) < batch.limit,
            blob_rewrites=tuple(rewrites),
            blob_rows=tuple((r["blob_key"], r["id"]) for r in rows),
            needs_review=tuple(reviews),
            missing_files=_missing(rows, contents),
        )

    async def export(self, conn: Connection, scope: Scope) -> AsyncIterator[Rendered]:
        async for r in rendered_files(conn, _SQL["export"], *_args(scope)):
            yield r


def _missing(rows: Sequence[Any], contents: Sequence[bytes | None]) -> tuple[int, ...]:
    """The ids of the rows whose contents were not found (their blobs are gone)."""
    return tuple(r["id"] for r, data in zip(rows, contents, strict=True) if data is None)


class _Indexed(NamedTuple):
    """A file to (re)index: its contents, and their text views if read already."""

    file_id: int
    sha256: str
    content_type: str
    name: str
    data: bytes
    views: list[str] | None = None


async def _save_tokens(
    conn: Connection, tenant_id: str, tools: Tools, files: Sequence[_Indexed]
) -> None:
    """Index files' contents (privacy_file_tokens), in one statement."""
    if not files:
        return
    lexemes = []
    for f in files:
        views = (
            f.views if f.views is not None else documents.text_views(f.data, f.content_type, f.name)
        )
        lexemes.append(" ".join(filetokens.lexemes(tools.tenant_key, filetokens.tokens(views))))
    await conn.execute(
        _SQL["save_tokens"],
        tenant_id,
        [f.file_id for f in files],
        [f.sha256 for f in files],
        lexemes,
    )
