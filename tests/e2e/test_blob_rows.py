"""Files rows whose blobs cannot be had: a key that leaves the blob directory,
another tenant's key, a blob that is gone. Jobs end (FAILED naming the file, or
done with the gap recorded), Export answers precisely, nothing outside the
tenant's directory is read, written or deleted."""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import asyncpg
import grpc
import jsonschema
import pytest

from atomicrm.privacy.v1 import privacy_pb2 as pb
from clients.client import PrivacyClient, PrivacyClientError, subject
from clients.export_files import file_chunks_of, write_zip
from server.app import App
from server.blobs import BlobStore
from server.config import Settings
from tests import factories
from tests.helpers import blob_view
from tests.helpers.waiting import eventually

# Every test here runs against the local store and the S3 one.
pytestmark = pytest.mark.blob_stores

SCHEMA = json.loads(
    (Path(__file__).parents[2] / "docs" / "export-manifest.schema.json").read_text()
)

# Long enough for any of these jobs on a busy machine; a job that loops (re-leased
# forever, never FAILED) runs into it.
SETTLED_WITHIN = 60.0


@pytest.fixture
async def quick(settings: Settings) -> AsyncIterator[App]:
    """A server whose jobs give up after two quick attempts (the lease, 10 s, is far
    longer: a job that is only ever re-leased does not end within the test)."""
    fast = replace(settings, max_attempts=2, retry_base=timedelta(milliseconds=50))
    async with App(fast) as app:
        yield app


@pytest.fixture
async def quick_client(quick: App) -> AsyncIterator[PrivacyClient]:
    async with PrivacyClient(f"127.0.0.1:{quick.port}", token=quick.dev_token) as client:
        yield client


async def _settled(client: PrivacyClient, job_id: str) -> pb.Job:
    """The job once it is SUCCEEDED, FAILED or CANCELLED; fails past the deadline."""

    async def ended() -> pb.Job | None:
        job = await client.get_job(job_id)
        ends = (pb.JOB_STATE_SUCCEEDED, pb.JOB_STATE_FAILED, pb.JOB_STATE_CANCELLED)
        return job if job.state in ends else None

    return await eventually(ended, timeout=SETTLED_WITHIN, what=f"job {job_id} ending")


async def _file(db: asyncpg.Connection, tenant: str, contact_id: int, key: str) -> int:
    """A files row of the contact's holding `key` (whatever it names)."""
    file_id: int = await db.fetchval(
        "INSERT INTO files (tenant_id, contact_id, name, content_type, size_bytes, sha256, "
        "blob_key) VALUES ($1, $2, 'notes.txt', 'text/plain', 5, $3, $4) RETURNING id",
        tenant,
        contact_id,
        hashlib.sha256(b"hello").hexdigest(),
        key,
    )
    return file_id


async def _export(client: PrivacyClient, tenant: str, who: pb.Subject) -> list[pb.ExportChunk]:
    return [chunk async for chunk in client.export(tenant, who)]


def _outside(tmp_path: Path) -> Path:
    """A file beside the blob directory, that no key may reach."""
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"not the store's")
    return outside


# Keys that leave the blob directory: up and out, and an absolute path.
ESCAPING = ["acme/../../outside.txt", "{outside}"]


@pytest.mark.parametrize("key", ESCAPING)
@pytest.mark.parametrize("by", ["email", "file_id"])
async def test_an_erase_whose_blob_key_leaves_the_store_fails_naming_the_file(
    quick_client: PrivacyClient,
    db: asyncpg.Connection,
    blobs: BlobStore,
    tmp_path: Path,
    key: str,
    *,
    by: str,
) -> None:
    outside = _outside(tmp_path)
    tenant = await factories.tenant(db)
    jane = await factories.contact(db, tenant, "Jane", "Doe", blobs=blobs, files=1)
    bad = await _file(db, tenant, jane.id, key.format(outside=outside))
    # By email the files' mentions step reads the file first; by file id (how an
    # operator deletes one file) nothing reads it: only the deletion meets the key.
    who = subject(email=jane.email) if by == "email" else subject(file_id=bad)
    accepted = await quick_client.erase(tenant, who)
    job = await _settled(quick_client, accepted.id)
    assert job.state == pb.JOB_STATE_FAILED
    assert f"file {bad}" in job.error_message
    assert "jane" not in job.error_message.lower()
    assert "outside" not in job.error_message
    assert outside.read_bytes() == b"not the store's"
    # The failed attempts rolled back: the rows are all still there.
    assert await db.fetchval("SELECT count(*) FROM files WHERE contact_id = $1", jane.id) == 2


