"""VerifyAuditLog over gRPC: the same chain check as `privacyctl audit verify`."""

from __future__ import annotations

import asyncpg
import grpc
import pytest

from atomicrm.privacy.v1 import privacy_pb2 as pb
from clients.client import PrivacyClient, PrivacyClientError, subject
from tests import factories


async def test_the_rpc_reports_an_intact_chain_then_names_the_tampered_entry(
    db: asyncpg.Connection, client: PrivacyClient
) -> None:
    await factories.tenant(db, "acme")
    person = await factories.contact(db, "acme", "Ann", "Lee", messages=2)
    job = await client.erase(
        "acme", subject(contact_id=person.id), reason_code=pb.REASON_CODE_OTHER, note="ticket 1"
    )
    await client.wait_job(job.id)

    intact = await client.verify_audit_log("acme")
    assert intact.ok and intact.first_bad_seq == 0 and intact.problem == ""
    assert intact.entries_checked >= 3  # requested, at least one batch, succeeded

    # A superuser with the append-only guard switched off rewrites entry 2.
    async with db.transaction():
        await db.execute("SET LOCAL session_replication_role = replica")
        await db.execute(
            "UPDATE privacy_audit_log SET actor = 'mallory' WHERE tenant_id = 'acme' AND seq = 2"
        )

    broken = await client.verify_audit_log("acme")
    assert not broken.ok
    assert broken.first_bad_seq == 2
    assert "changed" in broken.problem


async def test_the_rpc_validates_the_tenant(client: PrivacyClient) -> None:
    with pytest.raises(PrivacyClientError) as caught:
        await client.verify_audit_log("")
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [field for field, _ in caught.value.field_violations] == ["tenant_id"]
