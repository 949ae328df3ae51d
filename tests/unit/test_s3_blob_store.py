"""S3BlobStore against a real S3 protocol server on loopback (moto): erasure from a
versioned bucket leaves no version and no delete marker; a bucket that keeps a version
(Object Lock) is not taken for an erasure; keys are checked before any request."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from server.blobs import BlobKeyRefused, BlobMissing
from server.config import ConfigError, Settings
from server.s3_blobs import BlobLocked, S3BlobStore, open_blob_store, parse_s3_url, s3_client
from tests.helpers import blob_view, s3


@pytest.fixture
def store(s3_endpoint: str) -> Iterator[S3BlobStore]:
    made = s3.new_store(prefix="tenants/blobs")
    try:
        yield made
    finally:
        made.close()


def test_objects_live_under_the_prefix_by_tenant(store: S3BlobStore) -> None:
    key = store.new_key("acme")
    store.put("acme", key, b"contents")
    assert [name for name, _, _ in s3.all_versions(store)] == [f"tenants/blobs/{key}"]


def test_erasure_deletes_every_version_and_every_delete_marker(store: S3BlobStore) -> None:
    key, other = store.new_key("acme"), store.new_key("acme")
    name = store.object_name("acme", key)
    # Versions written by another client (the store's own put keeps only the latest);
    # a plain DELETE, as a careless client would: only a marker, the data stays.
    for text in (b"first", b"second", b"third"):
        store.client.put_object(Bucket=store.bucket, Key=name, Body=text)
    store.client.delete_object(Bucket=store.bucket, Key=name)
    store.client.put_object(Bucket=store.bucket, Key=name, Body=b"fourth")
    store.put("acme", other, b"not erased")
    # A name the key's is a prefix of is another object: left alone.
    store.client.put_object(Bucket=store.bucket, Key=name + "x", Body=b"a neighbour")
    versions = [v for v in s3.all_versions(store) if v[0] == name]
    assert len(versions) == 5
    assert sum(marker for _, _, marker in versions) == 1

    assert store.delete("acme", key) is True
    assert [v for v in s3.all_versions(store) if v[0] == name] == []
    assert not store.exists("acme", key)
    assert store.get("acme", other) == b"not erased"
    assert sorted(n for n, _, _ in s3.all_versions(store)) == sorted(
        [store.object_name("acme", other), name + "x"]
    )
    assert store.delete("acme", key) is False  # a replay: nothing was left


def test_only_delete_markers_left_are_removed_and_count_as_gone(store: S3BlobStore) -> None:
    key = store.new_key("acme")
    name = store.object_name("acme", key)
    store.put("acme", key, b"x")
    store.client.delete_object(Bucket=store.bucket, Key=name)  # a marker over the data
    (data,) = [v for _, v, marker in s3.all_versions(store) if not marker]
    store.client.delete_object(Bucket=store.bucket, Key=name, VersionId=data)
    assert [marker for _, _, marker in s3.all_versions(store)] == [True]  # a marker alone
    assert store.delete_many("acme", [key]) == 1
    assert s3.all_versions(store) == []


def test_an_unversioned_bucket_is_erased_too(s3_endpoint: str) -> None:
    store = s3.new_store(versioned=False)
    key = store.new_key("acme")
    store.put("acme", key, b"x")
    assert store.delete("acme", key) is True
    assert s3.all_versions(store) == []
    store.close()


def test_a_version_under_object_lock_is_refused_not_pretended(s3_endpoint: str) -> None:
    client = s3_client()
    bucket = s3.new_bucket(client, object_lock=True)
    store = S3BlobStore(client, bucket, "blobs")
    key = store.new_key("acme")
    until = datetime.now(UTC) + timedelta(days=1)
    client.put_object(
        Bucket=bucket,
        Key=store.object_name("acme", key),
        Body=b"kept",
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=until,
    )
    with pytest.raises(BlobLocked) as raised:
        store.delete("acme", key)
    assert "Object Lock" in raised.value.why
    assert key not in str(raised.value)
    assert store.get("acme", key) == b"kept"


def test_a_refused_key_sends_no_request(store: S3BlobStore) -> None:
    sent: list[str] = []
    store.client.meta.events.register("before-send.s3.*", lambda **kw: sent.append("x"))
    for key in ("globex/abc", "../x", "acme/../globex/abc", "acme//x", "acme"):
        with pytest.raises(BlobKeyRefused):
            store.get("acme", key)
        with pytest.raises(BlobKeyRefused):
            store.delete_many("acme", [store.new_key("acme"), key])
    assert sent == []


def test_ranged_reads(store: S3BlobStore) -> None:
    key = store.new_key("acme")
    data = bytes(i % 251 for i in range(100_000))
    store.put("acme", key, data)
    assert store.size("acme", key) == len(data)
    assert store.read_range("acme", key, 10, 5) == data[10:15]
    assert store.read_range("acme", key, 99_990, 100) == data[99_990:]
    with pytest.raises(BlobMissing):
        store.read_range("acme", store.new_key("acme"), 0, 10)


def test_failures_of_the_store_are_os_errors_without_the_key(s3_endpoint: str) -> None:
    store = S3BlobStore(s3_client(), "no-such-bucket-here", "blobs")
    key = store.new_key("acme")
    with pytest.raises(OSError, match="NoSuchBucket") as raised:
        store.put("acme", key, b"x")
    assert key not in str(raised.value)


def test_settings_choose_the_store() -> None:
    s = Settings.from_env({"PRIVACY_BLOB_URL": "s3://bucket/some/prefix/"})
    assert s.blob_url == "s3://bucket/some/prefix"
    assert parse_s3_url(s.blob_url) == ("bucket", "some/prefix")
    assert parse_s3_url("s3://bucket") == ("bucket", "")
    s = Settings.from_env({"PRIVACY_BLOB_URL": "file:///srv/blobs", "PRIVACY_BLOB_DIR": "/x"})
    assert s.blob_url is None
    assert str(s.blob_dir) == "/srv/blobs"
    assert Settings.from_env({"PRIVACY_BLOB_DIR": "/x"}).blob_url is None
    for bad in ("s3:///prefix", "http://bucket/x", "file://host/x", "blobs"):
        with pytest.raises(ConfigError, match="PRIVACY_BLOB_URL"):
            Settings.from_env({"PRIVACY_BLOB_URL": bad})


def test_the_settings_open_the_s3_store(s3_endpoint: str) -> None:
    bucket = s3.new_bucket(s3_client())
    store = open_blob_store(Settings(blob_url=f"s3://{bucket}/p"))
    assert isinstance(store, S3BlobStore)
    assert (store.bucket, store.prefix) == (bucket, "p")
    key = store.new_key("acme")
    store.put("acme", key, b"x")
    assert store.get("acme", key) == b"x"


def test_a_rewrite_leaves_no_old_version(store: S3BlobStore) -> None:
    key = store.new_key("acme")
    store.put("acme", key, b"Call Zoe")
    store.put_many("acme", [(key, b"Call [redacted]")])
    assert blob_view.leftovers(store) == []
    assert blob_view.stored(store) == {key: b"Call [redacted]"}
