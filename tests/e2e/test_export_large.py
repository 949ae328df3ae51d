"""Export streams a large file a range at a time: the serving process's peak memory
(VmHWM) does not grow with the file (1 GiB by default; PRIVACY_LARGE_BLOB_MB to
change it), on the local store and on S3."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import asyncpg
import pytest

from clients.client import PrivacyClient, subject
from clients.export_files import file_chunks_of
from server.blobs import BlobStore, LocalBlobStore
from server.s3_blobs import S3BlobStore
from tests import factories
from tests.helpers import processes

MIB = 1024 * 1024
LARGE = int(os.environ.get("PRIVACY_LARGE_BLOB_MB", "1024")) * MIB
# What the server may grow by while it sends the large file: a few ranges (8 MiB)
# and the stream's buffers, nothing near the file's size.
GROWTH = 96 * MIB


def _block(i: int) -> bytes:
    return hashlib.sha256(i.to_bytes(8, "big")).digest() * (MIB // 32)


class _Blocks:
    """A file-like object of LARGE bytes made on the fly (never all in memory)."""

    def __init__(self) -> None:
        self.at = 0
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        end = LARGE if size < 0 else min(LARGE, self.at + size)
        out = bytearray()
        while self.at < end:
            block = _block(self.at // MIB)[self.at % MIB : self.at % MIB + end - self.at]
            out += block
            self.at += len(block)
        self.digest.update(out)
        return bytes(out)


def _write_large(blobs: BlobStore, key: str) -> str:
    """The large blob under `key`, written a block at a time; its SHA-256."""
    source = _Blocks()
    if isinstance(blobs, S3BlobStore):
        name = blobs.object_name("acme", key)
        blobs.client.upload_fileobj(source, blobs.bucket, name)  # type: ignore[arg-type]
    else:
        assert isinstance(blobs, LocalBlobStore)
        path = blobs.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as out:
            while data := source.read(8 * MIB):
                out.write(data)
    return source.digest.hexdigest()


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


async def _export_file_bytes(client: PrivacyClient, email: str) -> dict[str, tuple[int, str]]:
    """Each exported file's size and SHA-256 as received (the contents are not kept)."""
    digests: dict[str, hashlib._Hash] = {}
    sizes: dict[str, int] = {}
    declared: dict[str, tuple[int, str]] = {}
    async for chunk in client.export("acme", subject(email=email)):
        for piece in file_chunks_of(chunk):
            assert piece.offset == sizes.get(piece.file_id, 0)  # in order, no gap
            digests.setdefault(piece.file_id, hashlib.sha256()).update(piece.data)
            sizes[piece.file_id] = sizes.get(piece.file_id, 0) + len(piece.data)
        if chunk.WhichOneof("payload") == "files":
            for done in chunk.files.done:
                declared[done.file_id] = (done.size_bytes, done.sha256)
    assert {i: (sizes[i], digests[i].hexdigest()) for i in sizes} == declared
    return declared


@pytest.mark.blob_stores
@pytest.mark.timeout(900)
async def test_exporting_a_large_file_keeps_the_servers_memory_flat(
    db: asyncpg.Connection, db_url: str, blob_dir: Path, blobs: BlobStore, tmp_path: Path
) -> None:
    await factories.tenant(db)
    small = await factories.contact(db, "acme", "Sam", "Small", blobs=blobs, files=1)
    jane = await factories.contact(db, "acme", "Jane", "Doe")
    key = blobs.new_key("acme")
    sha = _write_large(blobs, key)
    file_id = await db.fetchval(
        "INSERT INTO files (tenant_id, contact_id, name, content_type, size_bytes, sha256, "
        "blob_key) VALUES ('acme', $1, 'big.bin', 'application/octet-stream', $2, $3, $4) "
        "RETURNING id",
        jane.id,
        LARGE,
        sha,
        key,
    )
    port = processes.free_port()
    env = processes.env(db_url, blob_dir, PRIVACY_GRPC_ADDR=f"127.0.0.1:{port}")
    server = await processes.start(["serve"], env, tmp_path / "serve.log")
    try:
        await processes.wait_serving(port)
        async with PrivacyClient(f"127.0.0.1:{port}", token=processes.dev_token(env)) as client:
            await _export_file_bytes(client, small.email)  # warmed up: a small export
            before = _peak_rss(server.pid)
            got = await _export_file_bytes(client, jane.email)
            after = _peak_rss(server.pid)
    finally:
        server.terminate()
        await server.wait()
    assert got == {str(file_id): (LARGE, sha)}
    assert after - before < GROWTH, (before, after)
