"""The audit log: append-only (the database refuses changes), hash-chained per tenant."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from db.connection import Connection
from server.queries import Q


@dataclass(frozen=True)
class AuditEntry:
    """One entry: who did what, for which tenant, with counts. No raw personal data."""

    tenant_id: str
    actor: str
    action: str
    job_id: uuid.UUID | None = None
    subject_hash: str = ""
    data_type: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def _arguments(entry: AuditEntry) -> tuple[Any, ...]:
    """privacy_audit_append's arguments, in its order."""
    return (
        entry.tenant_id,
        entry.actor,
        entry.action,
        entry.job_id,
        entry.subject_hash,
        entry.data_type,
        json.dumps(entry.details, sort_keys=True),
    )


async def append(conn: Connection, entry: AuditEntry) -> int:
    """Append an entry inside the caller's transaction; return its sequence number."""
    seq = await conn.fetchval(Q["audit_append"], *_arguments(entry))
    return int(seq)


async def append_and_notify(conn: Connection, entry: AuditEntry, job_id: uuid.UUID) -> int:
    """Append an entry and notify job `job_id`'s watchers, in one round trip.

    The append locks the tenant's chain head until the transaction ends: make it
    the transaction's last statement, so other transactions of the tenant wait
    only for the commit."""
    seq = await conn.fetchval(Q["audit_append_and_notify"], *_arguments(entry), str(job_id))
    return int(seq)


async def append_at_commit(
    conn: Connection, entry: AuditEntry, *, notify: uuid.UUID | None = None
) -> None:
    """Append an entry when the caller's transaction commits (migration 0020), and
    tell job `notify`'s watchers then.

    The entry is chained inside the COMMIT, so the tenant's chain head is locked only
    there, not from the append to the commit as `append`'s is: for the hot path of
    many concurrent transactions of one tenant (submissions). The transaction and
    its entry still commit together or not at all. No sequence number: it is not
    known before the commit."""
    if notify is None:
        await conn.execute(Q["audit_append_at_commit"], *_arguments(entry))
    else:
        await conn.execute(Q["audit_append_at_commit_and_notify"], *_arguments(entry), str(notify))


@dataclass(frozen=True)
class Anchor:
    """A chain head vouched for from outside the database (a signed checkpoint)."""

    seq: int
    hash: str
    at: datetime


@dataclass(frozen=True)
class Verdict:
    """The result of checking a tenant's chain: how far it holds, and where it breaks."""

    tenant_id: str
    entries: int
    first_bad_seq: int | None = None
    problem: str = ""
    # The highest seq a valid checkpoint vouches for that the chain holds; 0: none.
    checkpoint_seq: int = 0
    # Seqs (first, last) that checkpoints prove existed and the chain no longer holds.
    missing: tuple[int, int] | None = None
    # Checkpoints of the tenant whose signature did not verify (forged, altered, or
    # another key's): the chain may hold, the record of it does not.
    rejected_checkpoints: int = 0

    @property
    def intact(self) -> bool:
        return self.first_bad_seq is None and not self.rejected_checkpoints


async def verify(conn: Connection, tenant_id: str, anchors: Sequence[Anchor] = ()) -> Verdict:
    """Recompute a tenant's chain; name the first entry that was changed, removed,
    inserted or moved. The hashes are recomputed here, not by the database function.

    Each anchor must be an entry of the chain, with its hash: a chain cut short and
    its head rewound is a valid chain by itself, but not one that holds every head
    a checkpoint vouches for."""
    expected_prev, expected_seq, entries = "", 1, 0
    watched = {a.seq for a in anchors}
    hashes: dict[int, str] = {}
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        async for row in conn.cursor(Q["audit_chain"], tenant_id, prefetch=1000):
            entries += 1
            seq = row["seq"]
            if seq != expected_seq:
                return Verdict(
                    tenant_id,
                    entries,
                    expected_seq,
                    f"entry {expected_seq} is missing (next is {seq})",
                )
            if row["prev_hash"] != expected_prev:
                return Verdict(
                    tenant_id,
                    entries,
                    seq,
                    "does not follow the entry before it (removed, inserted or moved)",
                )
            if hashlib.sha256(row["hashed"].encode()).hexdigest() != row["hash"]:
                return Verdict(tenant_id, entries, seq, "its contents were changed")
            if seq in watched:
                hashes[seq] = row["hash"]
            expected_prev, expected_seq = row["hash"], seq + 1
        head = await conn.fetchrow(Q["audit_head"], tenant_id)
    if head is not None and (head["seq"], head["hash"]) != (expected_seq - 1, expected_prev):
        return Verdict(
            tenant_id,
            entries,
            expected_seq,
            f"the chain's head is entry {head['seq']}: entries after "
            f"{expected_seq - 1} were removed",
        )
    return _against_anchors(tenant_id, entries, expected_seq - 1, hashes, anchors)


def _against_anchors(
    tenant_id: str, entries: int, last: int, hashes: dict[int, str], anchors: Sequence[Anchor]
) -> Verdict:
    """The verdict on an intact chain ending at `last`, given the anchors it must hold."""
    if not anchors:
        return Verdict(tenant_id, entries)

    def held(a: Anchor) -> bool:
        return hashes.get(a.seq) == a.hash

    broken = sorted((a for a in anchors if not held(a)), key=lambda a: a.seq)
    if not broken:
        return Verdict(tenant_id, entries, checkpoint_seq=max(a.seq for a in anchors))
    first, latest = broken[0], broken[-1]
    when = f"{latest.at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"
    if first.seq > last:
        # Cut short: everything after the last entry up to the latest checkpoint is gone.
        start = last + 1
        ends = f"the chain ends at entry {last}" if last else "the chain has no entries"
        problem = (
            f"seqs {start}..{latest.seq} are missing: a checkpoint signed at {when} "
            f"vouches for entry {latest.seq} and {ends}"
        )
    else:
        # An entry a checkpoint vouches for was replaced (the tail cut, then grown
        # again): gone since the last entry a checkpoint still confirms.
        start = max((a.seq for a in anchors if held(a) and a.seq < first.seq), default=0) + 1
        problem = (
            f"seqs {start}..{latest.seq} were removed or replaced: entry {first.seq} is "
            f"not the one a checkpoint signed at "
            f"{first.at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ} vouches for"
        )
    confirmed = max((a.seq for a in anchors if held(a)), default=0)
    return Verdict(
        tenant_id,
        entries,
        start,
        problem,
        checkpoint_seq=confirmed,
        missing=(start, latest.seq),
    )
