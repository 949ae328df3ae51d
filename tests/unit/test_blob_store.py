"""LocalBlobStore: keys stay inside its directory, and deleting never follows a link."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.blobs import LocalBlobStore


def test_put_get_delete_and_delete_again(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    key = store.new_key("acme")
    store.put(key, b"contents")
    assert store.get(key) == b"contents"
    store.delete(key)
    assert not store.exists(key)
    store.delete(key)  # the outbox may replay a deletion: not an error


@pytest.mark.parametrize("size", [0, 1, 64 * 1024 - 1, 64 * 1024, 64 * 1024 + 1, 300_000])
def test_blobs_of_any_size_read_back_whole(tmp_path: Path, size: int) -> None:
    # Around the size of one read: empty, one read short, exactly one, more than one.
    store = LocalBlobStore(tmp_path / "blobs")
    key = store.new_key("acme")
    data = bytes(i % 251 for i in range(size))
    store.put(key, data)
    assert store.get(key) == data


def test_many_at_once(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    items = [(store.new_key("acme"), f"blob {i}".encode()) for i in range(20)]
    store.put_many(items)
    assert [store.get(key) for key, _ in items] == [data for _, data in items]
    store.delete_many([key for key, _ in items[:10]])
    assert [store.exists(key) for key, _ in items] == [False] * 10 + [True] * 10


def test_deleting_a_link_removes_the_link_not_its_target(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"not the store's")
    store = LocalBlobStore(tmp_path / "blobs")
    key = store.new_key("acme")
    store.put(key, b"x")
    link = tmp_path / "blobs" / key
    link.unlink()
    link.symlink_to(outside)
    with pytest.raises(ValueError, match="escapes"):
        store.get(key)  # reading follows links, so it is checked in full
    store.delete(key)
    assert not link.is_symlink()
    assert outside.read_bytes() == b"not the store's"


def test_a_link_inside_the_directory_is_read_through(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    target, key = store.new_key("acme"), store.new_key("acme")
    store.put(target, b"the target")
    (tmp_path / "blobs" / key).symlink_to(tmp_path / "blobs" / target)
    assert store.get(key) == b"the target"
    with pytest.raises(FileNotFoundError):
        store.get(store.new_key("acme"))


@pytest.mark.parametrize("key", ["../outside.txt", "acme/../../outside.txt", "..", "acme/.."])
def test_keys_that_leave_the_directory_are_refused(tmp_path: Path, key: str) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"not the store's")
    store = LocalBlobStore(tmp_path / "blobs")
    (tmp_path / "blobs" / "acme").mkdir(parents=True)
    with pytest.raises(ValueError, match="escapes"):
        store.delete(key)
    with pytest.raises(ValueError, match="escapes"):
        store.put(key, b"x")
    assert outside.read_bytes() == b"not the store's"
