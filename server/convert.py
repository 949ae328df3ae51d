"""Jobs as protobuf messages."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from atomicrm.privacy.v1 import privacy_pb2 as pb
from server import export
from server.holds import LegalHold
from server.job_model import Job, JobKind, JobState, ReasonCode
from server.suppressions import Entry, Identifier, IdentifierKind

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
# The proto's ReasonCode by number; the stored value is the Python enum's.
REASON_FROM_PROTO = {
    pb.REASON_CODE_UNSPECIFIED: ReasonCode.UNSPECIFIED,
    pb.REASON_CODE_DATA_SUBJECT_REQUEST: ReasonCode.DATA_SUBJECT_REQUEST,
    pb.REASON_CODE_ACCOUNT_CLOSED: ReasonCode.ACCOUNT_CLOSED,
    pb.REASON_CODE_RETENTION: ReasonCode.RETENTION,
    pb.REASON_CODE_LEGAL_OBLIGATION: ReasonCode.LEGAL_OBLIGATION,
    pb.REASON_CODE_OPERATOR_CORRECTION: ReasonCode.OPERATOR_CORRECTION,
    pb.REASON_CODE_OTHER: ReasonCode.OTHER,
}
REASON_TO_PROTO = {v: k for k, v in REASON_FROM_PROTO.items()}
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
        needs_review=[
            pb.ReviewItem(file_id=r.file_id, data_type=r.data_type, reason=r.reason)
            for r in job.needs_review
        ],
        cancel_requested=job.cancel_requested,
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


def identifier_of(message: pb.Identifier) -> Identifier | None:
    """The identifier a message holds; None when it has neither field."""
    which = message.WhichOneof("kind")
    if which == "email":
        return Identifier(IdentifierKind.EMAIL, message.email)
    if which == "phone":
        return Identifier(IdentifierKind.PHONE, message.phone)
    return None


def suppression_to_proto(entry: Entry) -> pb.Suppression:
    """An entry as ListSuppressions shows it: its hash, never an identifier."""
    try:
        code = REASON_TO_PROTO[ReasonCode(entry.reason_code)]
    except ValueError:  # a code this version does not know
        code = pb.REASON_CODE_UNSPECIFIED
    return pb.Suppression(
        identifier_hash=entry.identifier_hash.hex(),
        kind=entry.kind.value,
        created_at=_ts(entry.created_at),
        reason_code=code,
        job_id=str(entry.job_id) if entry.job_id else "",
        actor=entry.actor,
    )


# A file's contents travel in chunks of at most this many bytes.
CHUNK_BYTES = 64 * 1024


class ExportPacker:
    """Packs export items into messages, in order: a block of records is a message;
    file parts travel many to a message (per-message cost dominates otherwise), up
    to `max_items` or about `max_bytes` each."""

    def __init__(self, max_items: int, max_bytes: int) -> None:
        self._max_items = max_items
        self._max_bytes = max_bytes
        self._files = pb.ExportFiles()
        self._items = 0
        self._bytes = 0

    def add(self, item: export.Part) -> list[pb.ExportChunk]:
        """The messages that are full once `item` is in."""
        if isinstance(item, export.Records):
            lines = pb.ExportRecordLines(
                data_type=item.data_type, ndjson=item.ndjson, count=item.count, kind=item.kind
            )
            return [*self.flush(), pb.ExportChunk(lines=lines)]
        ready: list[pb.ExportChunk] = []
        if isinstance(item, export.MissingFile):
            self._files.missing.add(file_id=item.file_id, path=item.path, reason=item.reason)
            self._part(0, ready)
            return ready
        data, last = item.data, isinstance(item, export.ExportedFile)
        for offset in range(0, max(len(data), 1), CHUNK_BYTES):
            piece = data[offset : offset + CHUNK_BYTES]  # a small file's slice is itself
            self._files.chunks.add(
                file_id=item.file_id,
                path=item.path,
                offset=item.offset + offset,  # a large file's ranges come one by one
                data=piece,
                last=last and offset + CHUNK_BYTES >= len(data),
            )
            self._part(len(piece), ready)
        if isinstance(item, export.ExportedFile):
            size = item.offset + len(data)
            self._files.done.add(
                file_id=item.file_id, path=item.path, size_bytes=size, sha256=item.sha256
            )
            self._part(0, ready)
        return ready

    def _part(self, size: int, ready: list[pb.ExportChunk]) -> None:
        """Count one part in; a message into `ready` once there are enough."""
        self._items += 1
        self._bytes += size
        if self._items >= self._max_items or self._bytes >= self._max_bytes:
            ready.extend(self.flush())

    def flush(self) -> list[pb.ExportChunk]:
        """The file parts packed so far, as a message (none when there are none)."""
        if not (self._files.chunks or self._files.done or self._files.missing):
            return []
        ready = [pb.ExportChunk(files=self._files)]
        self._files = pb.ExportFiles()
        self._items = self._bytes = 0
        return ready


def export_manifest(manifest: export.Manifest) -> pb.ExportChunk:
    return pb.ExportChunk(
        manifest=pb.ExportManifest(
            schema_version=manifest.schema_version,
            record_counts=manifest.record_counts,
            snapshot_at=_ts(manifest.snapshot_at),
        )
    )
