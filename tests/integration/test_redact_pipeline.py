"""redact_batch writes a batch a part at a time while it redacts the next part: the
rows come out as one statement would have written them, and a write that fails
leaves nothing behind."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
import pytest

from anonymizers.base import Batch, Scope, Tools
from anonymizers.text import mentions
from anonymizers.text.fakes import Fakes
from anonymizers.text.identity import Identifiers, Name
from anonymizers.text.mentions import TextColumns, redact_batch
from tests import factories

_NOTES = TextColumns("notes", text=("body",), owner="contact_id", indexed=True)
_JANE = Identifiers(names=(Name("Jane", "Doe"),), emails=("jane.doe@example.com",))


async def _no_blobs(keys: Sequence[str]) -> list[bytes | None]:
    raise AssertionError("no blobs here")


def _tools() -> Tools:
    return Tools.for_job(
        anonymize=True,
        identifiers=_JANE,
        whole_tenant=False,
        fakes=Fakes(b"k" * 32),
        read_blobs=_no_blobs,
    )


async def _notes(db: asyncpg.Connection) -> str:
    tenant = await factories.tenant(db)
    for i in range(40):
        body = f"note {i}: met Jane Doe" if i % 3 else f"note {i}: nobody"
        await db.execute("INSERT INTO notes (tenant_id, body) VALUES ($1, $2)", tenant, body)
    return tenant


async def _redact_all(db: asyncpg.Connection, tenant: str) -> tuple[int, list[str]]:
    async with db.transaction():
        await db.execute("SELECT privacy_enter_tenant($1)", tenant)
        batch = Batch(Scope(tenant, contact_ids=(999,)), "others_notes", 0, 100)
        result = await redact_batch(db, _NOTES, batch, _tools(), rows="others")
        bodies = [r["body"] for r in await db.fetch("SELECT body FROM notes ORDER BY id")]
        raise _Rollback(result.processed, bodies)


class _Rollback(Exception):
    def __init__(self, processed: int, bodies: list[str]) -> None:
        super().__init__("roll back")
        self.outcome = (processed, bodies)


async def _outcome(db: asyncpg.Connection, tenant: str) -> tuple[int, list[str]]:
    with pytest.raises(_Rollback) as done:
        await _redact_all(db, tenant)
    return done.value.outcome


async def _redact_others_in_a_transaction(
    db: asyncpg.Connection, tenant: str, batch: Batch
) -> None:
    async with db.transaction():
        await db.execute("SELECT privacy_enter_tenant($1)", tenant)
        await redact_batch(db, _NOTES, batch, _tools(), rows="others")


async def test_parts_written_while_the_next_is_redacted_come_out_as_one_write(
    db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = await _notes(db)
    whole = await _outcome(db, tenant)  # 40 rows: one part
    monkeypatch.setattr(mentions, "PIPELINE_ROWS", 3)  # 14 parts, 13 written behind
    parts = await _outcome(db, tenant)
    assert parts == whole
    assert whole[0] == 26
    assert sum("Jane Doe" in b for b in whole[1]) == 0
    assert sum("met " in b for b in whole[1]) == 26


async def test_a_part_that_fails_to_write_fails_the_batch_and_changes_nothing(
    db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = await _notes(db)
    before = [r["body"] for r in await db.fetch("SELECT body FROM notes ORDER BY id")]
    # The database refuses the part holding note 20, after earlier parts were written.
    await db.execute(
        """
        CREATE FUNCTION refuse_note_20() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.body LIKE 'note 20:%' THEN RAISE EXCEPTION 'refused'; END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER refuse_note_20 BEFORE UPDATE ON notes
            FOR EACH ROW EXECUTE FUNCTION refuse_note_20();
        """
    )
    monkeypatch.setattr(mentions, "PIPELINE_ROWS", 3)
    batch = Batch(Scope(tenant, contact_ids=(999,)), "others_notes", 0, 100)
    with pytest.raises(asyncpg.RaiseError):
        await _redact_others_in_a_transaction(db, tenant, batch)
    # The connection is usable and the transaction left nothing behind.
    assert [r["body"] for r in await db.fetch("SELECT body FROM notes ORDER BY id")] == before
