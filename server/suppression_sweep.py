"""The suppression sweep: people who came back after their erasure are erased again.

An integration that ignores CheckSuppression brings an erased person back: it
inserts the contact again, or changes a row to an erased email. A periodic pass
(like retention: every PRIVACY_SUPPRESSION_SWEEP_SECONDS in processes with workers,
one runner at a time across processes by an advisory lock) finds them and submits
an ordinary Erase for each, with actor `suppression`: queued, held, audited,
deadlined and run to zero residue like any other erasure.

What is looked at, in each tenant with entries:
- contacts, by their email and phone number: an Erase of the contact (its
  messages, files, deals and notes go with it, and its identifiers are redacted
  from other rows' free text, as in any erasure);
- user accounts, by their own email: an Erase of the user.

Identifiers are normalized and hashed here, in Python, with the tenant's key (the
key never goes to SQL) and compared with the entries. No column tells when a row
was changed (the tables have only created_at, and an import may set that), so each
pass reads these tables whole for the tenants that have entries: correct first, and
cheap at this scale (one HMAC per identifier).

Billing contacts and messages are never a reason to erase anyone. A billing
contact's address may be a third party's (an accountant's, a company's finance
desk): erasing the account it is filed under would erase the wrong person, and no
Erase takes a billing contact alone. It goes with its user's erasure. Messages: a
message from or to a suppressed address that belongs to a matched contact goes
with that contact's erasure, and the erasure redacts the address wherever else it
is written; but a contact is not erased because one of its messages names a
suppressed address (a colleague cc'd, a forwarded thread): erasing the wrong
person is worse than missing one.

An entry counts once its erasure has happened: while its job is open the subject's
own rows are still there (that job erases them; during an account deletion's grace
they must stay), and a cancelled job erased nothing. Entries made by Suppress have
no job and always count.

Nothing is submitted twice: a row an open erasure covers is skipped, and each job's
idempotency key names the row (its id and creation time), so a row whose erasure
failed or an operator cancelled is left to the operator, not submitted at every pass.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from anonymizers.registry import Registry
from db.connection import Connection
from db.queries import load_queries
from server import job_plan, metrics, submission, suppressions, tenant_keys
from server.errors import PrivacyError
from server.events import repeat
from server.job_model import Job, JobKind, JobRequest, ReasonCode
from server.keyring import Keyring
from server.subjects import Subject, SubjectKind
from server.suppressions import Identifier, IdentifierKind

log = logging.getLogger(__name__)

ACTOR = "suppression"
NOTE = "late arrival of a suppressed identifier"
# Only one process sweeps at a time (any number may try).
LOCK_KEY = 0x7375_7070_7273  # "supprs"

_Q = load_queries("server.sql", "suppression_sweep.sql")


@dataclass(frozen=True)
class _Match:
    """A row whose identifier is suppressed: the subject to erase and why."""

    subject: Subject
    idempotency_key: str
    reason_code: ReasonCode


class _Hasher:
    """A tenant's identifiers as its suppression entries are keyed."""

    def __init__(self, key: bytes, region: str, entries: dict[bytes, str]) -> None:
        self._key = key
        self._region = region
        self._entries = entries

    def reasons(self, kind: IdentifierKind, values: list[str | None]) -> list[str]:
        """The reasons of the entries that suppress any of these values."""
        found = []
        for value in values:
            if not value:
                continue
            normal = suppressions.normalized(Identifier(kind, value), self._region)
            if normal is None:
                continue
            reason = self._entries.get(suppressions.identifier_hash(self._key, kind, normal))
            if reason is not None:
                found.append(reason)
        return found


def _reason(reasons: list[str]) -> ReasonCode:
    """The reason of the entry that brought the row back: the erasure continues the
    request (or the Suppress) that put its identifier on the list. One of them,
    always the same, when several entries match; OTHER if none is a known code."""
    codes = {c.value for c in ReasonCode}
    known = sorted(r for r in reasons if r in codes)
    return ReasonCode(known[0]) if known else ReasonCode.OTHER


async def run(
    conn: Connection,
    registry: Registry,
    *,
    keyring: Keyring,
    deadline: timedelta,
    default_region: str,
) -> list[Job] | None:
    """One pass over every tenant with entries: the Erase jobs submitted; None when
    another run holds the lock (and this one did nothing)."""
    if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY):
        return None
    try:
        submitted: list[Job] = []
        for row in await conn.fetch(_Q["sweep_tenants"]):
            submitted += await sweep_tenant(
                conn,
                registry,
                row["tenant_id"],
                keyring=keyring,
                deadline=deadline,
                default_region=default_region,
            )
        if submitted:
            log.info("suppression sweep", extra={"jobs": len(submitted)})
        return submitted
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)


