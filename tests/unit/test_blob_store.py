"""The blob stores: keys stay their tenant's in both (the tests that take `blob_store`
run against a local directory and a versioned bucket on a loopback S3 server); in
LocalBlobStore, writing or deleting never follows a link."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.blobs import BlobKeyRefused, BlobMissing, BlobStore, LocalBlobStore


def test_put_get_delete_and_delete_again(blob_store: BlobStore) -> None:
    store = blob_store
    key = store.new_key("acme")
    store.put("acme", key, b"contents")
    assert store.get("acme", key) == b"contents"
    assert store.delete("acme", key) is True
    assert not store.exists("acme", key)
    assert store.delete("acme", key) is False  # the outbox may replay a deletion: not an error


@pytest.mark.parametrize("size", [0, 1, 64 * 1024 - 1, 64 * 1024, 64 * 1024 + 1, 300_000])
def test_blobs_of_any_size_read_back_whole(blob_store: BlobStore, size: int) -> None:
    # Around the size of one read: empty, one read short, exactly one, more than one.
    store = blob_store
    key = store.new_key("acme")
    data = bytes(i % 251 for i in range(size))
    store.put("acme", key, data)
    assert store.get("acme", key) == data


def test_many_at_once(blob_store: BlobStore) -> None:
    store = blob_store
    items = [(store.new_key("acme"), f"blob {i}".encode()) for i in range(20)]
    store.put_many("acme", items)
    assert [store.get("acme", key) for key, _ in items] == [data for _, data in items]
    assert store.delete_many("acme", [key for key, _ in items[:10]]) == 0
    assert [store.exists("acme", key) for key, _ in items] == [False] * 10 + [True] * 10
    # Gone already: counted, not an error; a missing one reads as None among the rest.
    assert store.delete_many("acme", [key for key, _ in items[:3]]) == 3
    assert store.get_many("acme", [items[0][0], items[10][0]]) == [None, b"blob 10"]


def test_a_missing_blob_is_its_own_error_not_an_os_error(blob_store: BlobStore) -> None:
    store = blob_store
    with pytest.raises(BlobMissing) as raised:
        store.get("acme", store.new_key("acme"))  # not even the tenant's directory
    assert not isinstance(raised.value, OSError)  # never taken for a database error


def test_deleting_a_link_removes_the_link_not_its_target(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"not the store's")
    store = LocalBlobStore(tmp_path / "blobs")
    key = store.new_key("acme")
    store.put("acme", key, b"x")
    link = tmp_path / "blobs" / key
    link.unlink()
    link.symlink_to(outside)
    with pytest.raises(BlobKeyRefused, match="escapes"):
        store.get("acme", key)  # reading follows links, so it is checked in full
    store.delete("acme", key)
    assert not link.is_symlink()
    assert outside.read_bytes() == b"not the store's"


def test_a_link_inside_the_tenants_directory_is_read_through(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    target, key = store.new_key("acme"), store.new_key("acme")
    store.put("acme", target, b"the target")
    (tmp_path / "blobs" / key).symlink_to(tmp_path / "blobs" / target)
    assert store.get("acme", key) == b"the target"
    with pytest.raises(BlobMissing):
        store.get("acme", store.new_key("acme"))


def test_a_link_to_another_tenants_blob_is_refused(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    theirs, key = store.new_key("globex"), store.new_key("acme")
    store.put("globex", theirs, b"globex's")
    store.put("acme", store.new_key("acme"), b"acme's directory exists")
    (tmp_path / "blobs" / key).symlink_to(tmp_path / "blobs" / theirs)
    with pytest.raises(BlobKeyRefused, match="escapes"):
        store.get("acme", key)


@pytest.mark.parametrize("key", ["../outside.txt", "acme/../../outside.txt", "..", "acme/.."])
def test_keys_that_leave_the_directory_are_refused(tmp_path: Path, key: str) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"not the store's")
    store = LocalBlobStore(tmp_path / "blobs")
    (tmp_path / "blobs" / "acme").mkdir(parents=True)
    with pytest.raises(BlobKeyRefused, match=r"escapes|another tenant"):
        store.delete("acme", key)
    with pytest.raises(BlobKeyRefused, match=r"escapes|another tenant"):
        store.put("acme", key, b"x")
    assert outside.read_bytes() == b"not the store's"


@pytest.mark.parametrize(
    "key", ["globex/{name}", "/{root}/globex/{name}", "acme/../globex/{name}", "acme//{name}"]
)
def test_a_key_is_acted_on_only_for_its_own_tenant(
    blob_store: BlobStore, tmp_path: Path, key: str
) -> None:
    store = blob_store
    theirs = store.new_key("globex")
    store.put("globex", theirs, b"globex's")
    store.put("acme", store.new_key("acme"), b"acme's")  # acme's directory is remembered
    name = theirs.split("/")[1]
    foreign = key.format(name=name, root=str(tmp_path / "store").lstrip("/"))
    for act in (
        lambda: store.get("acme", foreign),
        lambda: store.get_many("acme", [foreign]),
        lambda: store.delete("acme", foreign),
        lambda: store.delete_many("acme", [foreign]),
        lambda: store.put("acme", foreign, b"overwritten"),
        lambda: store.exists("acme", foreign),
        lambda: store.check("acme", foreign),
    ):
        with pytest.raises(BlobKeyRefused):
            act()
    assert store.get("globex", theirs) == b"globex's"


def test_a_tenant_directory_that_is_a_link_to_another_tenants_is_refused(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    theirs = store.new_key("globex")
    store.put("globex", theirs, b"globex's")
    (tmp_path / "blobs" / "acme").symlink_to(tmp_path / "blobs" / "globex")
    mine = "acme/" + theirs.split("/")[1]
    with pytest.raises(BlobKeyRefused, match="escapes"):
        store.get("acme", mine)
    with pytest.raises(BlobKeyRefused, match="escapes"):
        store.delete("acme", mine)
    assert store.get("globex", theirs) == b"globex's"


def test_a_link_planted_at_the_temporary_name_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"not the store's")
    store = LocalBlobStore(tmp_path / "blobs")
    key = store.new_key("acme")
    store.put("acme", key, b"old")
    (tmp_path / "blobs" / f"{key}.tmp").symlink_to(outside)  # the old temporary name
    store.put("acme", key, b"new")
    assert outside.read_bytes() == b"not the store's"
    assert store.get("acme", key) == b"new"
    # Nothing left behind but the blob and the planted link.
    assert sorted(p.name for p in (tmp_path / "blobs" / "acme").iterdir()) == sorted(
        [key.split("/")[1], f"{key.split('/')[1]}.tmp"]
    )


def test_writing_over_a_link_replaces_the_link_never_its_target(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"not the store's")
    store = LocalBlobStore(tmp_path / "blobs")
    key = store.new_key("acme")
    store.put("acme", store.new_key("acme"), b"acme's directory exists")
    (tmp_path / "blobs" / key).symlink_to(outside)
    store.put("acme", key, b"rewritten")
    assert outside.read_bytes() == b"not the store's"
    assert not (tmp_path / "blobs" / key).is_symlink()
    assert store.get("acme", key) == b"rewritten"


def test_ranged_reads_of_either_store(blob_store: BlobStore) -> None:
    store = blob_store
    key, empty = store.new_key("acme"), store.new_key("acme")
    data = bytes(i % 251 for i in range(200_000))
    store.put("acme", key, data)
    store.put("acme", empty, b"")
    assert store.read_range("acme", key, 0, 10) == data[:10]
    assert store.read_range("acme", key, 150_000, 100_000) == data[150_000:]
    assert store.read_range("acme", key, 200_000, 10) == b""  # at the end: nothing
    assert store.read_range("acme", key, 300_000, 10) == b""
    assert store.read_range("acme", empty, 0, 10) == b""
    with pytest.raises(BlobMissing):
        store.read_range("acme", store.new_key("acme"), 0, 10)
    with pytest.raises(BlobKeyRefused):
        store.read_range("acme", "globex/abc", 0, 10)
