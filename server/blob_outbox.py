"""The blob outbox: a file row and its blob cannot change atomically, so a batch
writes the blob keys it removed or rewrote to the outbox tables in its own
transaction, and the blobs follow after the commit, behind the batches.

In order: each batch's blob work runs after the work queued before it (a blob
rewritten twice must end as the later batch wrote it). A crash or a failure
leaves the outbox rows, which `drain` clears before the job can end.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import asyncpg

from anonymizers.base import BatchResult
from db.connection import Connection
from server import audit, metrics
from server.audit import AuditEntry
from server.blobs import BlobLocked, BlobStore
from server.failures import safe_error
from server.queries import Q

# The worker's log lines keep the logger they always had, wherever the code lives.
log = logging.getLogger("server.worker")

# Blob deletions drained per query while finishing a job.
_DRAIN_CHUNK = 500
# What the blob work queued behind the running batch may hold in memory: rewritten
# contents, and about _KEY_BYTES a key. A whole tenant's deletions (keys only)
# queue without waiting; rewrites wait once this much is held.
_BYTES_BEHIND = 64 * 1024 * 1024
_KEY_BYTES = 100


@dataclass(frozen=True)
class BlobWork:
    """Blobs of one job to write (rewritten contents) and to delete, in one tenant."""

    job_id: uuid.UUID
    tenant_id: str
    rewrites: Sequence[tuple[str, bytes]]  # (key, new contents)
    deletions: Sequence[str]  # keys

    @property
    def held(self) -> int:
        """About the memory it holds while queued (see _BYTES_BEHIND)."""
        return sum(len(data) for _, data in self.rewrites) + _KEY_BYTES * (
            len(self.rewrites) + len(self.deletions)
        )


@dataclass(frozen=True)
class _Queued:
    """Blob work running (or waiting for the work before it) behind the batches."""

    work: BlobWork
    task: asyncio.Task[None]
    held: int  # counted into BlobOutbox._bytes_behind until it is settled

    @property
    def rewrites(self) -> bool:
        return bool(self.work.rewrites)


class BlobOutbox:
    """One worker's blob work: recorded in a batch, run after its commit, drained at
    a job's end."""

    def __init__(self, name: str, pool: asyncpg.Pool, blobs: BlobStore) -> None:
        self._name = name  # the worker's, as the actor of what it audits
        self._pool = pool
        self._blobs = blobs
        self._behind: deque[_Queued] = deque()
        self._bytes_behind = 0

    async def record(
        self,
        conn: Connection,
        job_id: uuid.UUID,
        tenant_id: str,
        data_type: str,
        result: BatchResult,
    ) -> None:
        """Write a batch's blob keys to the outbox, in the batch's transaction, each
        with the row (of `data_type`) that held it."""
        # A key the store would refuse (another tenant's, or leaving the blob
        # directory) fails the batch here, while the row that holds it can still be
        # named; queued, it would fail after the commit, with the row gone.
        for key in result.blob_keys:
            self._blobs.check(tenant_id, key)
        for key, _ in result.blob_rewrites:
            self._blobs.check(tenant_id, key)
        rows = dict(result.blob_rows)
        if result.blob_keys:
            keys = list(result.blob_keys)
            await conn.execute(
                Q["queue_blob_deletion"],
                tenant_id,
                keys,
                job_id,
                data_type,
                [rows.get(key) for key in keys],
            )
        if result.blob_rewrites:
            keys, contents = (list(t) for t in zip(*result.blob_rewrites, strict=True))
            await conn.execute(
                Q["queue_blob_rewrite"],
                tenant_id,
                keys,
                job_id,
                contents,
                data_type,
                [rows.get(key) for key in keys],
            )

    async def queue(self, work: BlobWork) -> None:
        """Start a committed batch's blob work after the work queued before it (in
        order: a blob rewritten twice ends as the later batch wrote it). Waits only
        while the work queued holds more than _BYTES_BEHIND."""
        previous = self._behind[-1].task if self._behind else None

        async def in_order() -> None:
            if previous is not None:
                await asyncio.wait([previous])  # its failure is logged where it is awaited
            await self._run(work)

        queued = _Queued(work, asyncio.create_task(in_order()), work.held)
        self._behind.append(queued)
        self._bytes_behind += queued.held
        while self._behind and self._bytes_behind > _BYTES_BEHIND:
            await self._settle_oldest()

    async def catch_up(self, *, rewrites_only: bool = False) -> None:
        """Wait for the blob work queued (before a job ends), or for the queued work up
        to its last rewrite (before this worker lets go of a job): each runs after
        the one before it."""
        if rewrites_only:
            wanted = [i for i, queued in enumerate(self._behind) if queued.rewrites]
            count = wanted[-1] + 1 if wanted else 0
        else:
            count = len(self._behind)
        for _ in range(count):
            await self._settle_oldest()

    async def _settle_oldest(self) -> None:
        queued = self._behind.popleft()
        self._bytes_behind -= queued.held
        try:
            await queued.task
        except Exception as exc:
            # Whatever the store raised: the outbox rows stay, and drain meets the
            # error again inside a batch, where it counts as an attempt (an error
            # that escaped here left the job RUNNING, re-leased forever).
            log.warning(
                "blob work deferred",
                extra={"job_id": str(queued.work.job_id), "error": safe_error(exc)},
            )

    async def drain(self, conn: Connection, job_id: uuid.UUID, tenant_id: str) -> None:
        """Finish the blob work a crash (or a failed write) left in the outboxes, in
        the transaction that ends the job."""
        while rows := await conn.fetch(Q["pending_blob_rewrites"], job_id, _DRAIN_CHUNK):
            rewrites = [(r["blob_key"], bytes(r["data"])) for r in rows]
            await self._run(BlobWork(job_id, tenant_id, rewrites, ()), conn)
        while rows := await conn.fetch(Q["pending_blob_deletions"], job_id, _DRAIN_CHUNK):
            deletions = [r["blob_key"] for r in rows]
            await self._run(BlobWork(job_id, tenant_id, (), deletions), conn)

    async def _run(self, work: BlobWork, conn: Connection | None = None) -> None:
        """Write rewritten blobs and delete removed ones, then forget their outbox rows;
        a blob the store keeps goes on the job's review list instead.

        Doing either twice is harmless, so a replay after a crash is safe.
        """
        if not (work.rewrites or work.deletions):
            return
        tenant_id = work.tenant_id
        done = await asyncio.to_thread(self._write_and_delete, work)
        if done.gone:
            # Deleting what is gone is what was wanted: recorded, not an error (also
            # what a replay after a crash finds).
            log.info("blobs already gone", extra={"job_id": str(work.job_id), "blobs": done.gone})

        async def settle(c: Connection, deletion_query: str) -> None:
            async with c.transaction():
                if done.kept:
                    await self._review_kept(c, work, done.kept)
                if work.rewrites:
                    await c.execute(
                        Q["forget_blob_rewrite"], tenant_id, [key for key, _ in work.rewrites]
                    )
                if work.deletions:
                    await c.execute(Q[deletion_query], tenant_id, list(work.deletions))

        if conn is not None:  # a job's end, draining its outbox
            await settle(conn, "forget_blob_deletion")
        else:  # behind the batches, maybe while another worker ends the job
            async with self._pool.acquire() as c:
                await settle(c, "forget_blob_deletion_behind")

    def _write_and_delete(self, work: BlobWork) -> _Done:
        """The store's part (in a thread): all at once, and one key at a time only
        when the store keeps one, to tell which."""
        tenant_id = work.tenant_id
        kept: dict[str, BlobLocked] = {}
        try:
            self._blobs.put_many(tenant_id, work.rewrites)
        except BlobLocked:
            for key, data in dict(work.rewrites).items():
                try:
                    self._blobs.put(tenant_id, key, data)
                except BlobLocked as exc:
                    kept[key] = exc
        try:
            gone = self._blobs.delete_many(tenant_id, work.deletions)
        except BlobLocked:
            gone = 0
            for key in dict.fromkeys(work.deletions):
                try:
                    gone += self._blobs.delete_many(tenant_id, [key])
                except BlobLocked as exc:
                    kept[key] = exc
        return _Done(gone, kept)

    async def _review_kept(
        self, conn: Connection, work: BlobWork, kept: Mapping[str, BlobLocked]
    ) -> None:
        """The blobs the store keeps, on the job's review list by the rows that held
        them (a rewrite kept its new version on top: the older ones are still
        there). Audited and counted like a batch's reviews."""
        keys = list(kept)
        owners = [
            *await conn.fetch(Q["kept_blob_rewrites"], work.tenant_id, keys),
            *await conn.fetch(Q["kept_blob_deletions"], work.tenant_id, keys),
        ]
        named = {r["blob_key"]: r for r in owners if r["row_id"] is not None}
        for key, exc in kept.items():
            if key not in named:  # no row to name it by: the job fails, saying why
                raise exc
        reviews = [(named[key]["data_type"], named[key]["row_id"], kept[key].why) for key in kept]
        data_types, row_ids, reasons = (list(t) for t in zip(*reviews, strict=True))
        await conn.execute(
            Q["insert_reviews"],
            work.job_id,
            work.tenant_id,
            row_ids,
            data_types,
            [f"the blob store keeps it: {why}" for why in reasons],
        )
        job = await conn.fetchrow(Q["job_kind_and_subject"], work.job_id)
        kind, subject_hash = (job["kind"], job["subject_hash"]) if job else ("job", "")
        by_type: dict[str, list[int]] = {}
        for data_type, row_id, _ in reviews:
            by_type.setdefault(data_type, []).append(row_id)
        for data_type, ids in sorted(by_type.items()):
            await audit.append(
                conn,
                AuditEntry(
                    tenant_id=work.tenant_id,
                    actor=self._name,
                    action=f"{kind}.blobs_kept",
                    job_id=work.job_id,
                    subject_hash=subject_hash,
                    data_type=data_type,
                    details={"needs_review": sorted(ids)},
                ),
            )
            metrics.FILES_NEEDING_REVIEW.labels(kind=kind, data_type=data_type).inc(len(ids))
        log.warning(
            "blobs kept by the store",
            extra={"job_id": str(work.job_id), "blobs": len(reviews)},
        )


@dataclass(frozen=True)
class _Done:
    gone: int  # deletions that found nothing to delete
    kept: dict[str, BlobLocked]  # key: what the store said when it kept the blob
