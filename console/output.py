"""How privacyctl's listings print: `-o table` (the default), `-o wide`, `-o json`.

Tables are plain text, one line a row, columns padded to their widest cell and never
cut: an id must paste whole into `watch`, `cancel` or `hold release`, whatever the
terminal's width (a line wider than the terminal wraps, and stays whole). JSON is one
document on stdout for scripts: an object named after what is listed, with snake_case
fields, enums as lower-case names and times as ISO 8601 in UTC (docs/cli.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import IO, TYPE_CHECKING, Any, Generic, Literal, TypeVar

from google.protobuf.timestamp_pb2 import Timestamp

from atomicrm.privacy.v1 import privacy_pb2 as pb
from clients.progress import STATE_NAMES
from console import waits

if TYPE_CHECKING:  # the server is loaded only by the commands that run it
    from server.credentials import Credential
    from server.retention import RetentionPolicy

T = TypeVar("T")
_GAP = "  "


class Format(StrEnum):
    TABLE = "table"
    WIDE = "wide"
    JSON = "json"


def add_option(cmd: argparse.ArgumentParser) -> None:
    """`-o/--output table|wide|json`."""
    cmd.add_argument(
        "-o",
        "--output",
        type=Format,
        choices=list(Format),
        default=Format.TABLE,
        metavar="FORMAT",
        help="table (default; ids never cut), wide (every column) or json (for scripts)",
    )


@dataclass(frozen=True)
class Column(Generic[T]):
    """A table column: its header and its cell; `wide`: only with -o wide."""

    header: str
    cell: Callable[[T], str]
    wide: bool = False


def emit(
    fmt: Format,
    name: str,
    items: Sequence[T],
    columns: Sequence[Column[T]],
    record: Callable[[T], dict[str, Any]],
    *,
    extra: dict[str, Any] | None = None,
    out: IO[str] | None = None,
) -> None:
    """Print `items` as a table, or as {name: [records], **extra} in JSON."""
    out = out or sys.stdout
    if fmt is Format.JSON:
        document = {name: [record(i) for i in items], **(extra or {})}
        print(json.dumps(document, indent=2, ensure_ascii=False), file=out)
        return
    shown = [c for c in columns if fmt is Format.WIDE or not c.wide]
    for line in table([c.header for c in shown], [[c.cell(i) for c in shown] for i in items]):
        print(line, file=out)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Lines of a plain table: columns padded to their widest cell, nothing cut."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    return [
        _GAP.join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [list(headers), *rows]
    ]


def timestamp(ts: Timestamp, *, present: bool = True) -> str | None:
    """A protobuf time as ISO 8601 UTC to the second; None when unset."""
    if not present:
        return None
    return ts.ToDatetime(tzinfo=UTC).isoformat(timespec="seconds")


def when(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat(timespec="seconds")


def _text(value: str | None) -> str:
    return "-" if not value else value


# Jobs (privacyctl jobs)


def _kind(job: pb.Job) -> str:
    return pb.JobKind.Name(job.kind).removeprefix("JOB_KIND_").lower()


def job_state(job: pb.Job) -> str:
    """The state as a person reads it: "running (cancelling)", "succeeded (dry run)"."""
    text = STATE_NAMES.get(job.state, "?")
    if job.cancel_requested:
        text += " (cancelling)"
    if job.dry_run:
        text += " (dry run)"
    return text


_JobTime = Literal["created_at", "not_before", "deadline", "started_at", "finished_at"]


def _job_time(job: pb.Job, field: _JobTime) -> str | None:
    return timestamp(getattr(job, field), present=job.HasField(field))


def _progress(job: pb.Job) -> str:
    return ", ".join(f"{p.data_type} {p.done}/{p.planned}" for p in job.progress)


def _waits_for(job: pb.Job) -> str:
    """The table's short form of what an open job waits for (console/waits.py)."""
    if job.state == pb.JOB_STATE_SCHEDULED and job.HasField("not_before"):
        return f"not before {waits.moment(job.not_before)}"
    return waits.holds(job) if job.state == pb.JOB_STATE_HELD else ""


def job_record(job: pb.Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "tenant_id": job.tenant_id,
        "kind": _kind(job),
        "state": STATE_NAMES.get(job.state, "unspecified"),
        "cancel_requested": job.cancel_requested,
        "dry_run": job.dry_run,
        "priority": job.priority,
        "subject_hash": job.subject_hash,
        "created_at": _job_time(job, "created_at"),
        "not_before": _job_time(job, "not_before"),
        "deadline": _job_time(job, "deadline"),
        "started_at": _job_time(job, "started_at"),
        "finished_at": _job_time(job, "finished_at"),
        "progress": [
            {
                "data_type": p.data_type,
                "planned": p.planned,
                "done": p.done,
                "mentions_redacted": p.mentions_redacted,
            }
            for p in job.progress
        ],
        "needs_review": [
            {"file_id": r.file_id, "data_type": r.data_type, "reason": r.reason}
            for r in job.needs_review
        ],
        "legal_hold_ids": list(job.legal_hold_ids),
        "error": job.error_message,
    }


