"""A seeded tenant's twin, by copy: the bench's pairs (the service's tenant and the
raw-SQL one beside it) hold the same data, and seeding each again from the same
seed took the seeder's time again (about 2 minutes a full-size tenant). The copy
is SQL: every row of the tenant's tables under the twin's id (the same row ids:
the primary keys are (tenant_id, id)), and the blob files under the twin's keys."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import asyncpg

from bench.measure import TABLES, tenant_rows
from server.blobs import BlobStore

# Columns that hold a blob key ("<tenant>/<name>"): the twin's point at its own copy.
_BLOB_KEYS = {("users", "profile_picture"), ("files", "blob_key")}


async def copy_tenant(conn: asyncpg.Connection, blobs: BlobStore, source: str, twin: str) -> int:
    """Make `twin` a copy of tenant `source`, in one transaction; return its rows.

    Raises RuntimeError if the copy does not hold as many rows as the source (a
    table the seeder fills and TABLES does not name)."""
    keys: list[tuple[str, str]] = []
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO tenants (tenant_id, name) SELECT $2, name FROM tenants "
            "WHERE tenant_id = $1",
            source,
            twin,
        )
        for table in reversed(TABLES):  # parents first
            columns = [
                r["column_name"]
                for r in await conn.fetch(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_schema = 'public' AND table_name = $1 "
                    "AND column_name <> 'tenant_id' ORDER BY ordinal_position",
                    table,
                )
            ]
            values = [
                f"$2 || '/' || split_part({_q(c)}, '/', 2)" if (table, c) in _BLOB_KEYS else _q(c)
                for c in columns
            ]
            await conn.execute(
                f"INSERT INTO {table} (tenant_id, {', '.join(map(_q, columns))}) "
                "OVERRIDING SYSTEM VALUE "
                f"SELECT $2, {', '.join(values)} FROM {table} WHERE tenant_id = $1",
                source,
                twin,
            )
            for table_, column in _BLOB_KEYS:
                if table_ == table:
                    keys += [
                        (r["key"], f"{twin}/{r['key'].split('/', 1)[1]}")
                        for r in await conn.fetch(
                            f"SELECT {column} AS key FROM {table} "
                            f"WHERE tenant_id = $1 AND {column} IS NOT NULL",
                            source,
                        )
                    ]
        await asyncio.get_running_loop().run_in_executor(
            None, _copy_blobs, blobs, source, twin, keys
        )
        rows, expected = await tenant_rows(conn, twin), await tenant_rows(conn, source)
        if rows != expected:
            raise RuntimeError(f"tenant {twin}: {rows} rows copied of {source}'s {expected}")
    return rows


def _q(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _copy_blobs(blobs: BlobStore, source: str, twin: str, keys: list[tuple[str, str]]) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda k: blobs.put(twin, k[1], blobs.get(source, k[0])), keys))
