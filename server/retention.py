"""Retention: per-tenant rules that periodically turn aged data into ordinary jobs.

Two rules, each with a service-wide default a tenant may change or turn off:
- activity: usage events older than N months are anonymized (default 13);
- closed accounts: a user account closed N days ago is erased (default 7), with
  the deadline the policy sets from the closing (30 days).
A run submits jobs like any caller (actor "retention"), so they are queued,
scheduled, held, audited and watched like any other. Running twice submits
nothing new: the activity rule remembers how far it reached, and an account
already covered by an erasure is skipped.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from anonymizers.registry import Registry
from db.connection import Connection
from server import audit, submission
from server.audit import AuditEntry
from server.config import DEFAULT_NOTE_RETENTION, DEFAULT_PHONE_REGION, Settings
from server.events import repeat
from server.job_model import RETENTION_PRIORITY, Job, JobKind, JobRequest, ReasonCode
from server.keyring import Keyring
from server.queries import Q
from server.subjects import Subject, SubjectKind
from server.tenancy import require_tenant

log = logging.getLogger(__name__)

ACTOR = "retention"
# Only one process runs the rules at a time (any number may try).
_LOCK_KEY = 0x7265_7465_6E74  # "retent"


@dataclass(frozen=True)
class RetentionPolicy:
    activity_months: int | None  # anonymize usage events older than this; None: off
    closed_account_days: int | None  # erase accounts closed this long ago; None: off

    @classmethod
    def defaults_of(cls, settings: Settings) -> RetentionPolicy:
        """The service-wide rules, for tenants without their own (PRIVACY_RETENTION_*)."""
        return cls(settings.retention_activity_months, settings.retention_closed_account_days)


DEFAULT_POLICY = RetentionPolicy.defaults_of(Settings())


async def policy(
    conn: Connection, tenant_id: str, defaults: RetentionPolicy = DEFAULT_POLICY
) -> RetentionPolicy:
    """The tenant's rules: its own, or the defaults when it has none."""
    await require_tenant(conn, tenant_id)
    row = await conn.fetchrow(Q["retention_policy"], tenant_id)
    if row is None:
        return defaults
    return RetentionPolicy(row["activity_months"], row["closed_account_days"])


async def set_policy(
    conn: Connection, tenant_id: str, rules: RetentionPolicy, actor: str
) -> RetentionPolicy:
    """Give a tenant its own rules; audited."""
    async with conn.transaction():
        await require_tenant(conn, tenant_id)
        await conn.execute(
            Q["set_retention_policy"], tenant_id, rules.activity_months, rules.closed_account_days
        )
        await audit.append(
            conn,
            AuditEntry(
                tenant_id=tenant_id,
                actor=actor,
                action="retention.policy_set",
                details={
                    "activity_months": rules.activity_months,
                    "closed_account_days": rules.closed_account_days,
                },
            ),
        )
    return rules


async def run(
    conn: Connection,
    registry: Registry,
    *,
    defaults: RetentionPolicy = DEFAULT_POLICY,
    deadline: timedelta,
    keyring: Keyring,
    default_region: str = DEFAULT_PHONE_REGION,
    note_retention: timedelta = DEFAULT_NOTE_RETENTION,
) -> list[Job]:
    """Apply every tenant's rules once; the jobs submitted (none if another run holds the lock).

    Also empties the notes of jobs that ended more than `note_retention` ago."""
    if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", _LOCK_KEY):
        return []
    try:
        await conn.execute(Q["forget_old_notes"], note_retention)
        submitted: list[Job] = []
        for t in await conn.fetch(Q["retention_tenants"]):
            rules = (
                RetentionPolicy(t["activity_months"], t["closed_account_days"])
                if t["configured"]
                else defaults
            )
            if rules.activity_months is not None:
                job = await _activity(
                    conn,
                    registry,
                    t["tenant_id"],
                    months=rules.activity_months,
                    covered_until=t["covered_until"],
                    deadline=deadline,
                    default_region=default_region,
                    keyring=keyring,
                )
                submitted.extend([job] if job else [])
            if rules.closed_account_days is not None:
                submitted.extend(
                    await _closed_accounts(
                        conn,
                        registry,
                        t["tenant_id"],
                        days=rules.closed_account_days,
                        deadline=deadline,
                        default_region=default_region,
                        keyring=keyring,
                    )
                )
        if submitted:
            log.info("retention run", extra={"jobs": len(submitted)})
        return submitted
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)


