"""VerifyAuditLog over gRPC and `privacyctl audit`: the chain, and the signed checkpoints
of its head."""

from __future__ import annotations

import json
import stat
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import asyncpg
import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from atomicrm.privacy.v1 import privacy_pb2 as pb
from clients.client import PrivacyClient, PrivacyClientError, subject
from server import audit, checkpoints
from server.app import App
from server.audit import AuditEntry
from server.config import Settings
from tests import factories
from tests.helpers import processes
from tests.helpers.waiting import eventually


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
    assert intact.ok
    assert intact.first_bad_seq == 0
    assert intact.problem == ""
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
    # A tenant nobody knows has no log to call intact: NOT_FOUND, as Erase answers.
    with pytest.raises(PrivacyClientError) as unknown:
        await client.verify_audit_log("nosuch")
    assert unknown.value.code == grpc.StatusCode.NOT_FOUND
    assert unknown.value.message == "no tenant with tenant_id 'nosuch'"


async def _cut_tail(db: asyncpg.Connection, tenant: str, keep: int) -> None:
    """A superuser with the guard off deletes the entries after `keep` and rewinds the
    head to entry `keep`: the chain left is whole by itself."""
    async with db.transaction():
        await db.execute("SET LOCAL session_replication_role = replica")
        await db.execute(
            "DELETE FROM privacy_audit_log WHERE tenant_id = $1 AND seq > $2", tenant, keep
        )
        await db.execute(
            "UPDATE privacy_audit_heads h SET seq = l.seq, hash = l.hash "
            "FROM privacy_audit_log l "
            "WHERE h.tenant_id = $1 AND l.tenant_id = $1 AND l.seq = $2",
            tenant,
            keep,
        )


@pytest.fixture
async def checkpointing(settings: Settings) -> AsyncIterator[App]:
    """A server that signs the chains' heads on its own, often."""
    every = replace(settings, audit_checkpoint_interval=timedelta(milliseconds=100))
    async with App(every) as app:
        yield app


async def _signed_head(app: App, tenant: str, seq: int) -> None:
    """Wait until the server has signed the tenant's head at `seq`."""
    path = app.settings.audit_checkpoint_file

    async def signed() -> bool:
        lines = path.read_text().splitlines() if path.exists() else []
        return any((c["tenant_id"], c["seq"]) == (tenant, seq) for c in map(json.loads, lines))

    await eventually(signed, what=f"a checkpoint of {tenant} at entry {seq}")


async def test_the_rpc_names_a_cut_tail_the_servers_checkpoints_vouch_for(
    db: asyncpg.Connection, checkpointing: App
) -> None:
    await factories.tenant(db, "acme")
    person = await factories.contact(db, "acme", "Ann", "Lee", messages=2)
    async with PrivacyClient(
        f"127.0.0.1:{checkpointing.port}", token=checkpointing.dev_token
    ) as client:
        job = await client.erase("acme", subject(contact_id=person.id), note="ticket 1")
        await client.wait_job(job.id)
        head = await db.fetchval("SELECT seq FROM privacy_audit_heads WHERE tenant_id = 'acme'")
        assert head >= 3
        await _signed_head(checkpointing, "acme", head)
        intact = await client.verify_audit_log("acme")
        assert intact.ok
        assert intact.checkpoint_seq == head

        await _cut_tail(db, "acme", keep=head - 2)
        # The server signs the rewound head too: the older checkpoint still tells.
        await _signed_head(checkpointing, "acme", head - 2)
        cut = await client.verify_audit_log("acme")
    assert not cut.ok
    assert (cut.missing_from, cut.missing_to) == (head - 1, head)
    assert cut.first_bad_seq == head - 1
    assert f"seqs {head - 1}..{head} are missing" in cut.problem
    assert cut.rejected_checkpoints == 0


async def test_privacyctl_signs_heads_verifies_against_them_and_shows_the_public_key(
    db: asyncpg.Connection, db_url: str, blob_dir: Path, tmp_path: Path
) -> None:
    await factories.tenant(db, "acme")
    for i in range(5):
        await audit.append(
            db, AuditEntry(tenant_id="acme", actor="t", action="x", details={"i": i})
        )
    env = processes.env(db_url, blob_dir)
    data = Path(env["PRIVACY_DATA_DIR"])

    code, out = await processes.run(["audit", "checkpoint", "--tenant", "acme"], env)
    assert code == 0, out
    assert "checkpoint of 'acme': entry 5" in out
    key = data / "audit-signing.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    lines = (data / "audit-checkpoints.jsonl").read_text().splitlines()
    assert [(c["tenant_id"], c["seq"]) for c in map(json.loads, lines)] == [("acme", 5)]

    code, out = await processes.run(["audit", "public-key"], env)
    assert code == 0, out
    assert (data / "audit-signing.key.pub").read_text() in out
    assert "PRIVATE" not in out

    code, out = await processes.run(["audit", "verify", "--tenant", "acme"], env)
    assert code == 0, out
    assert "intact, 5 entries, up to entry 5 vouched for by a signed checkpoint" in out

    await _cut_tail(db, "acme", keep=3)
    code, out = await processes.run(["audit", "verify", "--tenant", "acme"], env)
    assert code == 1, out
    assert "BROKEN at entry 4: seqs 4..5 are missing" in out

    # An auditor checks the copy shipped off the box with the public key alone; a
    # key that is not the service's verifies nothing.
    shipped = tmp_path / "shipped.jsonl"
    shipped.write_text((data / "audit-checkpoints.jsonl").read_text())
    stranger = tmp_path / "stranger.pub"
    stranger.write_text(checkpoints.public_key_pem(Ed25519PrivateKey.generate().public_key()))
    args = ["audit", "verify", "--tenant", "acme", "--checkpoints", str(shipped)]
    code, out = await processes.run([*args, "--public-key", str(stranger)], env)
    assert code == 1, out
    assert "line 1 of the checkpoint file (seq 5): signed by another key" in out

    code, out = await processes.run(["audit", "checkpoint", "--tenant", "nobody"], env)
    assert code == 1
    assert "tenant 'nobody' has no audit log entries to checkpoint" in out
