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
