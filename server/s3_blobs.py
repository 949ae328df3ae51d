"""The blob store on S3 (or any S3-compatible server): PRIVACY_BLOB_URL=s3://bucket/prefix.

Objects are `<prefix>/<tenant>/<random name>`: the same keys as the local store, checked
the same way (server.blobs.check_key_parts) before any request, so a key of another
tenant is refused with BlobKeyRefused and never sent.

The client is boto3 (docs/design.md, "Blobs", says why): the BlobStore protocol is
synchronous and every caller already runs it in a worker thread (asyncio.to_thread),
so nothing here blocks the event loop; one client per store keeps its connections
(urllib3's pool) across calls and threads; the many-at-once calls overlap their
requests in a small thread pool the size of that connection pool.

Erasing on a versioned bucket: a DELETE only adds a delete marker and the old versions
keep the person's data, so `delete` lists every version and delete marker of the key
and deletes each by its version id. A version the bucket will not delete (Object Lock,
a retention period, a legal hold) raises BlobLocked: the job does not pretend.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from server.blobs import (
    BlobKeyRefused,
    BlobLocked,
    BlobMissing,
    BlobStore,
    LocalBlobStore,
    check_key_parts,
)
from server.config import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

# Requests in flight at once for one store (and connections kept open).
_CONNECTIONS = 16
# Objects deleted per DeleteObjects request (S3 takes at most 1000).
_DELETE_CHUNK = 1000
# Codes of an object that is not there.
_MISSING = frozenset({"NoSuchKey", "404", "NotFound", "NoSuchVersion"})
_T = TypeVar("_T")


class BlobStoreError(OSError):
    """The S3 store failed (unreachable, refused, throttled): a failure of the store,
    as the BlobStore protocol says (an OSError), with the service's code only."""


class _PastTheEnd(BlobStoreError):
    """A range that starts at or after the object's end (InvalidRange, 416)."""


def parse_s3_url(url: str) -> tuple[str, str]:
    """(bucket, prefix) of `s3://bucket/prefix`; the prefix has no slash at either end."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
        raise ValueError("an S3 blob URL is s3://bucket/prefix")
    return parts.netloc, parts.path.strip("/")


def s3_client() -> S3Client:
    """A client configured the AWS way: AWS_ENDPOINT_URL, AWS_REGION (or
    AWS_DEFAULT_REGION), credentials from the usual chain (AWS_ACCESS_KEY_ID and
    AWS_SECRET_ACCESS_KEY, a profile, an instance role)."""
    import boto3
    from botocore.config import Config

    config = Config(
        max_pool_connections=_CONNECTIONS,
        retries={"mode": "standard"},
        region_name=os.environ.get("AWS_REGION") or None,
    )
    return boto3.session.Session().client("s3", config=config)


def open_blob_store(settings: Settings) -> BlobStore:
    """The store the settings name: S3 for an s3:// URL, else the local directory."""
    if settings.blob_url:
        bucket, prefix = parse_s3_url(settings.blob_url)
        return S3BlobStore(s3_client(), bucket, prefix)
    return LocalBlobStore(settings.blob_dir)


