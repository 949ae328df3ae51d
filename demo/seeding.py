"""Seeding a demo tenant: `seed_tenant` plans it (demo.planner) chunk by chunk in a
worker thread, storing the blobs there, while the event loop writes the previous
chunk (demo.writer), all in one transaction.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

import asyncpg

from demo.planner import Planner
from demo.rows import Plan
from demo.writer import StoredBlobs, TenantExists, Writer, insert_tenant
from server.blobs import BlobStore
from server.errors import InvalidArgument

__all__ = ["MAX_CONTACTS", "MIN_MESSAGES_PER_CONTACT", "SeedSummary", "TenantExists", "seed_tenant"]

MAX_CONTACTS = 100_000
MIN_MESSAGES_PER_CONTACT = 5  # one per channel
# Contacts planned, stored and copied at a time; measured fastest at 10k contacts.
_CHUNK = 2500

_T = TypeVar("_T")
_TENANT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")


@dataclass(frozen=True)
class SeedSummary:
    """How many rows of each kind seed_tenant created."""

    tenant_id: str
    users: int
    contacts: int
    deals: int
    notes: int
    messages: int
    files: int
    sessions: int
    usage_events: int


async def seed_tenant(
    conn: asyncpg.Connection,
    blobs: BlobStore,
    tenant_id: str,
    *,
    contacts: int,
    seed: int = 0,
    users: int = 3,
    messages_per_contact: int = 6,
    progress: Callable[[int], None] | None = None,
) -> SeedSummary:
    """Create tenant `tenant_id` and fill it with demo data, in one transaction.

    Raises TenantExists if the tenant exists already. Blobs are written before the
    commit; if anything fails they are deleted again (best effort). `progress` is
    told how many contacts are written, after each chunk.
    """
    _validate(tenant_id, contacts=contacts, users=users, messages=messages_per_contact)
    stored = StoredBlobs(blobs, tenant_id)
    # One worker thread plans a chunk of contacts and stores its blobs while the
    # event loop copies the previous chunk: our CPU work overlaps the server's.
    # One thread, not more: the loop mostly waits on the server, so the worker
    # has the GIL to itself (more threads were slower, not faster).
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="seed")
    try:
        async with conn.transaction():
            exists = await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM tenants WHERE tenant_id = $1)", tenant_id
            )
            if exists:
                raise TenantExists()
            planner = await _run(
                worker,
                partial(
                    Planner,
                    seed,
                    contacts=contacts,
                    users=users,
                    messages_per_contact=messages_per_contact,
                ),
            )
            await insert_tenant(conn, tenant_id, planner.tenant_company)
            writer = Writer(conn, tenant_id)
            await writer.staff(await _run(worker, partial(_prepare_staff, planner, stored)))
            prepare = partial(_prepare_contacts, planner, stored)
            await _write_contacts(writer, worker, prepare, contacts, progress or _quiet)
    except BaseException:
        # Also on cancellation: the rows are rolled back, so the blobs are orphans.
        # Wait for the worker first, so the list of stored blobs is complete.
        worker.shutdown(wait=True, cancel_futures=True)
        stored.undo()
        raise
    finally:
        worker.shutdown(wait=False)
    return _summary(writer)


def _validate(tenant_id: str, *, contacts: int, users: int, messages: int) -> None:
    if not _TENANT_ID.fullmatch(tenant_id):
        # Also keeps blob keys ("<tenant>/<hex>") inside the blob directory.
        raise InvalidArgument("tenant_id", "1-63 letters, digits, '.', '_' or '-'")
    if not 0 <= contacts <= MAX_CONTACTS:
        raise InvalidArgument("contacts", f"must be between 0 and {MAX_CONTACTS}")
    if users < 1:
        raise InvalidArgument("users", "must be at least 1 (the owner)")
    if messages < MIN_MESSAGES_PER_CONTACT:
        raise InvalidArgument(
            "messages_per_contact", f"must be at least {MIN_MESSAGES_PER_CONTACT}"
        )


def _summary(writer: Writer) -> SeedSummary:
    n = writer.counts
    return SeedSummary(
        tenant_id=writer.tenant_id,
        users=n["users"],
        contacts=n["contacts"],
        deals=n["deals"],
        notes=n["notes"],
        messages=n["messages"],
        files=n["files"],
        sessions=n["sessions"],
        usage_events=n["usage_events"],
    )


def _prepare_staff(planner: Planner, stored: StoredBlobs) -> Plan:
    """The users' plan, with their pictures stored. Runs in the worker thread."""
    plan = planner.staff_plan()
    stored.store_plan(plan)
    return plan


def _prepare_contacts(planner: Planner, stored: StoredBlobs, start: int) -> Plan:
    """A chunk of contacts, with their files stored. Runs in the worker thread."""
    plan = planner.contacts_plan(start, min(start + _CHUNK, planner.n_contacts))
    stored.store_plan(plan)
    return plan


async def _run(worker: ThreadPoolExecutor, fn: Callable[[], _T]) -> _T:
    return await asyncio.wrap_future(worker.submit(fn))


def _quiet(_written: int) -> None:
    """No progress to show."""


async def _write_contacts(
    writer: Writer,
    worker: ThreadPoolExecutor,
    prepare: Callable[[int], Plan],
    total: int,
    progress: Callable[[int], None],
) -> None:
    """Copy the contacts chunk by chunk while the worker prepares the next chunk."""

    def submit(start: int) -> asyncio.Future[Plan]:
        return asyncio.wrap_future(worker.submit(prepare, start))

    pending = submit(0) if total else None
    try:
        for start in range(0, total, _CHUNK):
            assert pending is not None
            chunk = await pending
            following = start + _CHUNK
            pending = submit(following) if following < total else None
            await writer.contacts(chunk)
            progress(min(following, total))
    finally:
        if pending is not None:
            _forget(pending)


def _forget(future: asyncio.Future[Plan]) -> None:
    """Drop a chunk no one will await; if it failed, mark the error as seen so that
    asyncio does not log it (the error that stopped the seed is the one raised)."""
    if not future.cancel() and not future.cancelled():
        future.exception()
