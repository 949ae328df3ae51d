"""Accepting a request as a durable job: one transaction from the tenant's key to
the job's audit entry."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from anonymizers.base import Anonymizer, Scope
from anonymizers.counting import count_rows
from anonymizers.registry import Registry
from anonymizers.text.identity import Identifiers
from anonymizers.text.matches import REDACTED
from anonymizers.text.redaction import Redactor
from db.connection import Connection
from server import audit, subjects, suppressions, tenant_keys
from server.audit import AuditEntry
from server.database import wait_durable
from server.errors import FailedPrecondition
from server.idempotency import fingerprinted, idempotent_job
from server.job_model import (
    CHILD_PRIORITY,
    STEP_APPLY,
    STEP_MENTIONS,
    WHOLE_TENANT_PRIORITY,
    Job,
    JobKind,
    JobRequest,
    JobState,
    fake_key_context,
    job_of,
    progress_of,
)
from server.job_plan import subject_identifiers
from server.keyring import Keyring
from server.queries import Q
from server.subjects import Resolved
from server.tenancy import enter_tenant, no_such_tenant


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

    The submission's audit entry is chained inside its commit (migration 0020), the
    only time the tenant's chain head is locked. Its commit does not wait for the WAL
    flush, so the next submission of the tenant need not wait for this one's fsync;
    the job is made durable before it is answered (`database.wait_durable`), and concurrent
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


@dataclass(frozen=True)
class _Tenant:
    """What a submission needs of its tenant, read with one statement."""

    key: bytes  # the tenant's key, unwrapped
    now: datetime  # the transaction's time
    region: str  # where its phone numbers are read


@dataclass(frozen=True)
class _Task:
    data_type: str
    step: str
    planned: int  # the subject's own rows (apply step); 0 for the mentions step


@dataclass(frozen=True)
class _Plan:
    """What a job will do: its tasks, (data type, step) in the order they run, and
    the subject's own rows of each data type, counted when it is accepted."""

    tasks: list[_Task]
    rows: dict[str, int]


