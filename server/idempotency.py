"""Idempotency keys: a key retried with the same request answers with the job it
made; with another request it is refused, and nothing is written."""

from __future__ import annotations

import json
from datetime import datetime

from db.connection import Connection
from server.errors import AlreadyExists
from server.job_model import Job, JobRequest, get
from server.queries import Q
from server.subjects import Subject


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def fingerprinted(request: JobRequest, subject: Subject) -> bytes:
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
    # Only when set: the fingerprints of jobs accepted before the field existed stay
    # what they were, so their retries still match.
    if request.skip_suppression:
        fields["skip_suppression"] = True
    return json.dumps(fields, sort_keys=True).encode()


async def idempotent_job(
    conn: Connection, request: JobRequest, subject_hash: str, fingerprint: str
) -> Job | None:
    """The job this request's idempotency key made; None when it made none yet;
    AlreadyExists when it was made by another request."""
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
