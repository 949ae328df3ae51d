"""The mention index off the write path (migration 0017): a write only queues its
row; the tokens are computed later, by the workers or by the next lookup, which
never misses a row written before it. A changed text keeps its old tokens only until
it is indexed again or a job of its tenant ends (migration 0019), a deleted row loses
its tokens with it, and a row another transaction is indexing is looked at as it is."""

from __future__ import annotations

import asyncpg

from anonymizers.text import tokens
from anonymizers.text.identity import Identifiers, Name
from anonymizers.text.redaction import Redactor
from server import tenant_keys, text_indexer
from server.job_model import JobState
from server.keyring import Keyring
from server.subjects import SubjectKind
from tests import factories
from tests.helpers.workers import JobRunner

KEY = b"k" * 32  # a tenant's key: the index's lexemes are keyed with it
JANE = Identifiers(names=(Name("Jane", "Doe"),), emails=("jane.doe@example.com",))


async def _note(db: asyncpg.Connection, tenant: str, body: str) -> int:
    note_id: int = await db.fetchval(
        "INSERT INTO notes (tenant_id, body) VALUES ($1, $2) RETURNING id", tenant, body
    )
    return note_id


async def _hits(db: asyncpg.Connection, tenant: str = "acme", who: Identifiers = JANE) -> list[int]:
    async with db.transaction():
        await db.execute("SELECT privacy_enter_tenant($1)", tenant)
        rows = await db.fetch(
            "SELECT privacy_mention_hits('notes', $1, 0, $2::tsquery[], $3) AS id ORDER BY 1",
            tenant,
            tokens.keyed(KEY, Redactor(who).sql_tsqueries() or []),
            KEY,
        )
    return [r["id"] for r in rows]


async def _queued(db: asyncpg.Connection) -> list[tuple[str, int]]:
    rows = await db.fetch("SELECT source, row_id FROM privacy_texts_to_index ORDER BY 1, 2")
    return [(r["source"], r["row_id"]) for r in rows]


async def _tokens(db: asyncpg.Connection, note_id: int) -> str | None:
    tokens: str | None = await db.fetchval(
        "SELECT tokens::text FROM privacy_text_tokens "
        "WHERE tenant_id = 'acme' AND source = 'notes' AND row_id = $1",
        note_id,
    )
    return tokens


async def test_a_write_queues_its_row_and_the_next_lookup_finds_it(db: asyncpg.Connection) -> None:
    await factories.tenant(db)
    met = await _note(db, "acme", "met Jane Doe at the fair")
    other = await _note(db, "acme", "nothing to see")
    assert await _queued(db) == [("notes", met), ("notes", other)]
    assert await _tokens(db, met) is None  # nothing computed on the write path
    assert await _hits(db) == [met]
    assert await _queued(db) == []  # the lookup indexed what was queued
    # Keyed: the table holds no word of the text, only what the key makes of it.
    held = await _tokens(db, met) or ""
    assert "'jane'" not in held
    assert f"'{tokens.keyed_lexeme(KEY, 'jane')}'" in held


async def test_a_changed_text_is_a_candidate_until_indexed_and_its_old_tokens_can_go(
    db: asyncpg.Connection,
) -> None:
    await factories.tenant(db)
    met = await _note(db, "acme", "met Jane Doe at the fair")
    assert await _hits(db) == [met]
    jane = tokens.keyed_lexeme(KEY, "jane")
    await db.execute("UPDATE notes SET body = 'met someone' WHERE id = $1", met)
    # The write only queued the row: its old tokens are stale, not gone.
    assert await _queued(db) == [("notes", met)]
    assert jane in (await _tokens(db, met) or "")
    assert await db.fetchval("SELECT privacy_forget_stale_tokens('acme')") == 1
    assert await _tokens(db, met) is None
    assert await _queued(db) == [("notes", met)]  # still to be indexed
    assert await _hits(db) == []
    fresh = await _tokens(db, met) or ""
    assert fresh
    assert jane not in fresh


async def test_stale_tokens_an_indexer_is_replacing_are_left_to_it(
    db: asyncpg.Connection, other_db: asyncpg.Connection
) -> None:
    await factories.tenant(db)
    met = await _note(db, "acme", "met Jane Doe at the fair")
    other = await _note(db, "acme", "Jane Doe again")
    assert await _hits(db) == [met, other]
    await db.execute("UPDATE notes SET body = 'met someone' WHERE id IN ($1, $2)", met, other)
    async with other_db.transaction():
        # The indexer claims one queued row, not yet committed: the forget neither
        # waits for it nor deletes the tokens it is writing.
        assert (
            await other_db.fetchval("SELECT privacy_index_texts('acme', 'notes', 1, $1)", KEY) == 1
        )
        assert await db.fetchval("SELECT privacy_forget_stale_tokens('acme')") == 1
    assert await _queued(db) == [("notes", other)]
    assert await _tokens(db, other) is None
    indexed = await _tokens(db, met) or ""
    assert indexed
    assert tokens.keyed_lexeme(KEY, "jane") not in indexed


