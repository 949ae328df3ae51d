"""Signed checkpoints: a tail cut from a tenant's audit chain, its head rewound to
match, passes the chain check alone; against a checkpoint it does not."""

from __future__ import annotations

import asyncio
import json
import logging
import stat
from dataclasses import replace
from pathlib import Path

import asyncpg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from server import audit, checkpoints
from server.audit import AuditEntry
from server.checkpoints import Checkpoint, CheckpointLog, Signer


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    return tmp_path / "keys" / "audit-signing.key"


@pytest.fixture
def log_file(tmp_path: Path) -> CheckpointLog:
    return CheckpointLog(tmp_path / "audit-checkpoints.jsonl")


async def _append(db: asyncpg.Connection, n: int, tenant: str = "acme") -> None:
    for i in range(n):
        await audit.append(
            db, AuditEntry(tenant_id=tenant, actor="test", action="x", details={"i": i})
        )


async def _cut_after(db: asyncpg.Connection, seq: int, tenant: str = "acme") -> None:
    """What an attacker with superuser rights does: triggers off, the entries after
    `seq` deleted, the head rewound to entry `seq` so the chain is whole again."""
    async with db.transaction():
        await db.execute("SET LOCAL session_replication_role = replica")
        await db.execute(
            "DELETE FROM privacy_audit_log WHERE tenant_id = $1 AND seq > $2", tenant, seq
        )
        if seq == 0:
            await db.execute("DELETE FROM privacy_audit_heads WHERE tenant_id = $1", tenant)
            return
        await db.execute(
            "UPDATE privacy_audit_heads h SET seq = l.seq, hash = l.hash "
            "FROM privacy_audit_log l "
            "WHERE h.tenant_id = $1 AND l.tenant_id = $1 AND l.seq = $2",
            tenant,
            seq,
        )


def _append_lines(path: Path, lines: list[str]) -> None:
    with path.open("a") as f:
        f.writelines(line + "\n" for line in lines)


async def test_a_cut_tail_with_its_head_rewound_is_named_against_the_checkpoint(
    db: asyncpg.Connection, key_file: Path, log_file: CheckpointLog
) -> None:
    await _append(db, 5)
    await _append(db, 2, tenant="other")
    taken = await checkpoints.take(db, checkpoints.load_signer(key_file), log_file)
    assert taken is not None
    assert sorted((c.tenant_id, c.seq) for c in taken) == [("acme", 5), ("other", 2)]

    await _cut_after(db, 3)

    # The defect: the shorter chain is a valid chain, so the chain alone says intact.
    alone = await audit.verify(db, "acme")
    assert alone.intact
    assert alone.entries == 3

    verdict = await checkpoints.verify(db, "acme", log_file, key_file)
    assert not verdict.intact
    assert verdict.first_bad_seq == 4
    assert verdict.missing == (4, 5)
    assert "seqs 4..5 are missing" in verdict.problem
    assert "the chain ends at entry 3" in verdict.problem
    # The other tenant's chain was not touched, and its checkpoint says so.
    other = await checkpoints.verify(db, "other", log_file, key_file)
    assert other.intact
    assert other.checkpoint_seq == 2
    assert other.missing is None


async def test_a_chain_removed_whole_is_named_too(
    db: asyncpg.Connection, key_file: Path, log_file: CheckpointLog
) -> None:
    await _append(db, 4)
    await checkpoints.take(db, checkpoints.load_signer(key_file), log_file, tenant_id="acme")
    await _cut_after(db, 0)
    verdict = await checkpoints.verify(db, "acme", log_file, key_file)
    assert not verdict.intact
    assert verdict.missing == (1, 4)
    assert "the chain has no entries" in verdict.problem


async def test_a_cut_tail_grown_again_is_caught_by_the_older_checkpoint(
    db: asyncpg.Connection, key_file: Path, log_file: CheckpointLog
) -> None:
    signer = checkpoints.load_signer(key_file)
    await _append(db, 3)
    await checkpoints.take(db, signer, log_file)
    await _append(db, 2)
    await checkpoints.take(db, signer, log_file)
    await _cut_after(db, 3)
    await _append(db, 3)  # new entries 4..6: the chain is longer than ever
    await checkpoints.take(db, signer, log_file)  # and its new head is signed too

    assert (await audit.verify(db, "acme")).intact
    verdict = await checkpoints.verify(db, "acme", log_file, key_file)
    assert not verdict.intact
    assert verdict.first_bad_seq == 4
    assert verdict.missing == (4, 5)  # after 3, the last entry a checkpoint confirms
    assert "seqs 4..5 were removed or replaced" in verdict.problem
    assert "entry 5 is not the one" in verdict.problem


async def test_an_untouched_chain_holds_its_checkpoints(
    db: asyncpg.Connection, key_file: Path, log_file: CheckpointLog
) -> None:
    signer = checkpoints.load_signer(key_file)
    await _append(db, 2)
    await checkpoints.take(db, signer, log_file)
    await _append(db, 3)  # entries after the checkpoint are fine
    verdict = await checkpoints.verify(db, "acme", log_file, key_file)
    assert verdict.intact
    assert verdict.entries == 5
    assert verdict.checkpoint_seq == 2