async def _activity(
    conn: Connection,
    registry: Registry,
    tenant_id: str,
    *,
    months: int,
    covered_until: datetime | None,
    deadline: timedelta,
    default_region: str,
    keyring: Keyring,
) -> Job | None:
    """Anonymize the usage events that aged out since the last run."""
    cutoff: datetime = await conn.fetchval(Q["activity_cutoff"], months)
    if covered_until is not None and cutoff <= covered_until:
        return None
    async with conn.transaction():
        job = None
        if await conn.fetchval(Q["activity_in_period"], tenant_id, covered_until, cutoff):
            job = await submission.submit(
                conn,
                registry,
                JobRequest(
                    tenant_id=tenant_id,
                    kind=JobKind.ANONYMIZE,
                    subject=Subject(SubjectKind.WHOLE_TENANT, tenant_id),
                    data_types=("activity",),
                    dry_run=False,
                    idempotency_key=f"retention:activity:{cutoff.date().isoformat()}",
                    reason_code=ReasonCode.RETENTION,
                    note=f"activity older than {months} months",
                    requested_by=ACTOR,
                    priority=RETENTION_PRIORITY,
                    records_after=covered_until,
                    records_before=cutoff,
                ),
                deadline=deadline,
                default_region=default_region,
                keyring=keyring,
            )
        # The period is covered once its job is on record (durable, retried, alerted on).
        await conn.execute(Q["retention_covered"], tenant_id, "activity", cutoff)
    return job


async def _closed_accounts(
    conn: Connection,
    registry: Registry,
    tenant_id: str,
    *,
    days: int,
    deadline: timedelta,
    default_region: str,
    keyring: Keyring,
) -> list[Job]:
    """Erase the accounts closed `days` ago that nothing erases yet."""
    submitted = []
    for user in await conn.fetch(Q["closed_accounts_due"], tenant_id, days):
        submitted.append(
            await submission.submit(
                conn,
                registry,
                JobRequest(
                    tenant_id=tenant_id,
                    kind=JobKind.ERASE,
                    subject=Subject(SubjectKind.USER_ID, str(user["id"])),
                    data_types=(),
                    dry_run=False,
                    idempotency_key=f"retention:closed-account:{user['id']}",
                    reason_code=ReasonCode.RETENTION,
                    note=f"account closed {days} or more days ago",
                    requested_by=ACTOR,
                    priority=RETENTION_PRIORITY,
                    # The policy's limit runs from the closing, not from this run.
                    deadline=user["closed_at"] + deadline,
                ),
                deadline=deadline,
                default_region=default_region,
                keyring=keyring,
            )
        )
    return submitted


async def run_forever(
    pool: asyncpg.Pool,
    registry: Registry,
    *,
    every: timedelta,
    deadline: timedelta,
    defaults: RetentionPolicy,
    default_region: str,
    keyring: Keyring,
    note_retention: timedelta,
    stop: asyncio.Event,
) -> None:
    """Run the rules every `every` until stop is set; a failed run is tried next time."""

    async def once() -> None:
        async with pool.acquire() as conn:
            await run(
                conn,
                registry,
                defaults=defaults,
                deadline=deadline,
                keyring=keyring,
                default_region=default_region,
                note_retention=note_retention,
            )

    await repeat(once, every=every, stop=stop, what="retention run", logger=log)
