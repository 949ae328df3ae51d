"""ExportPacker: files in chunks, many parts to a message, no message too big."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from atomicrm.privacy.v1 import privacy_pb2 as pb
from server.convert import CHUNK_BYTES, ExportPacker
from server.export import ExportedFile, MissingFile, Part, Records

_SIZES = st.lists(
    st.sampled_from([0, 1, 100, CHUNK_BYTES - 1, CHUNK_BYTES, CHUNK_BYTES + 1, 3 * CHUNK_BYTES]),
    max_size=12,
)


def _packed(packer: ExportPacker, items: list[Part]) -> list[pb.ExportChunk]:
    messages = [m for item in items for m in packer.add(item)]
    return messages + packer.flush()


@given(_SIZES, st.integers(1, 8), st.sampled_from([1, 1000, 2 * CHUNK_BYTES]))
def test_files_come_back_whole_in_order_and_messages_stay_small(
    sizes: list[int], max_items: int, max_bytes: int
) -> None:
    files = [
        ExportedFile(str(i), f"files/{i}-f", bytes([i % 256]) * size, hashlib.sha256().hexdigest())
        for i, size in enumerate(sizes)
    ]
    messages = _packed(ExportPacker(max_items, max_bytes), [*files])
    chunks = [c for m in messages for c in m.files.chunks]
    done = [d for m in messages for d in m.files.done]
    for f in files:
        mine = [c for c in chunks if c.file_id == f.file_id]
        assert b"".join(c.data for c in mine) == f.data
        assert [c.offset for c in mine] == list(range(0, max(len(f.data), 1), CHUNK_BYTES))
        assert [c.last for c in mine] == [False] * (len(mine) - 1) + [True]
        assert all(c.path == f.path and len(c.data) <= CHUNK_BYTES for c in mine)
    assert [(d.file_id, d.size_bytes, d.sha256) for d in done] == [
        (f.file_id, len(f.data), f.sha256) for f in files
    ]
    # A file's entry comes with its last chunk or after it (a message's chunks are
    # read before its entries).
    last_chunk_in = {c.file_id: i for i, m in enumerate(messages) for c in m.files.chunks}
    entry_in = {d.file_id: i for i, m in enumerate(messages) for d in m.files.done}
    assert all(entry_in[f] >= i for f, i in last_chunk_in.items())
    for m in messages:
        assert 0 < len(m.files.chunks) + len(m.files.done) <= max_items
        assert sum(len(c.data) for c in m.files.chunks) < max_bytes + CHUNK_BYTES


def test_a_block_of_records_goes_out_after_the_file_parts_before_it() -> None:
    packer = ExportPacker(100, 1 << 20)
    items: list[Part] = [
        ExportedFile("1", "files/1-a", b"a", "0" * 64),
        Records("messages", b'{"id":1}\n', 1),
    ]
    messages = _packed(packer, items)
    assert [m.WhichOneof("payload") for m in messages] == ["files", "lines"]
    assert messages[0].files.done[0].file_id == "1"
    assert messages[1].lines.count == 1


def test_a_missing_file_is_listed_among_the_files_in_order() -> None:
    packer = ExportPacker(100, 1 << 20)
    items: list[Part] = [
        ExportedFile("1", "files/1-a", b"a", "0" * 64),
        MissingFile("2", "files/2-b", "gone"),
        ExportedFile("3", "files/3-c", b"c", "0" * 64),
    ]
    (message,) = _packed(packer, items)
    assert [d.file_id for d in message.files.done] == ["1", "3"]
    assert [(m.file_id, m.path, m.reason) for m in message.files.missing] == [
        ("2", "files/2-b", "gone")
    ]
    assert [c.file_id for c in message.files.chunks] == ["1", "3"]  # nothing sent for it
