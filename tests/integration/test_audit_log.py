"""The audit log is append-only in the database itself, and chained per tenant."""

from __future__ import annotations

import hashlib

import asyncpg
import pytest

from server import audit
from server.audit import AuditEntry


async def _two_entries(db: asyncpg.Connection) -> None:
    for action in ("erase.requested", "job.succeeded"):
        await audit.append(db, AuditEntry(tenant_id="acme", actor="test", action=action))


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE privacy_audit_log SET actor = 'someone else'",
        "DELETE FROM privacy_audit_log",
        "TRUNCATE privacy_audit_log",
    ],
)
async def test_changing_the_log_is_refused(db: asyncpg.Connection, statement: str) -> None:
    await _two_entries(db)
    before = await db.fetch("SELECT * FROM privacy_audit_log ORDER BY seq")
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await db.execute(statement)
    assert await db.fetch("SELECT * FROM privacy_audit_log ORDER BY seq") == before


async def test_entries_chain_by_hash(db: asyncpg.Connection) -> None:
    await _two_entries(db)
    await audit.append(db, AuditEntry(tenant_id="other", actor="test", action="x"))
    rows = await db.fetch(
        "SELECT *, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') AS at_text "
        "FROM privacy_audit_log ORDER BY tenant_id, seq"
    )
    acme = [r for r in rows if r["tenant_id"] == "acme"]
    assert [r["seq"] for r in acme] == [1, 2]
    assert acme[0]["prev_hash"] == ""
    assert acme[1]["prev_hash"] == acme[0]["hash"]
    for r in rows:  # recompute each hash independently of the database function
        fields = [
            r["prev_hash"],
            str(r["seq"]),
            r["at_text"],
            r["actor"],
            r["action"],
            "",
            r["subject_hash"],
            r["data_type"],
            r["details"],
        ]
        assert r["hash"] == hashlib.sha256("|".join(fields).encode()).hexdigest()
    other = [r for r in rows if r["tenant_id"] == "other"]
    assert [r["seq"] for r in other] == [1]  # each tenant has its own chain


async def _chain(db: asyncpg.Connection, n: int = 5) -> None:
    for i in range(n):
        await audit.append(
            db, AuditEntry(tenant_id="acme", actor="test", action="x", details={"i": i})
        )


async def _as_superuser_bypassing_the_guard(db: asyncpg.Connection, sql: str) -> None:
    # A database superuser can switch triggers off: the chain must still tell.
    async with db.transaction():
        await db.execute("SET LOCAL session_replication_role = replica")
        await db.execute(sql)


async def test_an_untouched_chain_verifies(db: asyncpg.Connection) -> None:
    await _chain(db)
    verdict = await audit.verify(db, "acme")
    assert verdict.intact
    assert verdict.entries == 5


@pytest.mark.parametrize(
    ("tamper", "first_bad", "says"),
    [
        ("UPDATE privacy_audit_log SET actor = 'mallory' WHERE seq = 3", 3, "changed"),
        ("UPDATE privacy_audit_log SET details = '{\"i\": 9}' WHERE seq = 2", 2, "changed"),
        ("DELETE FROM privacy_audit_log WHERE seq = 2", 2, "missing"),
        ("DELETE FROM privacy_audit_log WHERE seq = 5", 5, "removed"),
        (  # an entry slipped in: renumbered to fit, but it cannot know the chain
            "UPDATE privacy_audit_log SET seq = -(seq + 1) WHERE seq >= 4; "
            "UPDATE privacy_audit_log SET seq = -seq WHERE seq < 0; "
            "INSERT INTO privacy_audit_log (tenant_id, seq, at, actor, action, prev_hash, hash)"
            " SELECT tenant_id, 4, at, actor, action, hash, md5('x') FROM privacy_audit_log"
            " WHERE seq = 3",
            4,
            "changed",
        ),
        (  # two entries swapped
            "UPDATE privacy_audit_log SET seq = CASE seq WHEN 2 THEN -3 ELSE -2 END "
            "WHERE seq IN (2, 3); UPDATE privacy_audit_log SET seq = -seq WHERE seq < 0",
            2,
            "does not follow",
        ),
    ],
)
async def test_tampering_as_a_superuser_is_caught(
    db: asyncpg.Connection, tamper: str, first_bad: int, says: str
) -> None:
    await _chain(db)
    await _as_superuser_bypassing_the_guard(db, tamper)
    verdict = await audit.verify(db, "acme")
    assert not verdict.intact
    assert verdict.first_bad_seq == first_bad
    assert says in verdict.problem


async def test_an_entry_appended_at_commit_is_chained_by_the_commit_and_only_then(
    db: asyncpg.Connection, other_db: asyncpg.Connection
) -> None:
    async with db.transaction():
        await audit.append_at_commit(
            db, AuditEntry(tenant_id="acme", actor="a", action="erase.requested")
        )
        # Not chained yet, and the chain's head is not held: another transaction
        # of the tenant appends and commits meanwhile (under `append` alone it
        # would wait for this one's end).
        await audit.append(other_db, AuditEntry(tenant_id="acme", actor="b", action="x"))
        assert await other_db.fetchval("SELECT count(*) FROM privacy_audit_log") == 1
    rows = await db.fetch("SELECT seq, actor FROM privacy_audit_log ORDER BY seq")
    assert [(r["seq"], r["actor"]) for r in rows] == [(1, "b"), (2, "a")]
    assert (await audit.verify(db, "acme")).intact
    assert await db.fetchval("SELECT count(*) FROM privacy_audit_pending") == 0


async def test_an_entry_appended_at_commit_goes_with_a_rollback(db: asyncpg.Connection) -> None:
    tr = db.transaction()
    await tr.start()
    await audit.append_at_commit(db, AuditEntry(tenant_id="acme", actor="a", action="x"))
    await tr.rollback()
    assert await db.fetchval("SELECT count(*) FROM privacy_audit_log") == 0
    assert await db.fetchval("SELECT count(*) FROM privacy_audit_pending") == 0
