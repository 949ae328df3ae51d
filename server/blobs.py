"""The blob store: file contents, apart from the database.

A local directory by default; an S3-compatible store with PRIVACY_BLOB_URL
(server/s3_blobs.py). Keys are opaque and carry no personal data. Every call names the
tenant whose row holds the key, and the store acts only on that tenant's blobs: a
key that leaves the tenant's directory (another tenant's, `..`, an absolute path,
a link pointing out) is refused with BlobKeyRefused, a data error of the row.
"""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

# Resolved directories remembered per store (tenants, in practice).
_MAX_DIRS = 10_000
_READ_BYTES = 64 * 1024
# Not the name of an entry in a directory: a key part that is one of these escapes.
_NOT_NAMES = frozenset({"", ".", ".."})
_CREATE_TMP = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_ESCAPES = "escapes its tenant's directory"
# A key is "<tenant>/<name>" at least: the tenant's directory, then a name in it.
_MIN_KEY_PARTS = 2


class BlobKeyRefused(ValueError):
    """A key that names no blob of its row's tenant: the store does not act on it.

    The message says why but never quotes the key (a damaged key may hold anything);
    callers name the row that holds it."""

    def __init__(self, tenant_id: str, key: str, why: str) -> None:
        super().__init__(f"blob key {why}")
        self.tenant_id = tenant_id
        self.key = key
        self.why = why


class BlobMissing(LookupError):
    """No blob is stored under the key (deleted, or never written).

    Not an OSError: a missing blob must never be taken for a database that cannot be
    reached (server.interceptors maps OSError so)."""

    def __init__(self, tenant_id: str, key: str) -> None:
        super().__init__("no blob is stored under this key")
        self.tenant_id = tenant_id
        self.key = key


class BlobLocked(OSError):
    """The store keeps a version of the blob it was asked to delete (Object Lock, a
    retention period, a legal hold): it cannot be erased, and the job must not say it
    was. The reason names the store's rule, never the key."""

    def __init__(self, tenant_id: str, key: str, why: str) -> None:
        super().__init__(f"the blob store keeps this blob: {why}")
        self.tenant_id = tenant_id
        self.key = key
        self.why = why


class BlobStore(Protocol):
    """Where file contents live, per tenant.

    Every method takes the tenant whose row holds the key and raises BlobKeyRefused
    for a key that is not that tenant's; other failures of the store raise OSError."""

    def new_key(self, tenant_id: str) -> str: ...
    # The key's form only, no I/O: refuses what no other call would accept.
    def check(self, tenant_id: str, key: str) -> None: ...
    def put(self, tenant_id: str, key: str, data: bytes) -> None: ...
    def get(self, tenant_id: str, key: str) -> bytes: ...  # BlobMissing when there is none
    # `length` bytes from `start`, fewer at the end, none past it: a large blob read a
    # part at a time (export). BlobMissing when there is none.
    def read_range(self, tenant_id: str, key: str, start: int, length: int) -> bytes: ...
    def delete(self, tenant_id: str, key: str) -> bool: ...  # False: it was gone already
    def exists(self, tenant_id: str, key: str) -> bool: ...
    # Many at once: each store knows what concurrency suits it (a remote one would
    # overlap its requests; a local directory is fastest one file after another).
    # get_many answers None for a key with no blob; delete_many how many were gone.
    def get_many(self, tenant_id: str, keys: Sequence[str]) -> list[bytes | None]: ...
    def put_many(self, tenant_id: str, items: Sequence[tuple[str, bytes]]) -> None: ...
    def delete_many(self, tenant_id: str, keys: Sequence[str]) -> int: ...


