"""privacy_subject_files (migration 0007) finds exactly the files the plain OR finds."""

from __future__ import annotations

import asyncpg

from server.tenancy import enter_tenant
from tests import factories

# The condition as it was written before the function: one OR, no index usable.
_PLAIN = """
SELECT coalesce(array_agg(f.id ORDER BY f.id), '{}') FROM files f
WHERE f.tenant_id = $1
  AND (f.contact_id = ANY($2)
       OR f.message_id IN (SELECT id FROM messages WHERE tenant_id = $1 AND contact_id = ANY($2))
       OR (f.user_id = ANY($3) AND f.contact_id IS NULL AND f.message_id IS NULL))
"""
_BY_FUNCTION = """
SELECT coalesce(array_agg(DISTINCT id ORDER BY id), '{}')
FROM privacy_subject_files($1, $2, $3) AS id
"""


async def _file(db: asyncpg.Connection, tenant: str, n: int, **links: int | None) -> int:
    columns = ", ".join(links)
    values = ", ".join(f"${i + 4}" for i in range(len(links)))
    fid: int = await db.fetchval(
        f"INSERT INTO files (tenant_id, name, content_type, size_bytes, sha256, blob_key"
        f"{', ' + columns if links else ''}) VALUES ($1, $2, 'text/plain', 1, 'x', $3"
        f"{', ' + values if links else ''}) RETURNING id",
        tenant,
        f"file{n}.txt",
        f"{tenant}/key{n}",
        *links.values(),
    )
    return fid


async def test_every_way_a_file_is_a_subjects_and_nothing_else(db: asyncpg.Connection) -> None:
    tenant = await factories.tenant(db)
    await factories.tenant(db, "globex")
    jane = await factories.contact(db, tenant, "Jane", "Doe", messages=2)
    john = await factories.contact(db, tenant, "John", "Roe", messages=2)
    staff = await db.fetchval(
        "INSERT INTO users (tenant_id, name, email) VALUES ($1, 'Sam', 'sam@acme.test') "
        "RETURNING id",
        tenant,
    )
    first_message = "SELECT min(id) FROM messages WHERE tenant_id = $1 AND contact_id = $2"
    jane_message = await db.fetchval(first_message, tenant, jane.id)
    john_message = await db.fetchval(first_message, tenant, john.id)
    await _file(db, tenant, 1, contact_id=jane.id)
    await _file(db, tenant, 2, message_id=jane_message)
    await _file(db, tenant, 3, contact_id=john.id, message_id=john_message)
    await _file(db, tenant, 4, user_id=staff)  # Sam's own upload
    await _file(db, tenant, 5, user_id=staff, contact_id=john.id)  # Sam's, about John
    await _file(db, tenant, 6, user_id=staff, message_id=jane_message)  # on Jane's message
    await _file(db, tenant, 7)
    await _file(db, "globex", 8)
    subjects = [([jane.id], []), ([john.id], []), ([], [staff]), ([jane.id], [staff]), ([], [])]
    async with db.transaction():
        await enter_tenant(db, tenant)
        for contacts, users in subjects:
            plain = await db.fetchval(_PLAIN, tenant, contacts, users)
            by_function = await db.fetchval(_BY_FUNCTION, tenant, contacts, users)
            assert by_function == plain, (contacts, users)
        assert len(await db.fetchval(_BY_FUNCTION, tenant, [jane.id], [staff])) == 4
