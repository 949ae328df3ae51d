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
import json
import logging
from array import array
from collections.abc import AsyncGenerator, Callable
from contextlib import AbstractAsyncContextManager, aclosing
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from anonymizers.records import BLOCK_BYTES, NEVER_EXPORTED, Rendered, file_path
from anonymizers.registry import Registry
from db.connection import Connection
from server import audit, subjects, tenant_keys
from server.audit import AuditEntry
from server.blobs import BlobStore
from server.export_blobs import ExportedFile as ExportedFile
from server.export_blobs import FilePiece as FilePiece
from server.export_blobs import MissingFile as MissingFile
from server.export_blobs import PendingFile, read_blobs
from server.keyring import Keyring
from server.queries import Q
from server.subjects import Subject
from server.tenancy import enter_tenant, require_tenant

log = logging.getLogger(__name__)

SCHEMA_VERSION = "1"
CANCELLED = "cancelled by the caller"
# File rows read again at once for their blob keys, after the records.
FILE_ROWS_AT_ONCE = 1000


@dataclass(frozen=True)
class Records:
    """Export records of one data type, in order, as NDJSON: `count` JSON objects,
    each ending in a newline. `kind`: the table all of them come from (their `kind`),
    empty when not known."""

    data_type: str
    ndjson: bytes
    count: int
    kind: str = ""


@dataclass
class Manifest:
    snapshot_at: datetime
    record_counts: dict[str, int] = field(default_factory=dict)
    # Totals only: each file's entry went out on its own (ExportedFile, MissingFile).
    files: int = 0
    file_bytes: int = 0
    files_missing: int = 0
    schema_version: str = SCHEMA_VERSION


Part = Records | FilePiece | ExportedFile | MissingFile  # what travels before the manifest
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
        elif isinstance(part, FilePiece):
            self.file_bytes += len(part.data)
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
            lines = _Lines(anonymizer.data_type)  # records made here, a block at a time
            async for record in anonymizer.export(conn, scope):
                if isinstance(record, Rendered):  # JSON made by the database: passed on
                    if block := lines.take():
                        yield block
                    yield Records(anonymizer.data_type, record.ndjson, record.count, record.kind)
                    count += record.count
                    file_ids.extend(record.file_ids)
                    continue
                for block in lines.add(record):
                    yield block
                count += 1
            if block := lines.take():
                yield block
            manifest.record_counts[anonymizer.data_type] = count
        # Blobs are not in the database snapshot; their rows were, so read them now,
        # a chunk of rows at a time from the same snapshot.
        for start in range(0, len(file_ids), FILE_ROWS_AT_ONCE):
            async for exported in read_blobs(
                blobs,
                tenant_id,
                await _pending_files(conn, tenant_id, file_ids[start : start + FILE_ROWS_AT_ONCE]),
            ):
                if isinstance(exported, MissingFile):
                    manifest.files_missing += 1
                else:
                    manifest.files += isinstance(exported, ExportedFile)
                    manifest.file_bytes += len(exported.data)
                yield exported
    yield manifest


class _Lines:
    """Records an anonymizer yields as dicts, made into NDJSON blocks of one kind each
    (a block ends where the kind changes, so each kind can be filed apart)."""

    def __init__(self, data_type: str) -> None:
        self._data_type = data_type
        self._kind = ""
        self._lines = bytearray()

    def add(self, record: dict[str, Any]) -> list[Records]:
        """Take one record; the blocks ready to send (before it, or with it)."""
        kind = str(record.get("kind") or self._data_type)
        ready = [block] if kind != self._kind and (block := self.take()) else []
        self._kind = kind
        public = {k: v for k, v in record.items() if k not in NEVER_EXPORTED}
        self._lines += json.dumps(public, sort_keys=True).encode()
        self._lines += b"\n"
        if len(self._lines) >= BLOCK_BYTES:
            ready.append(self._block())
        return ready

    def take(self) -> Records | None:
        """The records collected so far (then none), if any."""
        return self._block() if self._lines else None

    def _block(self) -> Records:
        block = bytes(self._lines)
        self._lines.clear()
        return Records(self._data_type, block, block.count(b"\n"), self._kind)


async def _pending_files(conn: Connection, tenant_id: str, ids: array[int]) -> list[PendingFile]:
    """The files of `ids`, in that order, with their paths and blob keys."""
    rows = {r["id"]: r for r in await conn.fetch(Q["export_file_keys"], tenant_id, ids.tolist())}
    return [
        PendingFile(str(i), file_path(i, rows[i]["name"]), rows[i]["blob_key"])
        for i in ids
        if i in rows
    ]
