"""Export: a subject's (or a whole tenant's) data as a stream, from one consistent snapshot.

Records come from every anonymizer's `export` (a new data type is exported with
no change here), read in one REPEATABLE READ, read-only transaction and passed
on in blocks of NDJSON; a block is sent before more than a few are read (COPY
read ahead by a bounded queue, cursors a batch at a time), so gRPC flow control
is the back-pressure and memory stays flat. The contents of the files the
records name (`Rendered.file_ids`) follow, then a manifest with counts (the
service sends a file in chunks, then its size and SHA-256).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from array import array
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from anonymizers.base import Connection, Scope
from anonymizers.records import BLOCK_BYTES, NEVER_EXPORTED, Rendered, file_path
from anonymizers.registry import Registry
from server import subjects
from server.blobs import BlobStore
from server.errors import NotFound
from server.queries import Q
from server.subjects import Subject
from server.tenancy import enter_tenant

SCHEMA_VERSION = "1"
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


@dataclass
class Manifest:
    snapshot_at: datetime
    record_counts: dict[str, int] = field(default_factory=dict)
    # Totals only: each file's entry went out on its own (ExportedFile).
    files: int = 0
    file_bytes: int = 0
    schema_version: str = SCHEMA_VERSION


Part = Records | ExportedFile  # what travels before the manifest
Item = Part | Manifest


class _PendingFile(NamedTuple):
    file_id: str
    path: str
    blob_key: str


async def export(
    conn: Connection,
    registry: Registry,
    blobs: BlobStore,
    tenant_id: str,
    subject: Subject,
    data_types: tuple[str, ...],
    *,
    region: str,
) -> AsyncIterator[Item]:
    """Yield records, then each file, then the manifest.

    NotFound when there is no such subject. `region`: where phone numbers are read."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        await enter_tenant(conn, tenant_id)
        if not await conn.fetchval(Q["tenant_exists"], tenant_id):
            raise NotFound(f"no tenant with tenant_id {tenant_id!r}")
        resolved = await subjects.resolve(conn, tenant_id, subject, region)
        scope = Scope(
            tenant_id=tenant_id,
            contact_ids=resolved.contact_ids,
            user_ids=resolved.user_ids,
            whole_tenant=resolved.whole_tenant,
        )
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


async def _read_blobs(
    blobs: BlobStore, tenant_id: str, pending: list[_PendingFile]
) -> AsyncIterator[ExportedFile]:
    """Each file with its contents and their SHA-256, read a group at a time off the
    event loop, the next group while this one is sent.

    One thread hop per group, not per file (a tenant has thousands of small
    files); a group stops at READ_AHEAD_BYTES, so memory stays bounded.
    """

    def read_group(group: list[_PendingFile]) -> list[ExportedFile]:
        contents: list[ExportedFile] = []
        size = 0
        for f in group:
            data = blobs.get(tenant_id, f.blob_key)  # only the tenant's own blobs
            contents.append(ExportedFile(f.file_id, f.path, data, hashlib.sha256(data).hexdigest()))
            size += len(data)
            if size >= READ_AHEAD_BYTES:
                break
        return contents

    start = 0
    reading = asyncio.ensure_future(asyncio.to_thread(read_group, pending[:READ_AHEAD_FILES]))
    try:
        while start < len(pending):
            contents = await reading
            start += len(contents)
            if start < len(pending):
                ahead = pending[start : start + READ_AHEAD_FILES]
                reading = asyncio.ensure_future(asyncio.to_thread(read_group, ahead))
            for exported in contents:
                yield exported
    finally:  # a read ahead that the caller no longer wants
        if not reading.done():
            reading.cancel()
        elif not reading.cancelled():
            reading.exception()  # retrieved: nobody waits for it any more
