"""What an operator meets: a job's files for review in `privacyctl`, deleting one with
`privacyctl erase --file-id`, and a tenant's phone region, as real processes."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import asyncpg
import grpc
import pytest

from atomicrm.privacy.v1 import privacy_pb2 as pb
from clients.client import PrivacyClient, PrivacyClientError, subject
from server.app import App
from server.blobs import BlobStore
from tests import factories
from tests.helpers import blob_view, processes
from tests.helpers.documents import pdf


@pytest.mark.blob_stores
async def test_files_for_review_are_shown_and_deleted_with_privacyctl(
    app: App, db: asyncpg.Connection, db_url: str, blob_dir: Path, blobs: BlobStore
) -> None:
    tenant = await factories.tenant(db)
    zoe = await factories.contact(db, tenant, "Zoë", "Šimić")
    omar = await factories.contact(db, tenant, "Omar", "Haddad", phone="+1 (555) 010-9999")
    data = pdf(b"BT /F1 12 Tf 72 720 Td (Zoe Simic) Tj ET", author=b"Omar")
    key = blobs.new_key(tenant)
    blobs.put(tenant, key, data)
    file_id = await db.fetchval(
        "INSERT INTO files (tenant_id, contact_id, name, content_type, size_bytes, sha256, "
        "blob_key) VALUES ($1, $2, 'report.pdf', 'application/pdf', $3, $4, $5) RETURNING id",
        tenant,
        omar.id,
        len(data),
        hashlib.sha256(data).hexdigest(),
        key,
    )
    env = processes.env(db_url, blob_dir, PRIVACY_TOKEN=app.dev_token or "")
    target = ["--target", f"127.0.0.1:{app.port}"]

    code, out = await processes.run(
        ["erase", *target, "--tenant", tenant, "--email", zoe.email, "--wait"], env
    )
    assert code == 0, out
    assert f"needs review: file {file_id} (files): a document (application/pdf)" in out
    assert f"privacyctl erase --tenant {tenant} --file-id {file_id}" in out
    code, out = await processes.run(["jobs", *target, "--tenant", tenant], env)
    assert code == 0, out
    assert f"file {file_id}" in out, out

    code, out = await processes.run(
        ["erase", *target, "--tenant", tenant, "--file-id", str(file_id), "--wait"], env
    )
    assert code == 0, out
    assert re.search(r"job \S+ succeeded: files 1/1", out), out
    assert await db.fetchval("SELECT count(*) FROM files WHERE id = $1", file_id) == 0
    assert blob_view.read(blobs, key) is None
    assert blob_view.leftovers(blobs) == []
    # Only Erase takes a file.
    code, out = await processes.run(
        ["anonymize", *target, "--tenant", tenant, "--file-id", str(file_id)], env
    )
    assert code == 64  # a wrong command line (console/exit_codes.py)
    assert "error" in out


async def test_only_erase_takes_a_file(client: PrivacyClient, db: asyncpg.Connection) -> None:
    tenant = await factories.tenant(db)
    for call in (
        client.anonymize(tenant, subject(file_id=1)),
        client.set_legal_hold(tenant, subject(file_id=1), "case 1"),
    ):
        with pytest.raises(PrivacyClientError) as refused:
            await call
        assert refused.value.code is grpc.StatusCode.INVALID_ARGUMENT
        assert refused.value.field_violations[0][0] == "subject.file_id"
    with pytest.raises(PrivacyClientError) as missing:
        await client.erase(tenant, subject(file_id=12345))
    assert missing.value.code is grpc.StatusCode.NOT_FOUND
    assert "subject.file_id" in missing.value.message


async def test_a_tenants_phone_region_is_shown_set_and_used(
    app: App, client: PrivacyClient, db: asyncpg.Connection, db_url: str, blob_dir: Path
) -> None:
    tenant = await factories.tenant(db)
    # A London contact whose number is written as the British write it.
    london = await factories.contact(db, tenant, "Hugh", "Pemberton", phone="020 7946 0958")
    env = processes.env(db_url, blob_dir)
    code, out = await processes.run(["tenant", "region", "--tenant", tenant], env)
    assert code == 0, out
    assert ": US (the default, PRIVACY_DEFAULT_PHONE_REGION)" in out, out
    # Read in the default region, "020 7946 0958" is no London number.
    with pytest.raises(PrivacyClientError) as nobody:
        await client.erase(tenant, subject(phone="+44 20 7946 0958"), dry_run=True)
    assert nobody.value.code is grpc.StatusCode.NOT_FOUND
    code, out = await processes.run(["tenant", "region", "--tenant", tenant, "--set", "gb"], env)
    assert code == 0, out
    assert ": GB (its own)" in out, out
    assert (
        await db.fetchval(
            "SELECT details->>'phone_region' FROM privacy_audit_log "
            "WHERE tenant_id = $1 AND action = 'tenant.phone_region_set'",
            tenant,
        )
        == "GB"
    )
    job = await client.wait_job((await client.erase(tenant, subject(phone="+442079460958"))).id)
    assert job.state == pb.JOB_STATE_SUCCEEDED
    assert await db.fetchval("SELECT count(*) FROM contacts WHERE id = $1", london.id) == 0
    code, out = await processes.run(["tenant", "region", "--tenant", tenant, "--set", "XX"], env)
    assert code == 1, out
    assert "is not a region code" in out, out