async def sweep_tenant(
    conn: Connection,
    registry: Registry,
    tenant_id: str,
    *,
    keyring: Keyring,
    deadline: timedelta,
    default_region: str,
) -> list[Job]:
    """Erase the tenant's late arrivals; record when the tenant was swept."""
    started: datetime = await conn.fetchval(_Q["sweep_now"])
    matches = await _matches(conn, tenant_id, keyring=keyring, default_region=default_region)
    submitted = []
    for match in matches:
        job = await _erase(
            conn,
            registry,
            tenant_id,
            match,
            deadline=deadline,
            default_region=default_region,
            keyring=keyring,
        )
        if job is not None:
            submitted.append(job)
            metrics.LATE_ARRIVALS_ERASED.labels(tenant=tenant_id).inc()
    if submitted:
        log.info("late arrivals erased", extra={"tenant_id": tenant_id, "jobs": len(submitted)})
    await conn.execute(_Q["sweep_done"], tenant_id, started)
    return submitted


async def _matches(
    conn: Connection, tenant_id: str, *, keyring: Keyring, default_region: str
) -> list[_Match]:
    """The tenant's contacts and users with a suppressed identifier that no open
    erasure covers and no earlier pass submitted."""
    entries = {
        bytes(r["identifier_hash"]): r["reason_code"]
        for r in await conn.fetch(_Q["sweep_entries"], tenant_id)
    }
    if not entries:
        return []
    covered = await conn.fetchrow(_Q["sweep_covered"], tenant_id)
    assert covered is not None  # an aggregate answers one row
    if covered["whole_tenant"]:
        return []  # an open erasure of the whole tenant takes everyone
    key = await tenant_keys.tenant_key(conn, tenant_id, keyring)
    region = await job_plan.tenant_region(conn, tenant_id, default_region)
    hasher = _Hasher(key, region, entries)
    found: list[_Match] = []
    # Read in a transaction of its own: a cursor streams the rows, whatever the size.
    async with conn.transaction(readonly=True):
        open_contacts = set(covered["contact_ids"])
        async for c in conn.cursor(_Q["sweep_contacts"], tenant_id, prefetch=1000):
            if c["id"] in open_contacts:
                continue
            reasons = hasher.reasons(IdentifierKind.EMAIL, [c["email"]])
            reasons += hasher.reasons(IdentifierKind.PHONE, [c["phone"]])
            if reasons:
                found.append(_match(SubjectKind.CONTACT_ID, c["id"], c["created_at"], reasons))
        open_users = set(covered["user_ids"])
        async for u in conn.cursor(_Q["sweep_users"], tenant_id, prefetch=1000):
            if u["id"] in open_users:
                continue
            reasons = hasher.reasons(IdentifierKind.EMAIL, [u["email"]])
            if reasons:
                found.append(_match(SubjectKind.USER_ID, u["id"], u["created_at"], reasons))
    if not found:
        return []
    used = {
        r["idempotency_key"]
        for r in await conn.fetch(
            _Q["sweep_keys_used"], tenant_id, [m.idempotency_key for m in found]
        )
    }
    return [m for m in found if m.idempotency_key not in used]


def _match(kind: SubjectKind, row_id: int, created_at: datetime, reasons: list[str]) -> _Match:
    # The row's id and creation time: a row is submitted once, and a new row that
    # reuses an erased row's id (an explicit id) is another row.
    what = "contact" if kind is SubjectKind.CONTACT_ID else "user"
    return _Match(
        subject=Subject(kind, str(row_id)),
        idempotency_key=f"{ACTOR}:{what}:{row_id}:{created_at.isoformat()}",
        reason_code=_reason(reasons),
    )


async def _erase(
    conn: Connection,
    registry: Registry,
    tenant_id: str,
    match: _Match,
    *,
    deadline: timedelta,
    default_region: str,
    keyring: Keyring,
) -> Job | None:
    """An ordinary Erase of the row's subject; None when it cannot be submitted (the
    row went meanwhile), which the next pass looks at again."""
    request = JobRequest(
        tenant_id=tenant_id,
        kind=JobKind.ERASE,
        subject=match.subject,
        data_types=(),
        dry_run=False,
        idempotency_key=match.idempotency_key,
        reason_code=match.reason_code,
        note=NOTE,
        requested_by=ACTOR,
    )
    try:
        return await submission.submit(
            conn,
            registry,
            request,
            deadline=deadline,
            default_region=default_region,
            keyring=keyring,
        )
    except PrivacyError as exc:
        log.warning(
            "suppression sweep could not submit",
            extra={
                "tenant_id": tenant_id,
                "subject_kind": match.subject.kind.value,
                "error": type(exc).__name__,
            },
        )
        return None


async def run_forever(
    pool: asyncpg.Pool,
    registry: Registry,
    *,
    every: timedelta,
    keyring: Keyring,
    deadline: timedelta,
    default_region: str,
    stop: asyncio.Event,
) -> None:
    """Sweep every `every` until stop is set; a failed pass is tried next time."""

    async def once() -> None:
        async with pool.acquire() as conn:
            await run(
                conn, registry, keyring=keyring, deadline=deadline, default_region=default_region
            )

    await repeat(once, every=every, stop=stop, what="suppression sweep", logger=log)
