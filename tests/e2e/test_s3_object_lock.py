"""A bucket that keeps what it is asked to delete (Object Lock): an Erase does not
pretend. The job does not succeed; its error says the store keeps the blob, and the
blob is still there (what the operator must deal with), never named by its key."""

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
from server.s3_blobs import S3BlobStore, s3_client
from tests import factories
from tests.helpers import s3
from tests.helpers.waiting import eventually


@pytest.fixture
def locked_store(s3_endpoint: str) -> Iterator[S3BlobStore]:
    client = s3_client()
    store = S3BlobStore(client, s3.new_bucket(client, object_lock=True), "blobs")
    try:
        yield store
    finally:
        store.close()


async def test_an_erase_whose_blob_is_under_object_lock_fails_saying_so(
    db: asyncpg.Connection, settings: Settings, locked_store: S3BlobStore
) -> None:
    store = locked_store
    await factories.tenant(db)
    jane = await factories.contact(db, "acme", "Jane", "Doe", blobs=store, files=1)
    key = await db.fetchval("SELECT blob_key FROM files WHERE contact_id = $1", jane.id)
    # Kept for a day, as a compliance rule would.
    store.client.put_object_retention(
        Bucket=store.bucket,
        Key=store.object_name("acme", key),
        Retention={"Mode": "COMPLIANCE", "RetainUntilDate": datetime.now(UTC) + timedelta(days=1)},
    )
    quick = replace(
        settings,
        blob_url=f"s3://{store.bucket}/{store.prefix}",
        max_attempts=2,
        retry_base=timedelta(milliseconds=50),
    )
    async with App(quick) as app:
        async with PrivacyClient(f"127.0.0.1:{app.port}", token=app.dev_token) as client:
            accepted = await client.erase("acme", subject(email=jane.email))

            async def ended() -> pb.Job | None:
                job = await client.get_job(accepted.id)
                return job if job.state == pb.JOB_STATE_FAILED else None

            job = await eventually(ended, timeout=60)
    assert "Object Lock" in job.error_message, job.error_message
    assert key not in job.error_message
    assert store.get("acme", key)  # still there: the job said it could not erase it
