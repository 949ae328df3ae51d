"""Jobs: accepting a request as a durable job, reading, listing and cancelling jobs."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import asyncpg

from anonymizers import context
from anonymizers.base import Anonymizer, Connection, Scope
from anonymizers.counting import count_rows
from anonymizers.identity import Identifiers
from anonymizers.redaction import REDACTED, Redactor
from anonymizers.registry import Registry
from server import audit, pagetokens, subjects, tenant_keys
from server.audit import AuditEntry
from server.database import wait_durable
from server.errors import AlreadyExists, FailedPrecondition, NotFound
from server.keyring import Keyring
from server.queries import Q
from server.subjects import Subject
from server.tenancy import enter_tenant, no_such_tenant

# Lower runs first. Children's data first (policy section 10), then single
# subjects, then whole tenants, then periodic retention.
CHILD_PRIORITY = 0
DEFAULT_PRIORITY = 100
WHOLE_TENANT_PRIORITY = 200
RETENTION_PRIORITY = 300
# A job's steps, in order: the subject's identifiers replaced in every record's
# free text, then the subject's own rows erased or anonymized.
STEP_MENTIONS = "mentions"
STEP_APPLY = "apply"


class JobKind(StrEnum):
    ERASE = "erase"
    ANONYMIZE = "anonymize"


class ReasonCode(StrEnum):
    """Why a job was asked for: a closed list, so no free text reaches the audit log."""

    UNSPECIFIED = "unspecified"  # the caller gave no code
    DATA_SUBJECT_REQUEST = "data_subject_request"
    ACCOUNT_CLOSED = "account_closed"
    RETENTION = "retention"
    LEGAL_OBLIGATION = "legal_obligation"
    OPERATOR_CORRECTION = "operator_correction"
    OTHER = "other"


class JobState(StrEnum):
    SCHEDULED = "scheduled"
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    HELD = "held"  # a legal hold covers the subject; runs once every such hold is released

    @property
    def terminal(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


@dataclass(frozen=True)
class JobRequest:
    """A validated Erase or Anonymize request."""

    tenant_id: str
    kind: JobKind
    subject: Subject
    data_types: tuple[str, ...]  # empty: every registered data type
    dry_run: bool
    idempotency_key: str | None
    reason_code: ReasonCode
    # A short note (a ticket reference); redacted of the subject's identifiers before
    # it is stored, never copied into the audit log, emptied when its retention ends.
    note: str
    requested_by: str
    not_before: datetime | None = None  # None: as soon as possible
    deadline: datetime | None = None  # None: the request time plus the policy's limit
    under_16: bool = False  # the caller says the subject is a child
    priority: int = DEFAULT_PRIORITY  # before children's and whole tenants' adjustments
    # Only records that happened in [records_after, records_before) (retention).
    records_after: datetime | None = None
    records_before: datetime | None = None
    # Anonymize: fakes from the tenant's key, the same in every job (pseudonymization);
    # by default each job's fakes come from its own key, destroyed when it ends.
    consistent_across_jobs: bool = False


@dataclass(frozen=True)
class Progress:
    data_type: str
    planned: int  # the subject's own rows, counted when the job was accepted
    done: int  # of those, processed so far
    mentions: int  # other rows whose free text had the subject's identifiers replaced


@dataclass(frozen=True)
class Review:
    """A file that holds the subject but that the job could not rewrite safely."""

    file_id: int
    data_type: str
    reason: str


@dataclass(frozen=True)
class Job:
    id: uuid.UUID
    tenant_id: str
    kind: JobKind
    state: JobState
    subject_hash: str
    dry_run: bool
    created_at: datetime
    not_before: datetime
    deadline: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str
    progress: tuple[Progress, ...]
    priority: int
    hold_ids: tuple[uuid.UUID, ...]  # the legal holds keeping a HELD job from running
    needs_review: tuple[Review, ...] = ()


def _job(
    row: asyncpg.Record, tasks: list[asyncpg.Record], reviews: Iterable[asyncpg.Record] = ()
) -> Job:
    state = JobState(row["state"])
    if state is JobState.SCHEDULED and row["not_before"] <= datetime.now(UTC):
        state = JobState.PENDING  # its time has come; a worker has not taken it yet
    return Job(
        id=row["id"],
        tenant_id=row["tenant_id"],
        kind=JobKind(row["kind"]),
        state=state,
        subject_hash=row["subject_hash"],
        dry_run=row["dry_run"],
        created_at=row["created_at"],
        not_before=row["not_before"],
        deadline=row["deadline"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        error=row["error"],
        progress=_progress(tasks),
        priority=row["priority"],
        hold_ids=tuple(row["hold_ids"]) if state is JobState.HELD else (),
        needs_review=tuple(Review(r["file_id"], r["data_type"], r["reason"]) for r in reviews),
    )


def _progress(tasks: Iterable[asyncpg.Record]) -> tuple[Progress, ...]:
    return _progress_of((t["data_type"], t["step"], t["planned"], t["done"]) for t in tasks)


def _progress_of(tasks: Iterable[tuple[str, str, int, int]]) -> tuple[Progress, ...]:
    """One line per data type: its apply step's plan and progress, its mentions step's count.

    `tasks`: (data type, step, planned, done), in the job's order."""
    by_type: dict[str, Progress] = {}
    for data_type, step, planned, done in tasks:
        p = by_type.get(data_type, Progress(data_type, 0, 0, 0))
        if step == STEP_MENTIONS:
            p = Progress(p.data_type, p.planned, p.done, p.mentions + done)
        else:
            p = Progress(p.data_type, p.planned + planned, p.done + done, p.mentions)
        by_type[p.data_type] = p
    return tuple(by_type.values())