@dataclass(frozen=True)
class _JobRow:
    """insert_job's parameters, named: the field order is the query's $1…$25."""

    id: uuid.UUID
    tenant_id: str
    kind: str
    state: str
    subject_kind: str
    subject_hash: str
    contact_ids: list[int]
    user_ids: list[int]
    whole_tenant: bool
    dry_run: bool
    idempotency_key: str | None
    reason_code: str
    requested_by: str
    priority: int
    not_before: datetime
    deadline: datetime
    finished_at: datetime | None
    records_after: datetime | None
    records_before: datetime | None
    task_data_types: list[str]
    task_steps: list[str]
    task_planned: list[int]
    file_ids: list[int]
    note: str  # set once redacted, after the insert
    request_fingerprint: str

    def arguments(self) -> tuple[object, ...]:
        """insert_job's arguments, in its order."""
        return tuple(getattr(self, f.name) for f in fields(self))

    def as_read(self, *, created_at: datetime, hold_ids: list[uuid.UUID]) -> dict[str, Any]:
        """The job's row as get_job would read it back, without reading it back."""
        return {
            **{f.name: getattr(self, f.name) for f in fields(self)},
            "created_at": created_at,
            "started_at": None,
            "error": "",
            "hold_ids": hold_ids,
        }


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
    tenant = await _tenant(conn, request.tenant_id, keyring, default_region, flush_later)
    now = tenant.now
    subject = request.subject.in_region(tenant.region)
    subject_hash = subjects.subject_hash(tenant.key, subject)
    fingerprint = keyring.fingerprint(fingerprinted(request, subject))
    if request.idempotency_key:
        existing = await idempotent_job(conn, request, subject_hash, fingerprint)
        if existing is not None:
            return existing
    resolved = await subjects.resolve(conn, request.tenant_id, subject, tenant.region)
    scope = resolved.scope(
        request.tenant_id,
        records_after=request.records_after,
        records_before=request.records_before,
    )
    plan = await _plan(conn, registry, request, resolved, scope)
    found = await conn.fetchrow(
        Q["holds_and_child"],
        request.tenant_id,
        resolved.whole_tenant,
        list(resolved.contact_ids),
        list(resolved.user_ids),
    )
    assert found is not None
    holds: list[uuid.UUID] = found["holds"]
    not_before = max(request.not_before or now, now)
    row = _JobRow(
        id=uuid.uuid4(),
        tenant_id=request.tenant_id,
        kind=request.kind.value,
        state=_initial_state(request, held=bool(holds), not_before=not_before, now=now).value,
        subject_kind=resolved.subject_kind,
        subject_hash=subject_hash,
        contact_ids=list(resolved.contact_ids),
        user_ids=list(resolved.user_ids),
        whole_tenant=resolved.whole_tenant,
        dry_run=request.dry_run,
        idempotency_key=request.idempotency_key,
        reason_code=request.reason_code.value,
        requested_by=request.requested_by,
        priority=_priority(request, child=found["child"], whole_tenant=resolved.whole_tenant),
        not_before=not_before,
        deadline=request.deadline or now + deadline,
        finished_at=now if request.dry_run else None,
        records_after=request.records_after,
        records_before=request.records_before,
        task_data_types=[t.data_type for t in plan.tasks],
        task_steps=[t.step for t in plan.tasks],
        task_planned=[t.planned for t in plan.tasks],
        file_ids=list(resolved.file_ids),
        note="",  # the note, once redacted (below)
        request_fingerprint=fingerprint,
    )
    if await conn.fetchval(Q["insert_job"], *row.arguments()) is None:
        # A concurrent request with the same key committed first: answer with its job.
        existing = await idempotent_job(conn, request, subject_hash, fingerprint)
        assert existing is not None
        return existing
    suppressed = await _keep_identifiers_and_note(
        conn,
        registry,
        request,
        resolved,
        scope,
        tenant=tenant,
        job_id=row.id,
        keyring=keyring,
    )
    details = _audit_details(request, resolved, plan, row, holds)
    if suppressed is not None:
        details["suppressed"] = suppressed  # new entries, a count: no identifier
    entry = AuditEntry(
        tenant_id=request.tenant_id,
        actor=request.requested_by,
        action=f"{request.kind.value}.{'dry_run' if request.dry_run else 'requested'}",
        job_id=row.id,
        subject_hash=subject_hash,
        details=details,
    )
    # Chained at the commit: the tenant's other submissions wait for its chain head
    # only while this one commits. A dry run's job is done already: no worker has
    # anything to do, nobody watches it yet.
    await audit.append_at_commit(conn, entry, notify=None if request.dry_run else row.id)
    progress = progress_of((t.data_type, t.step, t.planned, 0) for t in plan.tasks)
    return job_of(row.as_read(created_at=now, hold_ids=holds), progress)


async def _tenant(
    conn: Connection, tenant_id: str, keyring: Keyring, default_region: str, flush_later: bool
) -> _Tenant:
    """The tenant's key (made on first use), the time and the tenant's phone region;
    NotFound when there is no such tenant. `flush_later`: this transaction's commit
    does not wait for the WAL flush (submit() waits for it after)."""
    context = await conn.fetchrow(
        Q["submit_context"],
        tenant_id,
        tenant_keys.new_wrapped(keyring, tenant_id),
        flush_later,
        keyring.key_id,
    )
    assert context is not None
    if not context["tenant_exists"]:
        raise no_such_tenant(tenant_id)
    if context["key"] is None and context["wrapped"] is None:
        # created by a concurrent first use meanwhile
        key = await tenant_keys.tenant_key(conn, tenant_id, keyring)
    else:
        key = tenant_keys.unwrap(keyring, tenant_id, context)
    return _Tenant(key=key, now=context["now"], region=context["phone_region"] or default_region)