@pytest.mark.parametrize(
    ("tamper", "first_bad"),
    [
        (None, None),
        ("DELETE FROM privacy_audit_log WHERE seq = 2", 2),
        ("UPDATE privacy_audit_log SET actor = 'mallory' WHERE seq = 3", 3),
    ],
)
async def test_without_checkpoints_verify_is_the_chain_check_as_before(
    db: asyncpg.Connection,
    key_file: Path,
    log_file: CheckpointLog,
    tamper: str | None,
    first_bad: int | None,
) -> None:
    await _append(db, 5)
    if tamper:
        async with db.transaction():
            await db.execute("SET LOCAL session_replication_role = replica")
            await db.execute(tamper)
    verdict = await checkpoints.verify(db, "acme", log_file, key_file)
    assert verdict == await audit.verify(db, "acme")
    assert verdict.first_bad_seq == first_bad
    assert verdict.checkpoint_seq == 0
    assert not await asyncio.to_thread(key_file.exists)  # verifying makes no key


async def test_a_forged_or_foreign_checkpoint_is_reported_and_proves_nothing(
    db: asyncpg.Connection, key_file: Path, log_file: CheckpointLog
) -> None:
    await _append(db, 3)
    taken = await checkpoints.take(db, checkpoints.load_signer(key_file), log_file)
    assert taken is not None
    # Someone with the file but not the key claims the chain was longer.
    forged = {**taken[0].as_dict(), "seq": 9}
    # Another key's signature is a valid signature, but not the service's.
    stranger = Signer(Ed25519PrivateKey.generate()).sign("acme", 7, "0" * 64, taken[0].at)
    lines = [json.dumps(forged), json.dumps(stranger.as_dict()), "{not json"]
    await asyncio.to_thread(_append_lines, log_file.path, lines)

    verdict = await checkpoints.verify(db, "acme", log_file, key_file)
    assert not verdict.intact
    assert verdict.rejected_checkpoints == 3
    assert verdict.first_bad_seq is None
    assert verdict.missing is None  # the chain holds
    assert verdict.checkpoint_seq == 3  # the genuine checkpoint still counts
    assert "line 2 of the checkpoint file (seq 9): its signature does not verify" in (
        verdict.problem
    )
    assert "line 3 of the checkpoint file (seq 7): signed by another key" in verdict.problem
    assert "line 4 of the checkpoint file: not a checkpoint" in verdict.problem


def test_the_signing_key_is_made_once_private_with_its_public_key_beside(
    key_file: Path,
) -> None:
    signer = checkpoints.load_signer(key_file)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    pub = checkpoints.public_key_file(key_file)
    assert pub.read_text() == checkpoints.public_key_pem(signer.public_key)
    assert checkpoints.load_signer(key_file).key_id == signer.key_id  # the same key again
    # An auditor with only the public key checks the signatures the same.
    public = checkpoints.load_public_key(key_file.with_name("absent"), pub)
    assert public is not None
    assert checkpoints.key_id(public) == signer.key_id


async def test_one_process_takes_checkpoints_at_a_time(
    db: asyncpg.Connection, other_db: asyncpg.Connection, key_file: Path, log_file: CheckpointLog
) -> None:
    signer = checkpoints.load_signer(key_file)
    await _append(db, 2)
    await other_db.execute("SELECT pg_advisory_lock($1)", checkpoints.LOCK_KEY)
    assert await checkpoints.take(db, signer, log_file, wait=False) is None
    assert not log_file.path.exists()
    await other_db.execute("SELECT pg_advisory_unlock($1)", checkpoints.LOCK_KEY)
    taken = await checkpoints.take(db, signer, log_file, wait=False)
    assert taken is not None
    assert [c.seq for c in taken] == [2]
    # Heads that have not moved since are skipped by the periodic runner.
    skip = {c.tenant_id: (c.seq, c.hash) for c in taken}
    assert await checkpoints.take(db, signer, log_file, skip=skip, wait=False) == []


async def test_each_checkpoint_is_a_line_of_the_file_and_a_log_line(
    db: asyncpg.Connection,
    key_file: Path,
    log_file: CheckpointLog,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await _append(db, 2)
    await _append(db, 1, tenant="other")
    with caplog.at_level(logging.INFO, logger="server.checkpoints"):
        await checkpoints.take(db, checkpoints.load_signer(key_file), log_file)
    in_file = [json.loads(line) for line in log_file.path.read_text().splitlines()]
    logged = [vars(r)["checkpoint"] for r in caplog.records if r.getMessage() == "audit checkpoint"]
    assert logged == in_file
    assert [(c["tenant_id"], c["seq"]) for c in in_file] == [("acme", 2), ("other", 1)]
    # What an auditor checks, by hand: the signature over the canonical fields.
    public = checkpoints.load_public_key(key_file)
    assert public is not None
    first = Checkpoint.from_line(json.dumps(in_file[0]))
    assert first.verifies(public)
    assert not replace(first, hash="0" * 64).verifies(public)