@pytest.mark.parametrize("key", ESCAPING)
async def test_an_anonymize_whose_blob_key_leaves_the_store_fails_naming_the_file(
    quick_client: PrivacyClient,
    db: asyncpg.Connection,
    blobs: BlobStore,
    tmp_path: Path,
    key: str,
) -> None:
    outside = _outside(tmp_path)
    tenant = await factories.tenant(db)
    jane = await factories.contact(db, tenant, "Jane", "Doe", blobs=blobs, files=1)
    bad = await _file(db, tenant, jane.id, key.format(outside=outside))
    accepted = await quick_client.anonymize(tenant, subject(email=jane.email))
    job = await _settled(quick_client, accepted.id)
    assert job.state == pb.JOB_STATE_FAILED
    assert f"file {bad}" in job.error_message
    assert outside.read_bytes() == b"not the store's"


@pytest.mark.parametrize("key", ESCAPING)
async def test_an_export_whose_blob_key_leaves_the_store_answers_data_loss(
    client: PrivacyClient,
    db: asyncpg.Connection,
    blobs: BlobStore,
    tmp_path: Path,
    key: str,
) -> None:
    outside = _outside(tmp_path)
    tenant = await factories.tenant(db)
    jane = await factories.contact(db, tenant, "Jane", "Doe", blobs=blobs, files=1)
    bad = await _file(db, tenant, jane.id, key.format(outside=outside))
    with pytest.raises(PrivacyClientError) as raised:
        await _export(client, tenant, subject(email=jane.email))
    assert raised.value.code is grpc.StatusCode.DATA_LOSS
    assert f"file {bad}" in raised.value.message
    assert "outside" not in raised.value.message


async def _globex_file(db: asyncpg.Connection, blobs: BlobStore) -> tuple[str, bytes]:
    """Another tenant's file: its key and contents."""
    await factories.tenant(db, "globex")
    await factories.contact(db, "globex", "Gus", "Globex", blobs=blobs, files=1)
    key: str = await db.fetchval("SELECT blob_key FROM files WHERE tenant_id = 'globex'")
    return key, blobs.get("globex", key)


async def _export_files(client: PrivacyClient, tenant: str, email: str, sent: list[bytes]) -> None:
    """Exports `email`'s data, keeping the file contents that arrive in `sent`."""
    async for chunk in client.export(tenant, subject(email=email)):
        sent += [piece.data for piece in file_chunks_of(chunk)]


async def test_a_row_holding_another_tenants_key_is_refused_by_export(
    client: PrivacyClient, db: asyncpg.Connection, blobs: BlobStore
) -> None:
    key, contents = await _globex_file(db, blobs)
    tenant = await factories.tenant(db)
    jane = await factories.contact(db, tenant, "Jane", "Doe")
    bad = await _file(db, tenant, jane.id, key)
    sent: list[bytes] = []
    with pytest.raises(PrivacyClientError) as raised:
        await _export_files(client, tenant, jane.email, sent)
    assert raised.value.code is grpc.StatusCode.DATA_LOSS
    assert f"file {bad}" in raised.value.message
    assert contents not in sent