async def _plan(
    conn: Connection, registry: Registry, request: JobRequest, resolved: Resolved, scope: Scope
) -> _Plan:
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
    tasks = [
        _Task(a.data_type, step, planned[a.data_type] if step == STEP_APPLY else 0)
        for step in steps
        for a in anonymizers
    ]
    return _Plan(tasks, planned)


def _initial_state(
    request: JobRequest, *, held: bool, not_before: datetime, now: datetime
) -> JobState:
    """The state a job is stored in when accepted."""
    if request.dry_run:
        return JobState.SUCCEEDED  # counted already: nothing for a worker to do
    if held:
        return JobState.HELD
    if not_before > now:
        return JobState.SCHEDULED
    return JobState.PENDING


async def _keep_identifiers_and_note(
    conn: Connection,
    registry: Registry,
    request: JobRequest,
    resolved: Resolved,
    scope: Scope,
    *,
    tenant: _Tenant,
    job_id: uuid.UUID,
    keyring: Keyring,
) -> int | None:
    """Keep the subject's identifiers while the job runs, and the request's note
    with them redacted. An Erase (unless skip_suppression) also suppresses the
    subject's emails and phone numbers from now on: answers how many entries are
    new (None: none was asked for)."""
    region = tenant.region
    # A whole tenant's erasure deletes every row: it redacts nothing, so it needs no
    # identifiers (a tenant's are every name, email and handle it holds, slow to
    # gather); its redactor still takes every email, phone number and @handle.
    whole_erase = resolved.whole_tenant and request.kind is JobKind.ERASE
    ids: Identifiers | None = None
    suppressed: int | None = None
    if not request.dry_run and not whole_erase and not resolved.file_ids:
        ids = await subject_identifiers(conn, registry, scope, region, tenant.key)
        await conn.execute(
            Q["insert_identifiers"], job_id, ids.to_json(), _fake_key(request, keyring, job_id)
        )
        if request.kind is JobKind.ERASE and not request.skip_suppression:
            suppressed = await suppressions.add(
                conn,
                request.tenant_id,
                suppressions.of_identifiers(ids, tenant.key, region),
                reason_code=request.reason_code.value,
                actor=request.requested_by,
                job_id=job_id,
            )
    if request.note:
        if ids is None and not (resolved.whole_tenant or resolved.file_ids):
            ids = await subject_identifiers(conn, registry, scope, region, tenant.key)  # dry run
        note = redact_note(request.note, ids or Identifiers(region=region))
        await conn.execute(Q["set_job_note"], job_id, note)
    return suppressed


def _audit_details(
    request: JobRequest,
    resolved: Resolved,
    plan: _Plan,
    row: _JobRow,
    holds: list[uuid.UUID],
) -> dict[str, Any]:
    """The accepted job's audit entry: counts, codes and times, no free text."""
    details: dict[str, Any] = {
        "planned": plan.rows,
        "dry_run": request.dry_run,
        # The code only: the note is free text, and the audit log keeps what it
        # holds forever.
        "reason_code": request.reason_code.value,
        "subject_kind": request.subject.kind.value,
        "rows_matched": len(resolved.contact_ids) + len(resolved.user_ids),
        "priority": row.priority,
        "not_before": row.not_before.isoformat(),
        "deadline": row.deadline.isoformat(),
    }
    if request.kind is JobKind.ANONYMIZE:
        details["consistent_across_jobs"] = request.consistent_across_jobs
    if holds:
        details["held_by"] = [str(h) for h in holds]
    if request.records_before or request.records_after:
        details["records_after"] = _iso(request.records_after)
        details["records_before"] = _iso(request.records_before)
    return details


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _check_period(anonymizers: list[Anonymizer]) -> None:
    """A period may only go to data types that honour it, or a job would do too much."""
    for a in anonymizers:
        if not a.honours_period:
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
