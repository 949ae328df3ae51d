"""A bucket that keeps what it is asked to delete (Object Lock, a retention period):
the job does not pretend. What the store keeps goes on the job's needs_review, by
the row that held it (never its key), with the reason; what it lets go of is gone;
the outbox is left empty and the audit log says so."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from atomicrm.privacy.v1 import privacy_pb2 as pb
from clients.client import PrivacyClient, subject
from server.app import App
from server.config import Settings
from server.s3_blobs import S3BlobStore
from tests import factories
from tests.helpers import s3
from tests.helpers.waiting import eventually


@pytest.fixture
def locked_store(s3_endpoint: str) -> Iterator[S3BlobStore]:
    store = s3.new_store(object_lock=True)
    try:
        yield store
    finally:
        store.close()


def _retain(store: S3BlobStore, tenant_id: str, key: str) -> None:
    """Keep the key's current version for a day, as a compliance rule would."""
    store.client.put_object_retention(
        Bucket=store.bucket,
        Key=store.object_name(tenant_id, key),
        Retention={"Mode": "COMPLIANCE", "RetainUntilDate": datetime.now(UTC) + timedelta(days=1)},
    )


def _settings(settings: Settings, store: S3BlobStore) -> Settings:
    return replace(
        settings,
        blob_url=f"s3://{store.bucket}/{store.prefix}",
        max_attempts=2,
        retry_base=timedelta(milliseconds=50),
    )


async def _ended(client: PrivacyClient, job_id: str) -> pb.Job:
    async def ended() -> pb.Job | None:
        job = await client.get_job(job_id)
        return job if job.state not in (pb.JOB_STATE_PENDING, pb.JOB_STATE_RUNNING) else None

    return await eventually(ended, timeout=60)


async def test_an_erase_lists_the_file_the_store_keeps_and_deletes_the_rest(
    db: asyncpg.Connection, settings: Settings, locked_store: S3BlobStore
) -> None:
    store = locked_store
    await factories.tenant(db)
    jane = await factories.contact(db, "acme", "Jane", "Doe", blobs=store, files=2)
    john = await factories.contact(db, "acme", "John", "Roe", blobs=store, files=1)
    files = await db.fetch(
        "SELECT id, blob_key FROM files WHERE contact_id = $1 ORDER BY id", jane.id
    )
    (kept_id, kept_key), (freed_id, freed_key) = (tuple(f) for f in files)
    _retain(store, "acme", kept_key)
    johns_key = await db.fetchval("SELECT blob_key FROM files WHERE contact_id = $1", john.id)

    async with App(_settings(settings, store)) as app:
        async with PrivacyClient(f"127.0.0.1:{app.port}", token=app.dev_token) as client:
            accepted = await client.erase("acme", subject(email=jane.email))
            job = await _ended(client, accepted.id)
            verified = await client.verify_audit_log("acme")

    assert job.state == pb.JOB_STATE_SUCCEEDED, job.error_message
    assert [(r.file_id, r.data_type) for r in job.needs_review] == [(kept_id, "files")]
    reason = job.needs_review[0].reason
    assert "Object Lock" in reason, reason
    assert kept_key not in reason
    assert freed_id != kept_id
    # The rows are erased; the kept blob is still there (what the operator must deal
    # with), the other one of hers is gone, and John's is untouched.
    assert await db.fetchval("SELECT count(*) FROM files WHERE contact_id = $1", jane.id) == 0
    assert store.get("acme", kept_key)
    assert not store.exists("acme", freed_key)
    assert store.versions("acme", freed_key) == []
    assert store.get("acme", johns_key)
    assert await db.fetchval("SELECT count(*) FROM privacy_blob_deletions") == 0
    kept = await db.fetch(
        "SELECT data_type, details FROM privacy_audit_log WHERE job_id = $1"
        " AND action = 'erase.blobs_kept'",
        accepted.id,
    )
    assert [(r["data_type"], r["details"]) for r in kept] == [
        ("files", f'{{"needs_review": [{kept_id}]}}')
    ]
    assert verified.ok, verified.problem


async def test_an_anonymize_lists_the_file_whose_old_version_the_store_keeps(
    db: asyncpg.Connection, settings: Settings, locked_store: S3BlobStore
) -> None:
    store = locked_store
    await factories.tenant(db)
    jane = await factories.contact(db, "acme", "Jane", "Doe", blobs=store, files=1)
    row = await db.fetchrow("SELECT id, blob_key FROM files WHERE contact_id = $1", jane.id)
    assert row is not None
    file_id, key = row["id"], row["blob_key"]
    _retain(store, "acme", key)

    async with App(_settings(settings, store)) as app:
        async with PrivacyClient(f"127.0.0.1:{app.port}", token=app.dev_token) as client:
            accepted = await client.anonymize("acme", subject(email=jane.email))
            job = await _ended(client, accepted.id)

    assert job.state == pb.JOB_STATE_SUCCEEDED, job.error_message
    assert [(r.file_id, r.data_type) for r in job.needs_review] == [(file_id, "files")]
    # The current version is the rewritten one; the kept older one still holds her.
    current = store.get("acme", key)
    assert jane.email.encode() not in current
    assert len([v for v, marker in store.versions("acme", key) if not marker]) == 2
    assert await db.fetchval("SELECT count(*) FROM privacy_blob_rewrites") == 0


async def test_a_kept_blob_with_no_row_to_name_fails_its_job_saying_so(
    db: asyncpg.Connection, settings: Settings, locked_store: S3BlobStore
) -> None:
    """An outbox row queued before rows were recorded with it (migration 0015): the
    job cannot list what it cannot name, so it fails, as it did before."""
    store = locked_store
    await factories.tenant(db)
    jane = await factories.contact(db, "acme", "Jane", "Doe", blobs=store, files=1)
    key = await db.fetchval("SELECT blob_key FROM files WHERE contact_id = $1", jane.id)
    _retain(store, "acme", key)
    # A trigger stands in for an old worker: it queues the blob with no row.
    await db.execute(
        """
        CREATE FUNCTION forget_row() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN NEW.row_id := NULL; RETURN NEW; END $$;
        CREATE TRIGGER forget_row BEFORE INSERT ON privacy_blob_deletions
        FOR EACH ROW EXECUTE FUNCTION forget_row();
        """
    )
    async with App(_settings(settings, store)) as app:
        async with PrivacyClient(f"127.0.0.1:{app.port}", token=app.dev_token) as client:
            accepted = await client.erase("acme", subject(email=jane.email))
            job = await _ended(client, accepted.id)
    assert job.state == pb.JOB_STATE_FAILED
    assert "Object Lock" in job.error_message, job.error_message
    assert key not in job.error_message
    assert store.get("acme", key)
