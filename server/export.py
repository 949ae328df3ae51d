"""Export: a subject's (or a whole tenant's) data as a stream, from one consistent snapshot.

Records come from every anonymizer's `export` (a new data type is exported with
no change here), read in one REPEATABLE READ, read-only transaction and passed
on in blocks of NDJSON; a block is sent before more than a few are read (COPY
read ahead by a bounded queue, cursors a batch at a time), so gRPC flow control
is the back-pressure and memory stays flat. The contents of the files the
records name (`Rendered.file_ids`) follow, then a manifest with counts (the
service sends a file in chunks, then its size and SHA-256). A file whose blob is
gone is listed as missing and the export goes on; a file whose blob key the store
refuses (another tenant's, or leaving the blob directory) ends it with DataLoss.

Every export that gets past its checks is audited, whatever its end:
`export.started` before the first record leaves, then `export.completed` before
the manifest, or `export.aborted` saying how far it got and why.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from array import array
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, aclosing
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, NamedTuple

from anonymizers.records import BLOCK_BYTES, NEVER_EXPORTED, Rendered, file_path
from anonymizers.registry import Registry
from db.connection import Connection
from server import audit, subjects, tenant_keys
from server.audit import AuditEntry
from server.blobs import BlobKeyRefused, BlobMissing, BlobStore
from server.errors import DataLoss, PrivacyError, StorageUnavailable
from server.keyring import Keyring
from server.queries import Q
from server.subjects import Subject
from server.tenancy import enter_tenant, require_tenant

log = logging.getLogger(__name__)

SCHEMA_VERSION = "1"
# Why a file is listed as missing (the manifest's `reason`).
MISSING_BLOB = "its contents are not in the blob store (deleted, or never written)"
CANCELLED = "cancelled by the caller"
# Files read per trip to a thread, up to this many bytes.
READ_AHEAD_FILES = 256
READ_AHEAD_BYTES = 1024 * 1024
# File rows read again at once for their blob keys, after the records.
FILE_ROWS_AT_ONCE = 1000


@dataclass(frozen=True)
class Records:
    """Export records of one data type, in order, as NDJSON: `count` JSON objects,
    each ending in a newline."""

    data_type: str
    ndjson: bytes
    count: int


class ExportedFile(NamedTuple):
    """One file's contents and their SHA-256 (the service sends them in chunks, then
    the file's entry). A tuple: a tenant's export makes hundreds of thousands."""

    file_id: str
    path: str
    data: bytes
    sha256: str


class MissingFile(NamedTuple):
    """A file whose record went out but whose contents the blob store does not hold:
    listed, not sent (the manifest's `missing_files`)."""

    file_id: str
    path: str
    reason: str


@dataclass
class Manifest:
    snapshot_at: datetime
    record_counts: dict[str, int] = field(default_factory=dict)
    # Totals only: each file's entry went out on its own (ExportedFile, MissingFile).
    files: int = 0
    file_bytes: int = 0
    files_missing: int = 0
    schema_version: str = SCHEMA_VERSION


Part = Records | ExportedFile | MissingFile  # what travels before the manifest
Item = Part | Manifest
Connect = Callable[[], AbstractAsyncContextManager[Connection]]


@dataclass
class _Sent:
    """How far an export got: what it handed to the stream."""

    records: dict[str, int] = field(default_factory=dict)
    files: int = 0
    file_bytes: int = 0
    files_missing: int = 0

    def add(self, part: Part) -> None:
        if isinstance(part, Records):
            self.records[part.data_type] = self.records.get(part.data_type, 0) + part.count
        elif isinstance(part, ExportedFile):
            self.files += 1
            self.file_bytes += len(part.data)
        else:
            self.files_missing += 1

    def details(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "files": self.files,
            "bytes": self.file_bytes,
            "files_missing": self.files_missing,
        }


class _PendingFile(NamedTuple):
    file_id: str
    path: str
    blob_key: str


async def export(
    connect: Connect,
    registry: Registry,
    blobs: BlobStore,
    tenant_id: str,
    subject: Subject,
    *,
    data_types: tuple[str, ...],
    region: str,
    actor: str,
    keyring: Keyring,
) -> AsyncGenerator[Item, None]:
    """Yield records, then each file (or its missing entry), then the manifest, and
    audit it: `actor` started the export, then completed it or it was aborted.

    NotFound when there is no such tenant or subject (nothing is written then).
    `region`: where phone numbers are read. Close the iterator (contextlib.aclosing)
    rather than drop it: a caller that goes away is audited at once."""
    unended: AuditEntry | None = None  # the started entry, until the export's end is in
    sent = _Sent()
    try:
        async with connect() as conn:
            started = await _start(
                conn, tenant_id, subject, data_types, region=region, actor=actor, keyring=keyring
            )
            unended = started
            async with aclosing(
                _snapshot(
                    conn,
                    registry,
                    blobs,
                    tenant_id,
                    subject,
                    data_types=data_types,
                    region=region,
                )
            ) as items:
                async for item in items:
                    if isinstance(item, Manifest):
                        # Before the manifest goes out: a caller that has the whole
                        # export has its entry.
                        done = {
                            "records": item.record_counts,
                            "files": item.files,
                            "bytes": item.file_bytes,
                            "files_missing": item.files_missing,
                        }
                        await _end(conn, started, "export.completed", done)
                        unended = None
                    else:
                        sent.add(item)
                    yield item
    except BaseException as exc:  # cancelled, closed (GeneratorExit) or failed
        if unended is not None:
            # The export's own connection is released by now (and may be broken): the
            # entry takes one of its own, so an export never holds two at once.
            why = CANCELLED if _cancelled(exc) else f"error: {_error_type(exc)}"
            await _aborted(connect, unended, {"reason": why, **sent.details()})
        raise


async def _start(
    conn: Connection,
    tenant_id: str,
    subject: Subject,
    data_types: tuple[str, ...],
    *,
    region: str,
    actor: str,
    keyring: Keyring,
) -> AuditEntry:
    """Check the tenant and the subject, then append `export.started` (committed
    before anything is read); return the entry, the template of the export's end.
    NotFound writes nothing."""
    async with conn.transaction():
        await enter_tenant(conn, tenant_id)
        await require_tenant(conn, tenant_id)
        await subjects.resolve(conn, tenant_id, subject, region)
        key = await tenant_keys.tenant_key(conn, tenant_id, keyring)
        entry = AuditEntry(
            tenant_id=tenant_id,
            actor=actor,
            action="export.started",
            subject_hash=subjects.subject_hash(key, subject),
            details={"data_types": sorted(data_types)},  # none: all of them
        )
        await audit.append(conn, entry)
    return entry


async def _end(conn: Connection, started: AuditEntry, action: str, details: dict[str, Any]) -> None:
    """Append the export's end: who, whose and what as `started` said, and how far."""
    async with conn.transaction():
        await audit.append(conn, replace(started, action=action, details=details))


async def _aborted(connect: Connect, started: AuditEntry, details: dict[str, Any]) -> None:
    """Append `export.aborted` on a connection of its own; shielded, so a caller's
    second cancellation cannot stop it halfway."""

    async def append() -> None:
        async with connect() as conn:
            await _end(conn, started, "export.aborted", details)

    try:
        await asyncio.shield(append())
    except Exception as exc:  # the export's own error is what its caller must see
        log.error(
            "export abort not audited",
            extra={"tenant_id": started.tenant_id, "error": _error_type(exc)},
        )


def _cancelled(exc: BaseException) -> bool:
    """Whether the export ended because its caller went away (also when closing the
    snapshot then failed in turn)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, asyncio.CancelledError | GeneratorExit):
            return True
        seen = seen.__context__
    return False


def _error_type(exc: BaseException) -> str:
    """An error's type (and SQLSTATE), never its text: driver messages quote rows."""
    sqlstate = getattr(exc, "sqlstate", None)
    return type(exc).__name__ + (f" (SQLSTATE {sqlstate})" if sqlstate else "")


async def _snapshot(
    conn: Connection,
    registry: Registry,
    blobs: BlobStore,
    tenant_id: str,
    subject: Subject,
    *,
    data_types: tuple[str, ...],
    region: str,
) -> AsyncGenerator[Item, None]:
    """The export's items, from one REPEATABLE READ, read-only snapshot."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        await enter_tenant(conn, tenant_id)
        await require_tenant(conn, tenant_id)
        resolved = await subjects.resolve(conn, tenant_id, subject, region)
        scope = resolved.scope(tenant_id)
        manifest = Manifest(snapshot_at=await conn.fetchval("SELECT now()"))
        # Only the files' ids are kept while the records go out (8 bytes a file,
        # not its path and key: a tenant has hundreds of thousands of files).
        file_ids = array("q")
        for anonymizer in registry.ordered():
            if data_types and anonymizer.data_type not in data_types:
                continue
            count = 0
            lines = bytearray()  # records made here, sent a block at a time
            async for record in anonymizer.export(conn, scope):
                if isinstance(record, Rendered):  # JSON made by the database: passed on
                    if lines:
                        yield _records(anonymizer.data_type, lines)
                    yield Records(anonymizer.data_type, record.ndjson, record.count)
                    count += record.count
                    file_ids.extend(record.file_ids)
                    continue
                public = {k: v for k, v in record.items() if k not in NEVER_EXPORTED}
                lines += json.dumps(public, sort_keys=True).encode()
                lines += b"\n"
                count += 1
                if len(lines) >= BLOCK_BYTES:
                    yield _records(anonymizer.data_type, lines)
            if lines:
                yield _records(anonymizer.data_type, lines)
            manifest.record_counts[anonymizer.data_type] = count
        # Blobs are not in the database snapshot; their rows were, so read them now,
        # a chunk of rows at a time from the same snapshot.
        for start in range(0, len(file_ids), FILE_ROWS_AT_ONCE):
            async for exported in _read_blobs(
                blobs,
                tenant_id,
                await _pending_files(conn, tenant_id, file_ids[start : start + FILE_ROWS_AT_ONCE]),
            ):
                if isinstance(exported, MissingFile):
                    manifest.files_missing += 1
                else:
                    manifest.files += 1
                    manifest.file_bytes += len(exported.data)
                yield exported
    yield manifest


def _records(data_type: str, lines: bytearray) -> Records:
    """The records collected in `lines` (emptied)."""
    block = bytes(lines)
    lines.clear()
    return Records(data_type, block, block.count(b"\n"))


async def _pending_files(conn: Connection, tenant_id: str, ids: array[int]) -> list[_PendingFile]:
    """The files of `ids`, in that order, with their paths and blob keys."""
    rows = {r["id"]: r for r in await conn.fetch(Q["export_file_keys"], tenant_id, ids.tolist())}
    return [
        _PendingFile(str(i), file_path(i, rows[i]["name"]), rows[i]["blob_key"])
        for i in ids
        if i in rows
    ]


def _read_one(blobs: BlobStore, tenant_id: str, f: _PendingFile) -> ExportedFile | MissingFile:
    """One file's contents, or its missing entry. A key the store refuses is DataLoss,
    a store that fails otherwise StorageUnavailable: each names the file, never the
    key, and neither is taken for a database error."""
    try:
        data = blobs.get(tenant_id, f.blob_key)
    except BlobMissing:
        return MissingFile(f.file_id, f.path, MISSING_BLOB)
    except BlobKeyRefused as exc:
        raise DataLoss(
            f"file {f.file_id}: its blob key {exc.why}; the export stops here "
            "(an operator must repair the row: docs/runbook.md)"
        ) from None
    except OSError as exc:
        raise StorageUnavailable(
            f"file {f.file_id}: the blob store could not read it "
            f"({type(exc).__name__}); retry later"
        ) from exc
    return ExportedFile(f.file_id, f.path, data, hashlib.sha256(data).hexdigest())


async def _read_blobs(
    blobs: BlobStore, tenant_id: str, pending: list[_PendingFile]
) -> AsyncIterator[ExportedFile | MissingFile]:
    """Each file with its contents and their SHA-256 (or its missing entry), read a
    group at a time off the event loop, the next group while this one is sent.

    One thread hop per group, not per file (a tenant has thousands of small
    files); a group stops at READ_AHEAD_BYTES, so memory stays bounded. A file that
    cannot be read ends its group: the files before it go out, then its error.
    """

    def read_group(group: list[_PendingFile]) -> list[ExportedFile | MissingFile | PrivacyError]:
        contents: list[ExportedFile | MissingFile | PrivacyError] = []
        size = 0
        for f in group:
            try:
                read = _read_one(blobs, tenant_id, f)
            except PrivacyError as exc:
                contents.append(exc)
                break
            contents.append(read)
            size += len(read.data) if isinstance(read, ExportedFile) else 0
            if size >= READ_AHEAD_BYTES:
                break
        return contents

    start = 0
    reading = asyncio.ensure_future(asyncio.to_thread(read_group, pending[:READ_AHEAD_FILES]))
    try:
        while start < len(pending):
            contents = await reading
            start += len(contents)
            # No read ahead past a file that failed: the export ends there.
            if start < len(pending) and not isinstance(contents[-1], PrivacyError):
                ahead = pending[start : start + READ_AHEAD_FILES]
                reading = asyncio.ensure_future(asyncio.to_thread(read_group, ahead))
            for exported in contents:
                if isinstance(exported, PrivacyError):
                    raise exported
                yield exported
    finally:  # a read ahead that the caller no longer wants
        if not reading.done():
            reading.cancel()
        elif not reading.cancelled():
            reading.exception()  # retrieved: nobody waits for it any more
