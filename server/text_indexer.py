"""The mention index's queue, kept short: the CRM's writes only queue their rows
(migration 0017), and the workers compute their tokens here, a chunk at a time, so
a subject's lookup seldom has more than a few rows to index itself (it indexes
what is left before it looks: privacy_mention_hits)."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import asyncpg

from db.connection import Connection
from server.events import repeat
from server.keyring import Keyring
from server.queries import Q
from server.tenant_keys import tenant_key

log = logging.getLogger(__name__)

# How often a process with workers looks at the queue, and how many rows one
# transaction indexes (a few hundred milliseconds of work).
EVERY = timedelta(seconds=1)
CHUNK = 2000


async def index_queued(conn: Connection, keyring: Keyring, chunk: int = CHUNK) -> int:
    """Index every queued row, a chunk per transaction; return how many."""
    done = 0
    for row in await conn.fetch(Q["tenants_with_queued_texts"]):
        tenant = row["tenant_id"]
        key = await tenant_key(conn, tenant, keyring)
        while True:
            async with conn.transaction():
                n = int(await conn.fetchval(Q["index_texts"], tenant, chunk, key))
            done += n
            if n < chunk:
                break
    return done


async def run_forever(pool: asyncpg.Pool, keyring: Keyring, stop: asyncio.Event) -> None:
    """index_queued every EVERY until stop is set; a failed run is tried next time."""

    async def once() -> None:
        async with pool.acquire() as conn:
            indexed = await index_queued(conn, keyring)
        if indexed:
            log.debug("texts indexed", extra={"rows": indexed})

    await repeat(once, every=EVERY, stop=stop, what="text indexing", logger=log)