async def get(conn: Connection, job_id: uuid.UUID) -> Job:
    """Return a job; NotFound if there is none with that id."""
    row = await conn.fetchrow(Q["get_job"], job_id)
    if row is None:
        raise NotFound(f"no job with id {job_id}")
    reviews = await conn.fetch(Q["job_reviews"], [job_id])
    return _job(row, await conn.fetch(Q["job_tasks"], job_id), reviews)


async def tenant_of(conn: Connection, job_id: uuid.UUID) -> str | None:
    """The tenant a job belongs to, or None when there is no such job."""
    tenant: str | None = await conn.fetchval(Q["job_tenant"], job_id)
    return tenant


async def submit(
    conn: Connection,
    registry: Registry,
    request: JobRequest,
    *,
    deadline: timedelta,
    default_region: str,
    keyring: Keyring,
) -> Job:
    """Make a request a durable job (or return the job its idempotency key made).

    `deadline` is the policy's limit: a request's own deadline defaults to it.
    `default_region`: where phone numbers are read in a tenant without its own region.

    The submission appends to the tenant's audit chain, whose head stays locked
    until the commit. Its commit does not wait for the WAL flush, so the next
    submission of the tenant need not wait for this one's fsync; the job is made
    durable before it is answered (`database.wait_durable`), and concurrent
    submissions share one fsync. A crash in between loses an unanswered request,
    which its caller retries, never an answered one. Inside a caller's transaction
    (retention's), the commit is the caller's, durable as usual.
    """
    own = not conn.is_in_transaction()
    async with conn.transaction():
        job = await _submit(
            conn,
            registry,
            request,
            deadline=deadline,
            default_region=default_region,
            keyring=keyring,
            flush_later=own,
        )
    if own:
        await wait_durable(conn)
    return job


