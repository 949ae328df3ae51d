"""A worker killed with SIGKILL while a job's blob work runs behind its batches: the
next worker finishes it from the outbox. No orphan (a blob whose row is gone), no lost
object (a row whose blob is gone, or does not match its sha256), nothing kept out of
sight (old versions, delete markers): on the local store and on S3 alike."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import asyncpg
import pytest

from atomicrm.privacy.v1 import privacy_pb2 as pb
from clients.client import PrivacyClient, subject
from server.blobs import BlobStore, LocalBlobStore
from tests import factories
from tests.helpers import blob_view, processes
from tests.helpers.waiting import fetched_until

FILES = 40


@pytest.mark.blob_stores
@pytest.mark.parametrize("right", ["erase", "anonymize"])
async def test_a_worker_killed_between_commit_and_store_loses_no_blob_and_leaves_none(
    db: asyncpg.Connection,
    db_url: str,
    blob_dir: Path,
    blobs: BlobStore,
    tmp_path: Path,
    right: str,
) -> None:
    await factories.tenant(db)
    jane = await factories.contact(db, "acme", "Jane", "Doe", blobs=blobs, files=FILES)
    await factories.contact(db, "acme", "Bob", "Roe", phone="+1 555 010 9999", blobs=blobs, files=3)
    bobs = {
        r["blob_key"]
        for r in await db.fetch(
            "SELECT blob_key FROM files f JOIN contacts c ON c.id = f.contact_id "
            "WHERE c.first_name = 'Bob'"
        )
    }
    port = processes.free_port()
    # `blobs` set PRIVACY_BLOB_URL for the processes when the store is a bucket.
    env = processes.env(
        db_url, blob_dir, PRIVACY_GRPC_ADDR=f"127.0.0.1:{port}", PRIVACY_WORKERS="0"
    )
    worker_env = {
        **env,
        "PRIVACY_BATCH_SIZE": "1",
        "PRIVACY_LEASE_SECONDS": "1",
        "PRIVACY_WORKERS": "1",
    }
    server = await processes.start(["serve"], env, tmp_path / "serve.log")
    try:
        await processes.wait_serving(port)
        async with PrivacyClient(f"127.0.0.1:{port}", token=processes.dev_token(env)) as client:
            call = client.erase if right == "erase" else client.anonymize
            job = await call("acme", subject(email=jane.email))
            doomed = await processes.start(["worker"], worker_env, tmp_path / "doomed.log")
            # Batches committed, their blob work queued behind them: killed mid-way.
            await fetched_until(
                db,
                "SELECT count(*) FROM privacy_audit_log WHERE action LIKE '%.apply' "
                "AND data_type = 'files'",
                until=lambda n: n >= FILES // 4,
            )
            doomed.kill()  # SIGKILL: no shutdown, the outbox as the crash left it
            await doomed.wait()
            survivor = await processes.start(["worker"], worker_env, tmp_path / "next.log")
            try:
                done = await asyncio.wait_for(client.wait_job(job.id), 90)
            finally:
                survivor.terminate()
                await survivor.wait()
    finally:
        server.terminate()
        await server.wait()
    assert done.state == pb.JOB_STATE_SUCCEEDED, done.error_message
    assert await db.fetchval("SELECT count(*) FROM privacy_blob_deletions") == 0
    assert await db.fetchval("SELECT count(*) FROM privacy_blob_rewrites") == 0
    stored = await asyncio.to_thread(blob_view.stored, blobs)
    rows = await db.fetch("SELECT blob_key, sha256 FROM files")
    # No orphan: every blob has its row. No lost object: every row has its blob, whole.
    assert set(stored) == {r["blob_key"] for r in rows}
    for r in rows:
        assert hashlib.sha256(stored[r["blob_key"]]).hexdigest() == r["sha256"]
    assert bobs <= set(stored)
    if right == "erase":
        assert set(stored) == bobs
    else:
        assert len(stored) == FILES + len(bobs)
    assert not any(b"Jane" in data or b"jane" in data for data in stored.values())
    left = await asyncio.to_thread(blob_view.leftovers, blobs)
    if isinstance(blobs, LocalBlobStore):
        # Known of the local store: a write killed between its temporary file and the
        # rename leaves that file behind. It holds the rewritten contents only.
        for name in left:
            data = (blobs.root / name).read_bytes()
            assert b"Jane" not in data
            assert b"jane" not in data
    else:
        assert left == []  # S3: no old version, no delete marker, nothing half-written