class LocalBlobStore:
    """Blobs as files under one directory: <root>/<tenant>/<random key>.

    A tenant's directory must be a real directory right under the root; a key is
    `<tenant>/<name>` (or deeper, inside the tenant's directory). Links are never
    followed when writing or deleting (the entry itself is replaced or removed);
    reading through a link is allowed only to a file inside the tenant's directory.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        # Directories already resolved and checked, by the key's directory part
        # ("acme"), with the tenant they were checked for: a tenant-wide job touches
        # thousands of blobs in a few directories, and resolving costs a stat a part.
        self._dirs: dict[str, tuple[str, str]] = {}

    def new_key(self, tenant_id: str) -> str:
        return f"{tenant_id}/{secrets.token_hex(16)}"

    def check(self, tenant_id: str, key: str) -> None:
        check_key_parts(tenant_id, key)

    def _entry(self, tenant_id: str, key: str, *, create: bool = False) -> str:
        """The key's directory entry, in its checked directory (the entry itself is
        not followed). `create`: make the directory if it is not there yet."""
        parent, _, name = key.rpartition("/")
        known = self._dirs.get(parent)
        if known is None or known[0] != tenant_id:
            check_key_parts(tenant_id, key)
            directory = self._directory(tenant_id, key, parent, create=create)
        elif name in _NOT_NAMES or "\0" in name:
            raise BlobKeyRefused(tenant_id, key, _ESCAPES)
        else:
            directory = known[1]
        return os.path.join(directory, name)

    def _tenant_root(self, tenant_id: str) -> str:
        return os.path.join(os.path.realpath(self.root), tenant_id)

    def _directory(self, tenant_id: str, key: str, parent: str, *, create: bool) -> str:
        """The resolved directory of keys under `parent` (the checked parts of a key of
        `tenant_id`): inside the tenant's own directory, which must be a real
        directory right under the root. Remembered once it exists."""
        tenant_root = self._tenant_root(tenant_id)
        path = os.path.join(self.root, parent)
        resolved = os.path.realpath(path)
        if not _inside(resolved, tenant_root):
            # E.g. the tenant's directory is a link to another tenant's, or out.
            raise BlobKeyRefused(tenant_id, key, _ESCAPES)
        if create and not os.path.isdir(resolved):
            # Checked first, then made, then checked again: makedirs follows links.
            os.makedirs(path, exist_ok=True)
            resolved = os.path.realpath(path)
            if not _inside(resolved, tenant_root):
                raise BlobKeyRefused(tenant_id, key, _ESCAPES)
        # Only a directory that exists: where none is yet, a link planted later would
        # be followed from the cache.
        if len(self._dirs) < _MAX_DIRS and os.path.isdir(resolved):
            self._dirs[parent] = (tenant_id, resolved)
        return resolved

    def _linked(self, tenant_id: str, key: str, entry: str) -> str:
        """Where the link at `entry` leads, if that is inside the tenant's directory."""
        target = os.path.realpath(entry)
        tenant_root = self._tenant_root(tenant_id)
        if target == tenant_root or not _inside(target, tenant_root):
            raise BlobKeyRefused(tenant_id, key, _ESCAPES)
        return target

    def put(self, tenant_id: str, key: str, data: bytes) -> None:
        entry = self._entry(tenant_id, key, create=True)
        try:
            tmp, fd = _new_tmp(entry)
        except FileNotFoundError:
            # The directory went away since it was remembered: made again, checked.
            self._dirs.pop(key.rpartition("/")[0], None)
            entry = self._entry(tenant_id, key, create=True)
            tmp, fd = _new_tmp(entry)
        try:
            try:
                _write_all(fd, data)
            finally:
                os.close(fd)
            # Replaces the entry itself (a link there included, never its target);
            # readers never see a half-written blob.
            os.replace(tmp, entry)
        except BaseException:
            _unlink_quietly(tmp)
            raise

    def get(self, tenant_id: str, key: str) -> bytes:
        # The entry itself, not followed: one open instead of a stat and an open (an
        # export reads every file of a tenant). A link gets the full check.
        entry = self._entry(tenant_id, key)
        try:
            fd = os.open(entry, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                raise BlobMissing(tenant_id, key) from None
            if exc.errno != errno.ELOOP:
                raise
            try:
                fd = os.open(self._linked(tenant_id, key, entry), os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:  # a link to nothing
                raise BlobMissing(tenant_id, key) from None
        try:
            return _read_to_end(fd)
        finally:
            os.close(fd)

    def read_range(self, tenant_id: str, key: str, start: int, length: int) -> bytes:
        entry = self._entry(tenant_id, key)
        try:
            fd = os.open(entry, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                raise BlobMissing(tenant_id, key) from None
            if exc.errno != errno.ELOOP:
                raise
            try:
                fd = os.open(self._linked(tenant_id, key, entry), os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                raise BlobMissing(tenant_id, key) from None
        try:
            parts: list[bytes] = []
            # A read at a time, as `get`: a small file in one read and the empty one
            # after it, never a buffer of the whole range for a few bytes.
            while length > 0 and (chunk := os.pread(fd, min(length, _READ_BYTES), start)):
                parts.append(chunk)
                start += len(chunk)
                length -= len(chunk)
            return b"".join(parts)
        finally:
            os.close(fd)

    def delete(self, tenant_id: str, key: str) -> bool:
        # unlink() removes a link itself, never what it points to: the entry in its
        # checked directory is enough. Deleting twice is fine: the outbox may retry.
        try:
            os.unlink(self._entry(tenant_id, key))
        except FileNotFoundError:
            return False
        return True

    def exists(self, tenant_id: str, key: str) -> bool:
        entry = self._entry(tenant_id, key)
        if os.path.islink(entry):
            return os.path.exists(self._linked(tenant_id, key, entry))
        return os.path.exists(entry)

    # One after another: threads made deleting several times slower, as they contend
    # for the directory and the GIL (docs/performance.md, "Measurements behind the code").
    def get_many(self, tenant_id: str, keys: Sequence[str]) -> list[bytes | None]:
        found: list[bytes | None] = []
        for key in keys:
            try:
                found.append(self.get(tenant_id, key))
            except BlobMissing:
                found.append(None)
        return found

    def put_many(self, tenant_id: str, items: Sequence[tuple[str, bytes]]) -> None:
        for key, data in items:
            self.put(tenant_id, key, data)

    def delete_many(self, tenant_id: str, keys: Sequence[str]) -> int:
        return sum(not self.delete(tenant_id, key) for key in keys)


def check_key_parts(tenant_id: str, key: str) -> None:
    """Refuse a key that is not `<tenant>/<name>[/…]` of plain names: another
    tenant's, an absolute path, `.` or `..`, an empty part, a NUL."""
    if tenant_id in _NOT_NAMES or "/" in tenant_id or "\0" in tenant_id:
        raise BlobKeyRefused(tenant_id, key, "has a tenant that is no directory name")
    parts = key.split("/")
    if len(parts) < _MIN_KEY_PARTS or any(p in _NOT_NAMES or "\0" in p for p in parts):
        raise BlobKeyRefused(tenant_id, key, _ESCAPES)
    if parts[0] != tenant_id:
        raise BlobKeyRefused(tenant_id, key, "is under another tenant's directory")


def _inside(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory + os.sep)


def _new_tmp(entry: str) -> tuple[str, int]:
    """A new file beside `entry`, of a random name, made exclusively and never through
    a link (a link planted at a guessable name would be followed otherwise). Mode
    0o666 less the umask, as any file this process writes."""
    tmp = f"{entry}.{secrets.token_hex(8)}.tmp"
    return tmp, os.open(tmp, _CREATE_TMP, 0o666)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _read_to_end(fd: int) -> bytes:
    """The rest of a file, read until a read returns nothing: two system calls for a
    small blob where FileIO.readall() makes four (it asks for the size and the
    position first; docs/performance.md has the timings). A short read is not taken
    for the end: a signal may cut one short."""
    parts: list[bytes] = []
    while chunk := os.read(fd, _READ_BYTES):
        parts.append(chunk)
    return b"".join(parts)  # one part: that part itself, not a copy
