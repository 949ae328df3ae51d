"""A worker's failures, described without their messages (driver messages can quote
row values), and which of them are worth waiting out."""

from __future__ import annotations

import logging

import asyncpg

from anonymizers.steps import UnknownPart
from db.connection import Connection
from server.blobs import BlobKeyRefused, BlobLocked
from server.queries import Q

# The worker's log lines keep the logger they always had, wherever the code lives.
log = logging.getLogger("server.worker")

# The database cannot be reached (or the connection broke, or it is restarting):
# worth waiting out.
UNREACHABLE = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
)


def safe_error(exc: BaseException) -> str:
    """Describe a failure without its message: driver messages can quote row values."""
    sqlstate = getattr(exc, "sqlstate", None)
    return f"{type(exc).__name__}" + (f" (SQLSTATE {sqlstate})" if sqlstate else "")


async def failure_text(conn: Connection, exc: BaseException) -> str:
    """A failure as the job's error: a blob key the store refused names the row that
    holds it (a file by id; the batch rolled back, so the row is there again), never
    the key, which may hold anything; a part its anonymizer no longer has by its
    names (code's names, nothing of a row); other failures as safe_error."""
    if isinstance(exc, UnknownPart):
        return str(exc)
    if isinstance(exc, BlobLocked):  # kept by the store: the job does not pretend
        return f"a blob in the outbox: {exc}"
    if not isinstance(exc, BlobKeyRefused):
        return safe_error(exc)
    try:
        async with conn.transaction():  # a savepoint: the failure is recorded all the same
            owner = await conn.fetchval(Q["blob_key_owner"], exc.tenant_id, exc.key)
    except Exception as lookup:
        log.warning("blob key owner not found", extra={"error": safe_error(lookup)})
        owner = None
    return f"{owner or 'a blob in the outbox'}: blob key {exc.why}"