async def test_a_row_holding_another_tenants_key_fails_the_erase_and_spares_the_blob(
    quick_client: PrivacyClient, db: asyncpg.Connection, blobs: BlobStore, blob_dir: Path
) -> None:
    key, contents = await _globex_file(db, blobs)
    tenant = await factories.tenant(db)
    jane = await factories.contact(db, tenant, "Jane", "Doe")
    bad = await _file(db, tenant, jane.id, key)
    accepted = await quick_client.erase(tenant, subject(email=jane.email))
    job = await _settled(quick_client, accepted.id)
    assert job.state == pb.JOB_STATE_FAILED
    assert f"file {bad}" in job.error_message
    assert blob_view.read(blobs, key) == contents  # globex's file is untouched


async def test_a_missing_blob_is_listed_in_the_export_manifest(
    client: PrivacyClient,
    db: asyncpg.Connection,
    blobs: BlobStore,
    blob_dir: Path,
    tmp_path: Path,
) -> None:
    tenant = await factories.tenant(db)
    jane = await factories.contact(db, tenant, "Jane", "Doe", blobs=blobs, files=2)
    rows = await db.fetch("SELECT id, name, blob_key FROM files ORDER BY id")
    blob_view.remove(blobs, rows[0]["blob_key"])  # gone from the store, still in the table
    out = tmp_path / "jane.zip"
    manifest = await write_zip(client.export(tenant, subject(email=jane.email)), out)
    jsonschema.validate(manifest, SCHEMA)
    missing = manifest["missing_files"]
    assert [(m["file_id"], m["path"].startswith("files/")) for m in missing] == [
        (str(rows[0]["id"]), True)
    ]
    assert missing[0]["reason"]
    assert [f["file_id"] for f in manifest["files"]] == [str(rows[1]["id"])]
    with zipfile.ZipFile(out) as archive:
        assert missing[0]["path"] not in archive.namelist()
        assert archive.read(manifest["files"][0]["path"]) == blobs.get("acme", rows[1]["blob_key"])


async def test_a_missing_blob_does_not_stop_an_erase_and_is_recorded(
    quick_client: PrivacyClient, db: asyncpg.Connection, blobs: BlobStore, blob_dir: Path
) -> None:
    tenant = await factories.tenant(db)
    jane = await factories.contact(db, tenant, "Jane", "Doe", blobs=blobs, files=1)
    bob = await factories.contact(db, tenant, "Bob", "Roe", blobs=blobs, files=1)
    # Jane's blob and someone else's (read by the files' mentions step) are gone.
    for row in await db.fetch("SELECT blob_key FROM files"):
        blob_view.remove(blobs, row["blob_key"])
    bobs = await db.fetchval("SELECT id FROM files WHERE contact_id = $1", bob.id)
    accepted = await quick_client.erase(tenant, subject(email=jane.email))
    job = await _settled(quick_client, accepted.id)
    assert job.state == pb.JOB_STATE_SUCCEEDED, job.error_message
    assert await db.fetchval("SELECT count(*) FROM files WHERE contact_id = $1", jane.id) == 0
    recorded = [
        json.loads(r["details"]).get("missing_files", [])
        for r in await db.fetch(
            "SELECT details FROM privacy_audit_log WHERE job_id = $1 AND data_type = 'files'",
            accepted.id,
        )
    ]
    assert bobs in [file_id for ids in recorded for file_id in ids]


async def test_a_missing_blob_does_not_stop_an_anonymize_and_is_not_made_up(
    quick_client: PrivacyClient, db: asyncpg.Connection, blobs: BlobStore, blob_dir: Path
) -> None:
    tenant = await factories.tenant(db)
    jane = await factories.contact(db, tenant, "Jane", "Doe", blobs=blobs, files=1)
    row = await db.fetchrow("SELECT id, blob_key FROM files")
    assert row is not None
    blob_view.remove(blobs, row["blob_key"])
    accepted = await quick_client.anonymize(tenant, subject(email=jane.email))
    job = await _settled(quick_client, accepted.id)
    assert job.state == pb.JOB_STATE_SUCCEEDED, job.error_message
    assert "Jane" not in await db.fetchval("SELECT name FROM files WHERE id = $1", row["id"])
    assert blob_view.read(blobs, row["blob_key"]) is None  # no contents invented for it