async def test_an_erasures_end_leaves_no_token_of_a_text_it_changed(
    db: asyncpg.Connection, worker: JobRunner
) -> None:
    tenant = await factories.tenant(db)
    jane = await factories.contact(db, tenant, "Jane", "Doe")
    mention = await _note(db, tenant, "called Jane Doe about the renewal")
    bystander = await _note(db, tenant, "Jane Doe said hello")
    await text_indexer.index_queued(db, worker.keyring)
    # The CRM rewrote one of them meanwhile: queued, its tokens still name her.
    await db.execute("UPDATE notes SET body = 'said hello' WHERE id = $1", bystander)
    job = await worker.erase(tenant, SubjectKind.EMAIL, jane.email)
    [done] = await worker.run(job.id)
    assert done.state == JobState.SUCCEEDED
    key = await tenant_keys.tenant_key(db, tenant, worker.keyring)
    names = {tokens.keyed_lexeme(key, w) for w in ("jane", "doe")}
    held = await db.fetch(
        "SELECT row_id, tokens::text AS t FROM privacy_text_tokens WHERE tenant_id = $1", tenant
    )
    assert not [r["row_id"] for r in held if any(n in r["t"] for n in names)]
    assert "Jane" not in await db.fetchval("SELECT body FROM notes WHERE id = $1", mention)


async def test_a_row_changed_while_an_indexer_runs_is_indexed_from_its_new_text(
    db: asyncpg.Connection, other_db: asyncpg.Connection
) -> None:
    await factories.tenant(db)
    met = await _note(db, "acme", "met Jane Doe at the fair")  # queued, not indexed
    async with other_db.transaction():
        await other_db.execute("UPDATE notes SET body = 'met John Smith' WHERE id = $1", met)
        # The row's entry is the writer's until it commits: an indexer running
        # now would index the text as it was, and the row would leave the queue.
        assert await db.fetchval("SELECT privacy_index_texts('acme', NULL, 100, $1)", KEY) == 0
    assert await _queued(db) == [("notes", met)]
    assert await _hits(db, who=Identifiers(names=(Name("John", "Smith"),))) == [met]
    assert await _hits(db) == []


async def test_an_update_of_other_columns_queues_nothing(db: asyncpg.Connection) -> None:
    await factories.tenant(db)
    met = await _note(db, "acme", "met Jane Doe at the fair")
    assert await _hits(db) == [met]
    await db.execute(
        "UPDATE notes SET created_at = created_at - interval '1 day' WHERE id = $1", met
    )
    await db.execute("UPDATE notes SET body = body WHERE id = $1", met)  # the same text
    assert await _queued(db) == []
    assert await _tokens(db, met) is not None


async def test_a_deleted_rows_tokens_go_with_it(db: asyncpg.Connection) -> None:
    await factories.tenant(db)
    await factories.tenant(db, "globex")
    met = await _note(db, "acme", "met Jane Doe at the fair")
    theirs = await _note(db, "globex", "Jane Doe called")
    assert await _hits(db) == [met]
    assert await _hits(db, "globex") == [theirs]
    await db.execute("DELETE FROM notes WHERE tenant_id = 'acme'")
    assert (
        await db.fetchval("SELECT count(*) FROM privacy_text_tokens WHERE tenant_id = 'acme'") == 0
    )
    assert (
        await db.fetchval("SELECT count(*) FROM privacy_text_tokens WHERE tenant_id = 'globex'")
        == 1
    )


async def test_a_row_another_transaction_is_indexing_is_a_candidate(
    db: asyncpg.Connection, other_db: asyncpg.Connection
) -> None:
    await factories.tenant(db)
    met = await _note(db, "acme", "met Jane Doe at the fair")
    other = await _note(db, "acme", "nothing to see")
    async with other_db.transaction():
        # Claimed, not committed: the lookup neither waits nor misses them.
        assert (
            await other_db.fetchval("SELECT privacy_index_texts('acme', NULL, 100, $1)", KEY) == 2
        )
        assert await _hits(db) == [met, other]
    assert await _hits(db) == [met]


async def test_the_workers_index_every_tenants_queue(
    db: asyncpg.Connection, keyring: Keyring
) -> None:
    await factories.tenant(db)
    await factories.tenant(db, "globex")
    for i in range(5):
        await _note(db, "acme", f"note {i} about Jane Doe")
        await _note(db, "globex", f"note {i}")
    assert await text_indexer.index_queued(db, keyring, chunk=3) == 10
    assert await _queued(db) == []
    assert await db.fetchval("SELECT count(*) FROM privacy_text_tokens") == 10
