"""What a job that has not ended waits for, in words: its not_before time, the legal
holds that keep it, and its deadline. An operator who sees "scheduled" or "held" must
not have to guess until when, or why."""

from __future__ import annotations

from datetime import UTC

from google.protobuf.timestamp_pb2 import Timestamp

from atomicrm.privacy.v1 import privacy_pb2 as pb

_ENDED = frozenset({pb.JOB_STATE_SUCCEEDED, pb.JOB_STATE_FAILED, pb.JOB_STATE_CANCELLED})


def moment(ts: Timestamp) -> str:
    """A time to the minute, in UTC, as the service keeps them."""
    return ts.ToDatetime(tzinfo=UTC).strftime("%Y-%m-%d %H:%M UTC")


def holds(job: pb.Job) -> str:
    """The legal holds keeping a held job, for a sentence: "legal hold X" or "legal holds
    X, Y"."""
    ids = list(job.legal_hold_ids)
    return f"legal hold{'s' if len(ids) > 1 else ''} {', '.join(ids)}"


def waiting_for(job: pb.Job) -> str:
    """What the job waits for before it can run, as a phrase ("not before …", "the
    release of legal hold …"); "" when it waits for a worker only, or has ended."""
    if job.state == pb.JOB_STATE_SCHEDULED and job.HasField("not_before"):
        return f"its start time: not before {moment(job.not_before)}"
    if job.state == pb.JOB_STATE_HELD:
        if not job.legal_hold_ids:
            return "the release of a legal hold"
        release = " and ".join(f"privacyctl hold release {h}" for h in job.legal_hold_ids)
        return f"the release of {holds(job)} ({release})"
    return ""


def timing(job: pb.Job) -> str:
    """One line for a job that has not ended: what it waits for, and its deadline."""
    if job.state in _ENDED:
        return ""
    parts = []
    if wait := waiting_for(job):
        parts.append(f"waits for {wait}")
    if job.HasField("deadline"):
        parts.append(f"deadline {moment(job.deadline)}")
    return "; ".join(parts)


def waiting_line(job: pb.Job, state: str) -> str:
    """For a command that follows the job: what it is waiting for; "" when nothing
    but a worker. `state` is the job's state in words."""
    wait = waiting_for(job)
    return f"job {job.id} is {state}: waiting for {wait}" if wait else ""
