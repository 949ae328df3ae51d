"""What a job is: its kinds and states, the request that makes one, the Job the
service answers with (built one way, from its row), and reading one back."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import asyncpg

from anonymizers.base import Scope
from db.connection import Connection
from server.errors import NotFound
from server.queries import Q
from server.subjects import Subject

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
    # Erase: leave the subject's emails and phone numbers off the suppression list.
    skip_suppression: bool = False


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
    # CancelJob was asked while it ran: its worker stops it at the next batch boundary.
    cancel_requested: bool = False


# A job's row as get_job reads it: a record, or the values a submission just wrote.
JobRow = asyncpg.Record | Mapping[str, Any]


def job_of(
    row: JobRow, progress: tuple[Progress, ...], reviews: Iterable[asyncpg.Record] = ()
) -> Job:
    """The one way to build a Job: from its row, with its progress and reviews."""
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
        progress=progress,
        priority=row["priority"],
        hold_ids=tuple(row["hold_ids"]) if state is JobState.HELD else (),
        needs_review=tuple(Review(r["file_id"], r["data_type"], r["reason"]) for r in reviews),
        # Read by get_job and list_jobs; a job just submitted has no request.
        cancel_requested=bool(row.get("cancelling")) and not state.terminal,
    )


def read_job(
    row: asyncpg.Record, tasks: Iterable[asyncpg.Record], reviews: Iterable[asyncpg.Record] = ()
) -> Job:
    """A job from its row, its task rows and its review rows."""
    return job_of(row, _progress(tasks), reviews)


def _progress(tasks: Iterable[asyncpg.Record]) -> tuple[Progress, ...]:
    return progress_of((t["data_type"], t["step"], t["planned"], t["done"]) for t in tasks)


def progress_of(tasks: Iterable[tuple[str, str, int, int]]) -> tuple[Progress, ...]:
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
    return read_job(row, await conn.fetch(Q["job_tasks"], job_id), reviews)


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


def fake_key_context(job_id: uuid.UUID) -> str:
    """What a job's own key for its fakes is wrapped for."""
    return f"job:{job_id}"