class S3BlobStore:
    """Blobs as objects `<prefix>/<tenant>/<random name>` in one bucket."""

    def __init__(self, client: S3Client, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def new_key(self, tenant_id: str) -> str:
        return f"{tenant_id}/{secrets.token_hex(16)}"

    def check(self, tenant_id: str, key: str) -> None:
        check_key_parts(tenant_id, key)

    def object_name(self, tenant_id: str, key: str) -> str:
        """The key's object in the bucket, once the key is checked as the tenant's."""
        check_key_parts(tenant_id, key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, tenant_id: str, key: str, data: bytes) -> None:
        """One PUT: readers see the old object or the new one, never half of it. On a
        versioned bucket the versions before it are deleted after it (a rewrite that
        kept the old version would keep what the rewrite took out)."""
        name = self.object_name(tenant_id, key)
        with _store_errors():
            reply = self.client.put_object(Bucket=self.bucket, Key=name, Body=data)
        written = reply.get("VersionId")
        if written and written != "null":
            older = [(v, m) for v, m in self.versions(tenant_id, key) if v != written]
            self._delete_versions(tenant_id, key, name, older)

    def get(self, tenant_id: str, key: str) -> bytes:
        name = self.object_name(tenant_id, key)
        with _store_errors(missing=lambda: BlobMissing(tenant_id, key)):
            body = self.client.get_object(Bucket=self.bucket, Key=name)["Body"]
            try:
                return body.read()
            finally:
                body.close()

    def size(self, tenant_id: str, key: str) -> int:
        name = self.object_name(tenant_id, key)
        with _store_errors(missing=lambda: BlobMissing(tenant_id, key)):
            return self.client.head_object(Bucket=self.bucket, Key=name)["ContentLength"]

    def read_range(self, tenant_id: str, key: str, start: int, length: int) -> bytes:
        """`length` bytes from `start` (fewer at the end): one ranged GET."""
        name = self.object_name(tenant_id, key)
        if length <= 0:
            return b""
        byte_range = f"bytes={start}-{start + length - 1}"
        try:
            with _store_errors(missing=lambda: BlobMissing(tenant_id, key)):
                reply = self.client.get_object(Bucket=self.bucket, Key=name, Range=byte_range)
                body = reply["Body"]
                try:
                    return body.read()
                finally:
                    body.close()
        except _PastTheEnd:
            return b""  # an empty object, or a range after its end: nothing there

    def exists(self, tenant_id: str, key: str) -> bool:
        name = self.object_name(tenant_id, key)
        try:
            with _store_errors(missing=lambda: BlobMissing(tenant_id, key)):
                self.client.head_object(Bucket=self.bucket, Key=name)
        except BlobMissing:
            return False
        return True

    def versions(self, tenant_id: str, key: str) -> list[tuple[str, bool]]:
        """Every version of the key's object, delete markers included, as (version id,
        is a delete marker). An unversioned bucket answers its one object as "null"."""
        name = self.object_name(tenant_id, key)
        found: list[tuple[str, bool]] = []
        pages = self.client.get_paginator("list_object_versions")
        with _store_errors():
            for page in pages.paginate(Bucket=self.bucket, Prefix=name):
                # The prefix matches longer names too: only this object's own versions.
                found.extend(
                    (v["VersionId"], False) for v in page.get("Versions", []) if v["Key"] == name
                )
                found.extend(
                    (m["VersionId"], True)
                    for m in page.get("DeleteMarkers", [])
                    if m["Key"] == name
                )
        return found

    def delete(self, tenant_id: str, key: str) -> bool:
        """Every version and delete marker of the key, each by its id: a plain DELETE
        on a versioned bucket would only hide the data behind a marker. False: there
        was no version with contents (gone already; the outbox may retry)."""
        name = self.object_name(tenant_id, key)
        found = self.versions(tenant_id, key)
        self._delete_versions(tenant_id, key, name, found)
        return any(not marker for _, marker in found)

    def _delete_versions(
        self, tenant_id: str, key: str, name: str, found: Sequence[tuple[str, bool]]
    ) -> None:
        for start in range(0, len(found), _DELETE_CHUNK):
            chunk = found[start : start + _DELETE_CHUNK]
            objects: Any = [{"Key": name, "VersionId": version} for version, _ in chunk]
            with _store_errors():
                reply = self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True}
                )
            errors = reply.get("Errors", [])
            if errors:
                codes = sorted({e.get("Code", "?") for e in errors})
                if "AccessDenied" in codes or any("lock" in c.lower() for c in codes):
                    raise BlobLocked(tenant_id, key, _locked_reason(errors))
                raise BlobStoreError(f"the blob store refused a deletion: {', '.join(codes)}")

    # Many at once: the requests overlap, as many as the client keeps connections.
    def get_many(self, tenant_id: str, keys: Sequence[str]) -> list[bytes | None]:
        for key in keys:
            check_key_parts(tenant_id, key)

        def one(key: str) -> bytes | None:
            try:
                return self.get(tenant_id, key)
            except BlobMissing:
                return None

        return self._each(one, keys)

    def put_many(self, tenant_id: str, items: Sequence[tuple[str, bytes]]) -> None:
        for key, _ in items:
            check_key_parts(tenant_id, key)
        # A key written twice ends as its last item says (the requests overlap).
        latest = dict(items)
        self._each(lambda key: self.put(tenant_id, key, latest[key]), list(latest))

    def delete_many(self, tenant_id: str, keys: Sequence[str]) -> int:
        for key in keys:
            check_key_parts(tenant_id, key)
        unique = list(dict.fromkeys(keys))
        gone = self._each(lambda key: not self.delete(tenant_id, key), unique)
        return sum(gone) + len(keys) - len(unique)

    def _each(self, call: Callable[[str], _T], keys: Sequence[str]) -> list[_T]:
        if len(keys) <= 1:
            return [call(key) for key in keys]
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(_CONNECTIONS, thread_name_prefix="s3-blobs")
            pool = self._pool
        return list(pool.map(call, keys))

    def close(self) -> None:
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None
        self.client.close()


def _locked_reason(errors: Sequence[Any]) -> str:
    # The codes only: a service's message may quote the key.
    codes = sorted({str(e.get("Code") or "refused") for e in errors})
    return "a version is under Object Lock or a retention period (" + ", ".join(codes) + ")"


@contextmanager
def _store_errors(missing: Callable[[], Exception] | None = None) -> Iterator[None]:
    """botocore's errors as the protocol's: a missing object as `missing()`, any other
    failure as BlobStoreError (an OSError) with the service's code, never the key."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", "?"))
        if missing is not None and code in _MISSING:
            raise missing() from None
        if code == "InvalidRange":
            raise _PastTheEnd(code) from None
        raise BlobStoreError(f"the blob store answered {code}") from None
    except BotoCoreError as exc:
        raise BlobStoreError(f"the blob store failed: {type(exc).__name__}") from None


__all__ = [
    "BlobKeyRefused",
    "BlobLocked",
    "BlobMissing",
    "BlobStoreError",
    "S3BlobStore",
    "open_blob_store",
    "parse_s3_url",
    "s3_client",
]
