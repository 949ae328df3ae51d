"""What a blob store holds, whichever it is: for tests that compare every blob before
and after a job, or look for what a job must leave nowhere.

`stored` is every blob as a reader finds it, by key; `leftovers` is what a reader
does not see but the store still keeps: in a versioned bucket, old versions and
delete markers (an erasure or a rewrite must leave none of the key's)."""

from __future__ import annotations

from collections.abc import Sequence

from server.blobs import BlobMissing, BlobStore, LocalBlobStore
from server.s3_blobs import S3BlobStore


def stored(store: BlobStore, tenant: str | None = None) -> dict[str, bytes]:
    """Every blob's contents by key (one tenant's, or all)."""
    if isinstance(store, LocalBlobStore):
        root = store.root if tenant is None else store.root / tenant
        if not root.exists():
            return {}
        return {
            str(p.relative_to(store.root)): p.read_bytes()
            for p in root.rglob("*")
            if p.is_file() and not p.name.endswith(".tmp")  # a write's, not a blob
        }
    assert isinstance(store, S3BlobStore)
    found: dict[str, bytes] = {}
    start = f"{store.prefix}/" if store.prefix else ""
    prefix = start if tenant is None else f"{start}{tenant}/"
    for page in store.client.get_paginator("list_objects_v2").paginate(
        Bucket=store.bucket, Prefix=prefix
    ):
        for item in page.get("Contents", []):
            name = item["Key"]
            body = store.client.get_object(Bucket=store.bucket, Key=name)["Body"]
            found[name[len(start) :]] = body.read()
    return found


def leftovers(store: BlobStore) -> list[str]:
    """What the store keeps that no reader sees: old versions and delete markers of a
    versioned bucket, temporary files of a directory."""
    if isinstance(store, LocalBlobStore):
        return sorted(
            str(p.relative_to(store.root)) for p in store.root.rglob("*.tmp") if p.is_file()
        )
    assert isinstance(store, S3BlobStore)
    left: list[str] = []
    for page in store.client.get_paginator("list_object_versions").paginate(Bucket=store.bucket):
        left.extend(
            f"{v['Key']} {v['VersionId']}" for v in page.get("Versions", []) if not v["IsLatest"]
        )
        left.extend(f"{m['Key']} (delete marker)" for m in page.get("DeleteMarkers", []))
    return sorted(left)


def read(store: BlobStore, key: str) -> bytes | None:
    """A blob's contents by its key alone (the tenant is its first part); None: none."""
    return store.get_many(key.split("/", 1)[0], [key])[0]


def remove(store: BlobStore, key: str) -> None:
    """Take a blob away behind the service's back (a blob gone from the store)."""
    store.delete(key.split("/", 1)[0], key)


class Wrapped:
    """A store around another (either kind), for tests that make one call fail or
    wait: the many-at-once calls go through this object's own one-at-a-time ones."""

    def __init__(self, inner: BlobStore) -> None:
        self.inner = inner

    def new_key(self, tenant_id: str) -> str:
        return self.inner.new_key(tenant_id)

    def check(self, tenant_id: str, key: str) -> None:
        self.inner.check(tenant_id, key)

    def put(self, tenant_id: str, key: str, data: bytes) -> None:
        self.inner.put(tenant_id, key, data)

    def get(self, tenant_id: str, key: str) -> bytes:
        return self.inner.get(tenant_id, key)

    def read_range(self, tenant_id: str, key: str, start: int, length: int) -> bytes:
        return self.inner.read_range(tenant_id, key, start, length)

    def delete(self, tenant_id: str, key: str) -> bool:
        return self.inner.delete(tenant_id, key)

    def exists(self, tenant_id: str, key: str) -> bool:
        return self.inner.exists(tenant_id, key)

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