def jobs(
    fmt: Format, found: Sequence[pb.Job], *, tenant_column: bool, out: IO[str] | None = None
) -> None:
    """`privacyctl jobs`: the tenant's column with --all-tenants (and in wide)."""
    columns: list[Column[pb.Job]] = [
        Column("id", lambda j: j.id),
        Column("tenant", lambda j: j.tenant_id, wide=not tenant_column),
        Column("kind", _kind),
        Column("state", job_state),
        Column("created", lambda j: _text(_job_time(j, "created_at"))),
        Column("waits_for", lambda j: _text(_waits_for(j))),
        Column("deadline", lambda j: _text(waits.moment(j.deadline) if waits.timing(j) else "")),
        Column("not_before", lambda j: _text(_job_time(j, "not_before")), wide=True),
        Column("finished", lambda j: _text(_job_time(j, "finished_at")), wide=True),
        Column("priority", lambda j: str(j.priority), wide=True),
        Column("progress", lambda j: _text(_progress(j))),
        Column(
            "needs_review", lambda j: _text(", ".join(f"file {r.file_id}" for r in j.needs_review))
        ),
        Column("subject_hash", lambda j: _text(j.subject_hash), wide=True),
        Column("error", lambda j: _text(j.error_message)),
    ]
    emit(fmt, "jobs", found, columns, job_record, out=out)


# Legal holds (privacyctl hold list)


def hold_record(hold: pb.LegalHold) -> dict[str, Any]:
    return {
        "id": hold.id,
        "tenant_id": hold.tenant_id,
        "whole_tenant": hold.whole_tenant,
        "subject_hash": hold.subject_hash or None,
        "reason": hold.reason,
        "created_at": timestamp(hold.created_at, present=hold.HasField("created_at")),
        "released_at": timestamp(hold.released_at, present=hold.HasField("released_at")),
    }


def holds(fmt: Format, found: Sequence[pb.LegalHold]) -> None:
    columns: list[Column[pb.LegalHold]] = [
        Column("id", lambda h: h.id),
        Column("tenant", lambda h: h.tenant_id, wide=True),
        Column("state", lambda h: "released" if h.HasField("released_at") else "active"),
        Column("covers", lambda h: "whole tenant" if h.whole_tenant else "subject"),
        Column("subject_hash", lambda h: _text(h.subject_hash), wide=True),
        Column("created", lambda h: _text(hold_record(h)["created_at"])),
        Column("released", lambda h: _text(hold_record(h)["released_at"]), wide=True),
        Column("reason", lambda h: h.reason),
    ]
    emit(fmt, "holds", found, columns, hold_record)


# Credentials (privacyctl credentials list)


def credential_record(credential: Credential) -> dict[str, Any]:
    return {
        "name": credential.caller.name,
        "scopes": sorted(credential.caller.scopes),
        "tenants": sorted(credential.caller.tenants),
        "created_at": when(credential.created_at),
        "revoked_at": when(credential.revoked_at),
    }


def _credential_state(credential: Credential) -> str:
    revoked = credential.revoked_at
    return f"revoked {revoked.astimezone(UTC):%Y-%m-%d}" if revoked else "active"


def credentials(fmt: Format) -> Callable[[Sequence[Credential]], None]:
    """`privacyctl credentials list`'s printer (the listing is read by server.commands)."""
    columns: list[Column[Credential]] = [
        Column("name", lambda c: c.caller.name),
        Column("state", _credential_state),
        Column("scopes", lambda c: ",".join(sorted(c.caller.scopes))),
        Column("tenants", lambda c: ",".join(sorted(c.caller.tenants))),
        Column("created", lambda c: _text(when(c.created_at)), wide=True),
    ]
    return lambda found: emit(fmt, "credentials", found, columns, credential_record)


# Retention rules (privacyctl retention show)


def _months(value: int | None) -> str:
    return f"{value} months" if value else "off"


def _days(value: int | None) -> str:
    return "off" if value is None else f"{value} days"


def retention(fmt: Format) -> Callable[[str, RetentionPolicy], None]:
    """`privacyctl retention show`'s printer: one tenant's rules."""

    def show(tenant_id: str, rules: RetentionPolicy) -> None:
        if fmt is Format.JSON:
            document = {
                "tenant_id": tenant_id,
                "activity_months": rules.activity_months,
                "closed_account_days": rules.closed_account_days,
            }
            print(json.dumps({"retention": document}, indent=2))
            return
        headers = ["tenant", "anonymize_activity_older_than", "erase_accounts_closed_for"]
        row = [tenant_id, _months(rules.activity_months), _days(rules.closed_account_days)]
        for line in table(headers, [row]):
            print(line)

    return show
