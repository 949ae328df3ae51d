"""A third-party data type through Erase, Anonymize and Export; files anonymized in depth."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator

import asyncpg
import pytest

from anonymizers.registry import Registry, default_registry
from atomicrm.privacy.v1 import privacy_pb2 as pb
from clients.client import PrivacyClient, subject
from clients.export_files import records_of
from server.app import App
from server.blobs import BlobStore
from server.config import Settings
from tests import factories
from tests.helpers import blob_view
from tests.helpers.images import APP1_EXIF, JPEG
from tests.plugins.loyalty import TABLE_SQL, LoyaltyCardsAnonymizer


@pytest.fixture
async def loyalty_client(
    settings: Settings, db: asyncpg.Connection
) -> AsyncIterator[PrivacyClient]:
    await db.execute(TABLE_SQL)
    registry: Registry = default_registry()
    registry.register(LoyaltyCardsAnonymizer())  # the one registration; nothing in server/
    app = App(settings, registry=registry)
    await app.start()
    try:
        async with PrivacyClient(f"127.0.0.1:{app.port}", token=app.dev_token) as client:
            yield client
    finally:
        await app.stop()


async def _card(db: asyncpg.Connection, person: factories.Person) -> None:
    await db.execute(
        "INSERT INTO loyalty_cards (tenant_id, contact_id, card_number, holder_name, points) "
        "VALUES ('acme', $1, $2, $3, 120)",
        person.id,
        f"LC-{person.id:06d}",
        person.full_name,
    )


async def test_a_registered_data_type_is_exported_anonymized_and_erased(
    loyalty_client: PrivacyClient, db: asyncpg.Connection
) -> None:
    await factories.tenant(db)
    jane = await factories.contact(db, "acme", "Jane", "Doe")
    john = await factories.contact(db, "acme", "John", "Roe", phone="+1 555 010 9999")
    await _card(db, jane)
    await _card(db, john)
    client = loyalty_client

    chunks = [c async for c in client.export("acme", subject(email=jane.email))]
    cards = [
        json.loads(r.json) for c in chunks for r in records_of(c) if r.data_type == "loyalty_cards"
    ]
    assert cards == [
        {
            "kind": "loyalty_cards",
            "id": cards[0]["id"],
            "card_number": f"LC-{jane.id:06d}",
            "holder_name": "Jane Doe",
            "points": 120,
        }
    ]
    assert chunks[-1].manifest.record_counts["loyalty_cards"] == 1

    job = await client.wait_job((await client.anonymize("acme", subject(email=jane.email))).id)
    assert job.state == pb.JOB_STATE_SUCCEEDED, job.error_message
    assert {p.data_type: p.done for p in job.progress}["loyalty_cards"] == 1
    row = await db.fetchrow("SELECT * FROM loyalty_cards WHERE contact_id = $1", jane.id)
    assert row is not None
    assert row["holder_name"] != "Jane Doe"
    assert row["points"] == 120
    assert row["card_number"].startswith("card-")

    job = await client.wait_job((await client.erase("acme", subject(contact_id=john.id))).id)
    assert job.state == pb.JOB_STATE_SUCCEEDED, job.error_message
    assert (
        await db.fetchval("SELECT count(*) FROM loyalty_cards WHERE contact_id = $1", john.id) == 0
    )
    assert await db.fetchval("SELECT count(*) FROM loyalty_cards") == 1  # Jane's stays


@pytest.mark.blob_stores
async def test_anonymize_strips_file_metadata_renames_and_rewrites_contents(
    client: PrivacyClient, db: asyncpg.Connection, blobs: BlobStore
) -> None:
    await factories.tenant(db)
    jane = await factories.contact(db, "acme", "Jane", "Doe", blobs=blobs, files=1)
    key = blobs.new_key("acme")
    blobs.put("acme", key, JPEG)
    await db.execute(
        "INSERT INTO files (tenant_id, contact_id, name, content_type, size_bytes, sha256, "
        "blob_key) VALUES ('acme', $1, 'Jane_Doe_photo.jpg', 'image/jpeg', $2, $3, $4)",
        jane.id,
        len(JPEG),
        hashlib.sha256(JPEG).hexdigest(),
        key,
    )
    job = await client.wait_job((await client.anonymize("acme", subject(email=jane.email))).id)
    assert job.state == pb.JOB_STATE_SUCCEEDED, job.error_message

    rows = await db.fetch("SELECT * FROM files ORDER BY id")
    assert len(rows) == 2  # anonymized, not deleted
    for row in rows:
        data = blobs.get("acme", row["blob_key"])
        assert hashlib.sha256(data).hexdigest() == row["sha256"]
        assert len(data) == row["size_bytes"]
        for identifier in (b"Jane Doe", jane.email.encode(), b"Jane_Doe"):
            assert identifier not in data
        assert "Jane" not in row["name"]
        assert "Doe" not in row["name"]
    assert blob_view.leftovers(blobs) == []  # no version of the old contents kept
    photo = blobs.get("acme", key)
    assert APP1_EXIF not in photo
    assert b"Exif" not in photo  # GPS and all
    assert photo.startswith(b"\xff\xd8")
    assert photo.endswith(b"\xff\xd9")
    renamed = next(r["name"] for r in rows if r["blob_key"] == key)
    assert renamed.endswith("_photo.jpg")  # the rest of the name stays
    assert await db.fetchval("SELECT count(*) FROM privacy_blob_rewrites") == 0
