"""Rewrites in a versioned bucket keep no old bytes: after an Anonymize (the
subject's own files) and an Erase (another person's file that names the subject,
redacted), every rewritten key has exactly one version, holding none of the
subject's identifiers; the outbox is empty. Checked with ListObjectVersions on the
S3 protocol server (moto)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import asyncpg
import pytest

from atomicrm.privacy.v1 import privacy_pb2 as pb
from clients.client import PrivacyClient, subject
from demo.rows import ContactRow, FileRow, Plan
from demo.writer import write
from server.app import App
from server.config import Settings
from server.s3_blobs import S3BlobStore
from tests import factories
from tests.helpers import s3

JANE = ("Jane", "Doe", "jane.doe@example.com")


@pytest.fixture
def versioned_store(s3_endpoint: str) -> Iterator[S3BlobStore]:
    store = s3.new_store(versioned=True)
    try:
        yield store
    finally:
        store.close()


def _versions_with_contents(store: S3BlobStore, key: str) -> list[bytes]:
    """Every version of the key that holds bytes (delete markers hold none)."""
    name = store.object_name("acme", key)
    found = []
    for version, marker in store.versions("acme", key):
        if not marker:
            body = store.client.get_object(Bucket=store.bucket, Key=name, VersionId=version)
            found.append(body["Body"].read())
    return found


def _names_jane(data: bytes) -> bool:
    text = data.decode(errors="replace").casefold()
    return any(part.casefold() in text for part in ("Jane", "Doe", JANE[2]))


async def _world(
    db: asyncpg.Connection, store: S3BlobStore
) -> tuple[factories.Person, list[str], str]:
    """Jane with two files of her own, and John with a note that names her; each key
    starts with one version, holding her."""
    await factories.tenant(db)
    jane = await factories.contact(db, "acme", "Jane", "Doe", blobs=store, files=2)
    note = f"Call with {JANE[0]} {JANE[1]} <{JANE[2]}> about renewal".encode()
    john = ContactRow(
        first_name="John", last_name="Roe", email="john.roe@example.org", phone="+1 555 010 9999"
    )
    plan = Plan(
        contacts=[john],
        files=[FileRow(contact=0, name="minutes.txt", content_type="text/plain", data=note)],
    )
    written = await write(db, store, "acme", plan)
    johns_key: str = await db.fetchval(
        "SELECT blob_key FROM files WHERE contact_id = $1", written.contacts[0]
    )
    rows = await db.fetch("SELECT blob_key FROM files WHERE contact_id = $1", jane.id)
    janes_keys = [r["blob_key"] for r in rows]
    for key in [*janes_keys, johns_key]:
        (only,) = _versions_with_contents(store, key)
        assert _names_jane(only)
    return jane, janes_keys, johns_key


async def _run(settings: Settings, store: S3BlobStore, kind: str, email: str) -> None:
    quick = replace(settings, blob_url=f"s3://{store.bucket}/{store.prefix}")
    async with App(quick) as app:
        async with PrivacyClient(f"127.0.0.1:{app.port}", token=app.dev_token) as client:
            submit = client.anonymize if kind == "anonymize" else client.erase
            accepted = await submit("acme", subject(email=email))
            job = await client.wait_job(accepted.id)
    assert job.state == pb.JOB_STATE_SUCCEEDED, job.error_message


async def test_an_anonymize_leaves_one_version_of_each_own_file_without_the_subject(
    db: asyncpg.Connection, settings: Settings, versioned_store: S3BlobStore
) -> None:
    store = versioned_store
    jane, janes_keys, _ = await _world(db, store)
    await _run(settings, store, "anonymize", jane.email)
    for key in janes_keys:
        versions = _versions_with_contents(store, key)
        assert len(versions) == 1, versions
        assert not _names_jane(versions[0]), versions[0]
        assert [marker for _, marker in store.versions("acme", key)] == [False]
    assert await db.fetchval("SELECT count(*) FROM privacy_blob_rewrites") == 0


async def test_an_erase_leaves_one_redacted_version_of_a_file_that_named_the_subject(
    db: asyncpg.Connection, settings: Settings, versioned_store: S3BlobStore
) -> None:
    store = versioned_store
    jane, janes_keys, johns_key = await _world(db, store)
    await _run(settings, store, "erase", jane.email)
    # Her own files: no version, no marker.
    for key in janes_keys:
        assert store.versions("acme", key) == []
    # John's note: one version, redacted, his own words kept.
    (note,) = _versions_with_contents(store, johns_key)
    assert not _names_jane(note), note
    assert b"about renewal" in note
    assert await db.fetchval("SELECT count(*) FROM privacy_blob_rewrites") == 0
    assert await db.fetchval("SELECT count(*) FROM privacy_blob_deletions") == 0
