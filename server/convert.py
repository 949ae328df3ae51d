"""Jobs as protobuf messages."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from atomicrm.privacy.v1 import privacy_pb2 as pb
from server import export
from server.holds import LegalHold
from server.jobs import Job, JobKind, JobState

STATE_TO_PROTO = {
    JobState.SCHEDULED: pb.JOB_STATE_SCHEDULED,
    JobState.PENDING: pb.JOB_STATE_PENDING,
    JobState.RUNNING: pb.JOB_STATE_RUNNING,
    JobState.SUCCEEDED: pb.JOB_STATE_SUCCEEDED,
    JobState.FAILED: pb.JOB_STATE_FAILED,
    JobState.CANCELLED: pb.JOB_STATE_CANCELLED,
    JobState.HELD: pb.JOB_STATE_HELD,
}
KIND_TO_PROTO = {JobKind.ERASE: pb.JOB_KIND_ERASE, JobKind.ANONYMIZE: pb.JOB_KIND_ANONYMIZE}
STATE_FROM_PROTO = {v: k for k, v in STATE_TO_PROTO.items()}
KIND_FROM_PROTO = {v: k for k, v in KIND_TO_PROTO.items()}


def _ts(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def job_to_proto(job: Job) -> pb.Job:
    return pb.Job(
        id=str(job.id),
        tenant_id=job.tenant_id,
        kind=KIND_TO_PROTO[job.kind],
        state=STATE_TO_PROTO[job.state],
        progress=[
            pb.DataTypeProgress(
                data_type=p.data_type,
                planned=p.planned,
                done=p.done,
                mentions_redacted=p.mentions,
            )
            for p in job.progress
        ],
        created_at=_ts(job.created_at),
        started_at=_ts(job.started_at),
        finished_at=_ts(job.finished_at),
        deadline=_ts(job.deadline),
        not_before=_ts(job.not_before),
        error_message=job.error,
        dry_run=job.dry_run,
        subject_hash=job.subject_hash,
        priority=job.priority,
        legal_hold_ids=[str(h) for h in job.hold_ids],
    )


def hold_to_proto(hold: LegalHold) -> pb.LegalHold:
    return pb.LegalHold(
        id=str(hold.id),
        tenant_id=hold.tenant_id,
        subject_hash=hold.subject_hash,
        whole_tenant=hold.whole_tenant,
        reason=hold.reason,
        created_at=_ts(hold.created_at),
        released_at=_ts(hold.released_at),
    )


def export_records(records: list[export.Record]) -> pb.ExportChunk:
    return pb.ExportChunk(
        records=pb.ExportRecords(
            records=[pb.ExportRecord(data_type=r.data_type, json=r.json) for r in records]
        )
    )


def export_files(parts: list[export.FileChunk | export.ExportedFile]) -> pb.ExportChunk:
    files = pb.ExportFiles()
    for part in parts:
        if isinstance(part, export.FileChunk):
            files.chunks.append(
                pb.FileChunk(
                    file_id=part.file_id,
                    path=part.path,
                    offset=part.offset,
                    data=part.data,
                    last=part.last,
                )
            )
        else:
            files.done.append(
                pb.ExportedFile(
                    file_id=part.file_id,
                    path=part.path,
                    size_bytes=part.size_bytes,
                    sha256=part.sha256,
                )
            )
    return pb.ExportChunk(files=files)


def export_manifest(manifest: export.Manifest) -> pb.ExportChunk:
    return pb.ExportChunk(
        manifest=pb.ExportManifest(
            schema_version=manifest.schema_version,
            record_counts=manifest.record_counts,
            snapshot_at=_ts(manifest.snapshot_at),
        )
    )
