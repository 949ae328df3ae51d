"""An export's files: read from the blob store off the event loop, a group of small
files per trip to a thread, a large file a range at a time (so an export's memory does
not grow with a file: a 1 GiB file is read as 8 MiB ranges, each sent before the next
is read)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from typing import Any, NamedTuple

from server.blobs import BlobKeyRefused, BlobMissing, BlobStore
from server.errors import DataLoss, PrivacyError, StorageUnavailable

# Why a file is listed as missing (the manifest's `reason`).
MISSING_BLOB = "its contents are not in the blob store (deleted, or never written)"
# Files read per trip to a thread, up to this many bytes.
READ_AHEAD_FILES = 256
READ_AHEAD_BYTES = 1024 * 1024
# A file is read in ranges of this many bytes: a large one is sent a range at a time
# (FilePiece).
RANGE_BYTES = 8 * 1024 * 1024


class ExportedFile(NamedTuple):
    """One file's contents and their SHA-256 (the service sends them in chunks, then
    the file's entry). A tuple: a tenant's export makes hundreds of thousands."""

    file_id: str
    path: str
    data: bytes  # the file's contents from `offset` to its end
    sha256: str  # of the whole file
    offset: int = 0  # after the FilePiece parts before it


class FilePiece(NamedTuple):
    """A range of a large file, before the rest (its last range is an ExportedFile)."""

    file_id: str
    path: str
    data: bytes
    offset: int


class MissingFile(NamedTuple):
    """A file whose record went out but whose contents the blob store does not hold:
    listed, not sent (the manifest's `missing_files`)."""

    file_id: str
    path: str
    reason: str


class PendingFile(NamedTuple):
    file_id: str
    path: str
    blob_key: str


class _Reading(NamedTuple):
    """A large file whose first range is read: the rest follows a range at a time."""

    piece: FilePiece
    file: PendingFile
    digest: Any  # hashlib's running SHA-256 of what was read


def _read_one(
    blobs: BlobStore, tenant_id: str, f: PendingFile
) -> ExportedFile | MissingFile | _Reading:
    """A file's first range: the whole file, or its missing entry, or the start of a
    large one (_Reading)."""
    data = _read_range(blobs, tenant_id, f, 0)
    if data is None:
        return MissingFile(f.file_id, f.path, MISSING_BLOB)
    if len(data) < RANGE_BYTES:
        return ExportedFile(f.file_id, f.path, data, hashlib.sha256(data).hexdigest())
    return _Reading(FilePiece(f.file_id, f.path, data, 0), f, hashlib.sha256(data))


async def _rest_of(
    blobs: BlobStore, tenant_id: str, reading: _Reading
) -> AsyncIterator[FilePiece | ExportedFile]:
    """The ranges after a large file's first, each read off the event loop, the
    last as its ExportedFile (with the whole file's SHA-256)."""
    f, offset = reading.file, len(reading.piece.data)
    while True:
        data = await asyncio.to_thread(_read_range, blobs, tenant_id, f, offset)
        if data is None:  # deleted while it was read
            raise StorageUnavailable(f"file {f.file_id}: it changed while read; retry later")
        reading.digest.update(data)
        if len(data) < RANGE_BYTES:
            yield ExportedFile(f.file_id, f.path, data, reading.digest.hexdigest(), offset)
            return
        yield FilePiece(f.file_id, f.path, data, offset)
        offset += len(data)


def _read_range(blobs: BlobStore, tenant_id: str, f: PendingFile, offset: int) -> bytes | None:
    """RANGE_BYTES of a file from `offset` (None: it is not in the store). A key the
    store refuses is DataLoss, a store that fails otherwise StorageUnavailable: each
    names the file, never the key, and neither is taken for a database error."""
    try:
        return blobs.read_range(tenant_id, f.blob_key, offset, RANGE_BYTES)
    except BlobMissing:
        return None
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


async def read_blobs(
    blobs: BlobStore, tenant_id: str, pending: list[PendingFile]
) -> AsyncIterator[FilePiece | ExportedFile | MissingFile]:
    """Each file with its contents and their SHA-256 (or its missing entry), read a
    group at a time off the event loop, the next group while this one is sent.

    One thread hop per group, not per file (a tenant has thousands of small
    files); a group stops at READ_AHEAD_BYTES, so memory stays bounded. A file that
    cannot be read ends its group: the files before it go out, then its error.
    """

    def read_group(
        group: list[PendingFile],
    ) -> list[ExportedFile | MissingFile | _Reading | PrivacyError]:
        contents: list[ExportedFile | MissingFile | _Reading | PrivacyError] = []
        size = 0
        for f in group:
            try:
                read = _read_one(blobs, tenant_id, f)
            except PrivacyError as exc:
                contents.append(exc)
                break
            contents.append(read)
            size += len(read.data) if isinstance(read, ExportedFile) else 0
            if isinstance(read, _Reading) or size >= READ_AHEAD_BYTES:
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
                if isinstance(exported, _Reading):  # a large file: a range at a time
                    yield exported.piece
                    async for rest in _rest_of(blobs, tenant_id, exported):
                        yield rest
                    continue
                yield exported
    finally:  # a read ahead that the caller no longer wants
        if not reading.done():
            reading.cancel()
        elif not reading.cancelled():
            reading.exception()  # retrieved: nobody waits for it any more