async def _submit(
    conn: Connection,
    registry: Registry,
    request: JobRequest,
    *,
    deadline: timedelta,
    default_region: str,
    keyring: Keyring,
    flush_later: bool,
) -> Job:
    """submit()'s work, inside its transaction."""
    await enter_tenant(conn, request.tenant_id)
    context = await conn.fetchrow(
        Q["submit_context"],
        request.tenant_id,
        tenant_keys.new_wrapped(keyring, request.tenant_id),
        flush_later,
        keyring.key_id,
    )
    assert context is not None
    if not context["tenant_exists"]:
        raise no_such_tenant(request.tenant_id)
    if context["key"] is None and context["wrapped"] is None:
        # created by a concurrent first use meanwhile
        key = await tenant_keys.tenant_key(conn, request.tenant_id, keyring)
    else:
        key = tenant_keys.unwrap(keyring, request.tenant_id, context)
    now: datetime = context["now"]
    region = context["phone_region"] or default_region
    subject = request.subject.in_region(region)
    subject_hash = subjects.subject_hash(key, subject)
    fingerprint = keyring.fingerprint(_fingerprinted(request, subject))
    if request.idempotency_key:
        existing = await _idempotent_job(conn, request, subject_hash, fingerprint)
        if existing is not None:
            return existing
    resolved = await subjects.resolve(conn, request.tenant_id, subject, region)
    scope = resolved.scope(
        request.tenant_id,
        records_after=request.records_after,
        records_before=request.records_before,
    )
    anonymizers = [
        a for a in registry.ordered() if not request.data_types or a.data_type in request.data_types
    ]
    if scope.records_before is not None or scope.records_after is not None:
        _check_period(anonymizers)
    planned = await count_rows(conn, anonymizers, scope)
    # A whole tenant's apply step looks at every row anyway, and a file names no
    # one to look for: no mentions step.
    searched = not (resolved.whole_tenant or resolved.file_ids)
    steps = [STEP_MENTIONS, STEP_APPLY] if searched else [STEP_APPLY]
    tasks = [(a.data_type, step) for step in steps for a in anonymizers]
    job_id = uuid.uuid4()
    not_before = max(request.not_before or now, now)
    due = request.deadline or now + deadline
    found = await conn.fetchrow(
        Q["holds_and_child"],
        request.tenant_id,
        resolved.whole_tenant,
        list(resolved.contact_ids),
        list(resolved.user_ids),
    )
    assert found is not None
    holds: list[uuid.UUID] = found["holds"]
    priority = _priority(request, child=found["child"], whole_tenant=resolved.whole_tenant)
    if request.dry_run:
        state = JobState.SUCCEEDED
    elif holds:
        state = JobState.HELD
    elif not_before > now:
        state = JobState.SCHEDULED
    else:
        state = JobState.PENDING
    counts = [planned[data_type] if step == STEP_APPLY else 0 for data_type, step in tasks]
    inserted = await conn.fetchval(
        Q["insert_job"],
        job_id,
        request.tenant_id,
        request.kind.value,
        state.value,
        resolved.subject_kind,
        subject_hash,
        list(resolved.contact_ids),
        list(resolved.user_ids),
        resolved.whole_tenant,
        request.dry_run,
        request.idempotency_key,
        request.reason_code.value,
        request.requested_by,
        priority,
        not_before,
        due,
        now if request.dry_run else None,
        request.records_after,
        request.records_before,
        [data_type for data_type, _ in tasks],
        [step for _, step in tasks],
        counts,
        list(resolved.file_ids),
        "",  # the note, once redacted (below)
        fingerprint,
    )
    if inserted is None:
        # A concurrent request with the same key committed first: answer with its job.
        existing = await _idempotent_job(conn, request, subject_hash, fingerprint)
        assert existing is not None
        return existing
    # A whole tenant's erasure deletes every row: it redacts nothing, so it needs no
    # identifiers (a tenant's are every name, email and handle it holds, slow to
    # gather); its redactor still takes every email, phone number and @handle.
    whole_erase = resolved.whole_tenant and request.kind is JobKind.ERASE
    ids: Identifiers | None = None
    if not request.dry_run and not whole_erase and not resolved.file_ids:
        ids = await _identifiers(conn, registry, scope, region)
        await conn.execute(
            Q["insert_identifiers"], job_id, ids.to_json(), _fake_key(request, keyring, job_id)
        )
    if request.note:
        if ids is None and not (resolved.whole_tenant or resolved.file_ids):
            ids = await _identifiers(conn, registry, scope, region)  # a dry run's
        note = redact_note(request.note, ids or Identifiers(region=region))
        await conn.execute(Q["set_job_note"], job_id, note)
    action = f"{request.kind.value}.{'dry_run' if request.dry_run else 'requested'}"
    details: dict[str, Any] = {
        "planned": planned,
        "dry_run": request.dry_run,
        # The code only: the note is free text, and the audit log keeps what it
        # holds forever.
        "reason_code": request.reason_code.value,
        "subject_kind": request.subject.kind.value,
        "rows_matched": len(resolved.contact_ids) + len(resolved.user_ids),
        "priority": priority,
        "not_before": not_before.isoformat(),
        "deadline": due.isoformat(),
    }
    if request.kind is JobKind.ANONYMIZE:
        details["consistent_across_jobs"] = request.consistent_across_jobs
    if holds:
        details["held_by"] = [str(h) for h in holds]
    if request.records_before or request.records_after:
        details["records_after"] = _iso(request.records_after)
        details["records_before"] = _iso(request.records_before)
    entry = AuditEntry(
        tenant_id=request.tenant_id,
        actor=request.requested_by,
        action=action,
        job_id=job_id,
        subject_hash=subject_hash,
        details=details,
    )
    # Last: the append holds the tenant's audit chain until the commit. A dry run's
    # job is done already: no worker has anything to do, nobody watches it yet.
    if request.dry_run:
        await audit.append(conn, entry)
    else:
        await audit.append_and_notify(conn, entry, job_id)
    if state is JobState.SCHEDULED and not_before <= datetime.now(UTC):
        state = JobState.PENDING  # as _job() says of a scheduled job whose time came
    # The job as get() would read it back, without reading it back.
    return Job(
        id=job_id,
        tenant_id=request.tenant_id,
        kind=request.kind,
        state=state,
        subject_hash=subject_hash,
        dry_run=request.dry_run,
        created_at=now,
        not_before=not_before,
        deadline=due,
        started_at=None,
        finished_at=now if request.dry_run else None,
        error="",
        progress=_progress_of(
            (data_type, step, count, 0)
            for (data_type, step), count in zip(tasks, counts, strict=True)
        ),
        priority=priority,
        hold_ids=tuple(holds) if state is JobState.HELD else (),
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _check_period(anonymizers: list[Anonymizer]) -> None:
    """A period may only go to data types that honour it, or a job would do too much."""
    for a in anonymizers:
        if not getattr(a, "honours_period", False):
            raise FailedPrecondition(
                f"data type {a.data_type!r} cannot be limited to a period of time"
            )


def _priority(request: JobRequest, *, child: bool, whole_tenant: bool) -> int:
    """Children first (flagged, or a contact's birthday says so), then by the scope's size."""
    if request.under_16 or child:
        return CHILD_PRIORITY
    if whole_tenant:
        return max(request.priority, WHOLE_TENANT_PRIORITY)
    return request.priority


def redact_note(note: str, ids: Identifiers) -> str:
    """A note with the subject's identifiers, and any email, phone number or @handle
    at all, replaced: it is kept beside the job, and a ticket text names people."""
    return Redactor(ids, everyone=True).redact(note, lambda _match: REDACTED)


def _fake_key(request: JobRequest, keyring: Keyring, job_id: uuid.UUID) -> bytes | None:
    """An Anonymize job's own key for its fakes, wrapped; None: the tenant's key."""
    if request.kind is not JobKind.ANONYMIZE or request.consistent_across_jobs:
        return None
    return keyring.wrap(secrets.token_bytes(tenant_keys.KEY_BYTES), fake_key_context(job_id))


def fake_key_context(job_id: uuid.UUID) -> str:
    return f"job:{job_id}"


def _fingerprinted(request: JobRequest, subject: Subject) -> bytes:
    """Everything a request asks, as bytes: the same key must mean the same request."""
    fields = {
        "kind": request.kind.value,
        "subject": subject.canonical(),
        "data_types": sorted(request.data_types),
        "dry_run": request.dry_run,
        "reason_code": request.reason_code.value,
        "note": request.note,
        "not_before": _iso(request.not_before),
        "deadline": _iso(request.deadline),
        "under_16": request.under_16,
        "records_after": _iso(request.records_after),
        "records_before": _iso(request.records_before),
        "consistent_across_jobs": request.consistent_across_jobs,
    }
    return json.dumps(fields, sort_keys=True).encode()


async def _idempotent_job(
    conn: Connection, request: JobRequest, subject_hash: str, fingerprint: str
) -> Job | None:
    row = await conn.fetchrow(
        Q["job_by_idempotency_key"], request.tenant_id, request.idempotency_key
    )
    if row is None:
        return None
    if row["request_fingerprint"] is None:
        # Accepted before fingerprints were kept: what was compared then.
        same = (row["kind"], row["subject_hash"], row["dry_run"]) == (
            request.kind.value,
            subject_hash,
            request.dry_run,
        )
    else:
        same = row["request_fingerprint"] == fingerprint
    if not same:
        raise AlreadyExists(
            "idempotency_key: this key was already used for a different request (another "
            "subject, data types, reason, times or flags); retry with the identical request, "
            "or use a new key"
        )
    return await get(conn, row["id"])


async def _identifiers(
    conn: Connection, registry: Registry, scope: Scope, region: str
) -> Identifiers:
    """Everything that identifies the subject, from every data type (filtered or not),
    with what the tenant says about it (namesakes, shared addresses, the region)."""
    found = Identifiers().merged(*[await a.identifiers(conn, scope) for a in registry.ordered()])
    return await context.with_context(conn, scope, found, region=region)


async def tenant_region(conn: Connection, tenant_id: str, default_region: str) -> str:
    """The region a tenant's phone numbers without a country code are read in."""
    return await context.phone_region(conn, tenant_id, default_region)


async def replan(
    conn: Connection, registry: Registry, job_id: uuid.UUID, *, default_region: str
) -> None:
    """Count a scheduled job's rows and read its subject's identifiers again.

    Between acceptance and not_before the subject's data lives on (new messages, a
    changed email): the job must cover today's, not only what was there then.
    """
    row = await conn.fetchrow(Q["get_job"], job_id)
    assert row is not None
    await enter_tenant(conn, row["tenant_id"])  # the caller's transaction, from here on
    scope = scope_of(row)
    applied = [
        t["data_type"] for t in await conn.fetch(Q["job_tasks"], job_id) if t["step"] == STEP_APPLY
    ]
    counts = await count_rows(conn, [registry.get(d) for d in applied], scope)
    for data_type, count in counts.items():
        await conn.execute(Q["replan_task"], job_id, data_type, count)
    raw = await conn.fetchval(Q["job_identifiers"], job_id)
    if raw is not None:
        region = await tenant_region(conn, row["tenant_id"], default_region)
        today = await _identifiers(conn, registry, scope, region)
        # What the subject was known by then stays; the tenant's context is today's.
        merged = Identifiers.from_json(raw).merged(today)
        await conn.execute(Q["replace_identifiers"], job_id, merged.to_json())


def scope_of(row: asyncpg.Record) -> Scope:
    """The scope a job row (or a leased job's) covers."""
    return Scope(
        tenant_id=row["tenant_id"],
        contact_ids=tuple(row["contact_ids"]),
        user_ids=tuple(row["user_ids"]),
        whole_tenant=row["whole_tenant"],
        records_after=row["records_after"],
        records_before=row["records_before"],
        file_ids=tuple(row["file_ids"]),
    )


async def list_jobs(
    conn: Connection,
    tenant_id: str,
    *,
    state: JobState | None,
    kind: JobKind | None,
    page_size: int,
    page_token: str,
    keyring: Keyring,
) -> tuple[list[Job], str]:
    """Return one page of a tenant's jobs, newest first, and the next page's token
    (signed for this tenant and filter: server.pagetokens)."""
    listing = (tenant_id, state.value if state else "", kind.value if kind else "")
    # One transaction: the tenant's key is made on first use, and a refused token
    # must leave nothing behind (a tenant with no job has no key, and no token).
    async with conn.transaction():
        key: bytes | None = None
        cursor: pagetokens.Cursor | None = None
        if page_token:
            key = pagetokens.signing_key(await tenant_keys.tenant_key(conn, tenant_id, keyring))
            cursor = pagetokens.read(key, listing, page_token)
        rows = await conn.fetch(
            Q["list_jobs"],
            tenant_id,
            state.value if state else None,
            kind.value if kind else None,
            cursor.created_at if cursor else None,
            cursor.job_id if cursor else None,
            page_size + 1,  # one more tells whether there is a next page
        )
        page = rows[:page_size]
        tasks_by_job: dict[uuid.UUID, list[asyncpg.Record]] = {r["id"]: [] for r in page}
        for task in await conn.fetch(Q["tasks_of_jobs"], list(tasks_by_job)):
            tasks_by_job[task["job_id"]].append(task)
        reviews: dict[uuid.UUID, list[asyncpg.Record]] = {r["id"]: [] for r in page}
        for review in await conn.fetch(Q["job_reviews"], list(reviews)):
            reviews[review["job_id"]].append(review)
        jobs = [_job(r, tasks_by_job[r["id"]], reviews[r["id"]]) for r in page]
        if len(rows) <= page_size:
            return jobs, ""
        if key is None:
            key = pagetokens.signing_key(await tenant_keys.tenant_key(conn, tenant_id, keyring))
        last = jobs[-1]
        return jobs, pagetokens.make(key, listing, pagetokens.Cursor(last.created_at, last.id))


async def cancel(conn: Connection, job_id: uuid.UUID, actor: str) -> Job:
    """Cancel a job: at once if it has not started, else at its next batch boundary."""
    async with conn.transaction():
        row = await conn.fetchrow(Q["request_cancel"], job_id)
        if row is None:
            job = await get(conn, job_id)  # NotFound when there is no such job
            raise FailedPrecondition(f"job {job_id} is already {job.state.value}")
        if row["not_started"]:
            # Scheduled, pending or held before any batch: nothing happened to undo.
            before = JobState(row["state"]).value
            await conn.fetchval(
                Q["finish_job"], job_id, JobState.CANCELLED.value, f"cancelled while {before}"
            )
            await conn.execute(Q["forget_identifiers"], job_id)
        await audit.append(
            conn,
            AuditEntry(
                tenant_id=row["tenant_id"],
                actor=actor,
                action="job.cancelled" if row["not_started"] else "job.cancel_requested",
                job_id=job_id,
                subject_hash=row["subject_hash"],
            ),
        )
        await conn.execute(Q["notify_job"], str(job_id))
        return await get(conn, job_id)
