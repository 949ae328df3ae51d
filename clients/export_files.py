"""Write an Export stream to disk: a zip archive or NDJSON, with progress.

Zip layout (docs/export.md): index.html (for the person: export_index), manifest.json,
one <kind>.ndjson per kind of record (contacts, notes, deals, messages, ...),
files/<id>-<name>. NDJSON: one {"data_type", "record"} object a line, then one
{"manifest": …} line. File contents go only into the zip; files the server could
not find in its blob store are listed in the manifest's `missing_files`.
"""

from __future__ import annotations

import itertools
import json
import re
import time
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal, TextIO

from rich.console import Console
from rich.progress import (
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from atomicrm.privacy.v1 import privacy_pb2 as pb
from clients.export_index import IndexPage

# The version of manifest.json as this client writes it (docs/export-manifest.schema.json);
# the stream's own manifest has a version of its own.
MANIFEST_SCHEMA_VERSION = "2"
Format = Literal["zip", "ndjson"]
FORMATS: tuple[Format, ...] = ("zip", "ndjson")
_SUFFIXES: dict[str, Format] = {".zip": "zip", ".ndjson": "ndjson", ".jsonl": "ndjson"}
# What a record file's name keeps of a kind or data type the server named.
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_\-]+")


def export_format(out: str, given: str | None) -> Format:
    """The format to write to `out` (a path, or "-" for stdout): `given`, else the one
    the name's suffix says. ValueError, saying what to do, when the name says none, or
    another than `given`, or when a zip would go to stdout."""
    if out == "-":
        if given == "zip":
            raise ValueError("a zip archive cannot go to stdout: give --out NAME.zip")
        return "ndjson"
    named = _SUFFIXES.get(Path(out).suffix.lower())
    if given is not None:
        if given not in FORMATS:
            raise ValueError(f"--format {given}: not one of {', '.join(FORMATS)}")
        if named is not None and named != given:
            raise ValueError(f"--out {out} names a {named} file but --format is {given}")
        return "zip" if given == "zip" else "ndjson"
    if named is None:
        raise ValueError(
            f"--out {out}: the format cannot be told from the name; name it .zip, "
            ".ndjson or .jsonl, or give --format zip|ndjson"
        )
    return named


@dataclass(frozen=True)
class Requested:
    """Whose export it is, as asked: written into the manifest and onto the page."""

    tenant_id: str
    subject: pb.Subject

    def subject_dict(self) -> dict[str, Any]:
        """The subject as the manifest has it: its one field and value."""
        which = self.subject.WhichOneof("kind")
        if which is None:
            return {}
        if which == "whole_tenant":
            return {which: self.subject.whole_tenant.confirm_tenant_id}
        value: Any = getattr(self.subject, which)
        return {which: value}


@dataclass(frozen=True)
class Lines:
    """Records of one data type as NDJSON: `count` JSON objects, each ending in "\\n".
    `kind`: the table all of them come from; empty from a server that did not say."""

    data_type: str
    ndjson: bytes
    count: int
    kind: str = ""


def lines_of(chunk: pb.ExportChunk) -> list[Lines]:
    """The records a chunk carries, as NDJSON per data type and kind, in order (none for
    a file part or the manifest). Reads what older servers sent (`record`, `records`)
    too, each record's kind read from its JSON."""
    which = chunk.WhichOneof("payload")
    if which == "lines":
        lines = chunk.lines
        return [Lines(lines.data_type, lines.ndjson, lines.count, lines.kind)]
    if which == "record":
        records = [chunk.record]
    elif which == "records":
        records = list(chunk.records.records)
    else:
        return []
    runs = []
    for (data_type, kind), group in itertools.groupby(
        records, key=lambda r: (r.data_type, _kind_of(r.json))
    ):
        jsons = [r.json for r in group]
        runs.append(Lines(data_type, "".join(j + "\n" for j in jsons).encode(), len(jsons), kind))
    return runs


def _kind_of(record_json: str) -> str:
    value = json.loads(record_json)
    kind = value.get("kind") if isinstance(value, dict) else None
    return kind if isinstance(kind, str) else ""


@dataclass
class RecordFile:
    """One NDJSON file of an archive: records of one data type and kind."""

    path: str
    data_type: str
    kind: str
    count: int = 0

    def entry(self) -> dict[str, Any]:
        """The file as manifest.json lists it (`records`)."""
        return {
            "path": self.path,
            "data_type": self.data_type,
            "kind": self.kind,
            "count": self.count,
        }


class RecordFiles:
    """Which file each run of records goes to: <kind>.ndjson, so notes and deals are
    apart from contacts. A kind another data type has already filed is
    <data_type>.<kind>.ndjson; a kind that comes back after another (a zip entry,
    once closed, takes no more) continues in <name>-2.ndjson."""

    def __init__(self) -> None:
        self.files: list[RecordFile] = []

    def file_for(self, run: Lines) -> RecordFile:
        current = self.files[-1] if self.files else None
        if current is not None and (current.data_type, current.kind) == (run.data_type, run.kind):
            return current
        taken = {f.path for f in self.files}
        name = _safe_name(run.kind or run.data_type)
        if f"{name}.ndjson" in taken:
            name = f"{_safe_name(run.data_type)}.{name}"
        path, n = f"{name}.ndjson", 2
        while path in taken:
            path, n = f"{name}-{n}.ndjson", n + 1
        self.files.append(RecordFile(path, run.data_type, run.kind))
        return self.files[-1]


def _safe_name(name: str) -> str:
    """A server's name for a kind or data type, as a file name that stays in the archive."""
    return _UNSAFE_NAME.sub("_", name).strip("_-") or "records"


def records_of(chunk: pb.ExportChunk) -> list[pb.ExportRecord]:
    """The records a chunk carries, one by one (none for a file part or the manifest)."""
    return [
        pb.ExportRecord(data_type=run.data_type, json=line.decode())
        for run in lines_of(chunk)
        # Split at newlines only: a JSON text may hold other line separators (U+2028).
        for line in run.ndjson.split(b"\n")[:-1]
    ]


def file_chunks_of(chunk: pb.ExportChunk) -> list[pb.FileChunk]:
    """The pieces of file content a chunk carries, in order."""
    which = chunk.WhichOneof("payload")
    if which == "files":
        return list(chunk.files.chunks)
    if which == "file_chunk":
        return [chunk.file_chunk]
    return []


def files_done_of(chunk: pb.ExportChunk) -> list[pb.ExportedFile]:
    """The entries (size, SHA-256) of the files whose last chunk came in this chunk."""
    which = chunk.WhichOneof("payload")
    if which == "files":
        return list(chunk.files.done)
    if which == "file_done":
        return [chunk.file_done]
    return []


def missing_of(chunk: pb.ExportChunk) -> list[pb.MissingFile]:
    """The files a chunk lists as missing: their records went out, their contents
    are not in the server's blob store."""
    if chunk.WhichOneof("payload") == "files":
        return list(chunk.files.missing)
    return []


def manifest_dict(
    manifest: pb.ExportManifest,
    files: list[pb.ExportedFile],
    missing: list[pb.MissingFile] | None = None,
    *,
    records: list[dict[str, Any]] | None = None,
    requested: Requested | None = None,
) -> dict[str, Any]:
    """The manifest as the documented JSON object (docs/export-manifest.schema.json),
    with the file entries that came on the stream (`files_done_of`, `missing_of`), the
    record files written (`records`) and whose export it is (`requested`)."""
    about: dict[str, Any] = {}
    if requested is not None:
        about = {"tenant_id": requested.tenant_id, "subject": requested.subject_dict()}
    return {
        "schema_version": MANIFEST_SCHEMA_VERSION,
        **about,
        "snapshot_at": manifest.snapshot_at.ToDatetime().isoformat() + "Z",
        "record_counts": dict(sorted(manifest.record_counts.items())),
        "records": records or [],
        "files": [
            {"file_id": f.file_id, "path": f.path, "size_bytes": f.size_bytes, "sha256": f.sha256}
            for f in [*manifest.files, *files]
        ],
        "missing_files": [
            {"file_id": m.file_id, "path": m.path, "reason": m.reason} for m in missing or []
        ],
    }


async def write_zip(
    chunks: AsyncIterator[pb.ExportChunk],
    out: Path,
    console: Console | None = None,
    *,
    requested: Requested | None = None,
) -> dict[str, Any]:
    """Write the stream as a zip archive; return the manifest. Nothing is kept in memory
    but the entry being written, the file entries and the first rows of each kind
    (for index.html)."""
    tmp = out.with_name(out.name + ".partial")
    manifest: dict[str, Any] | None = None
    with _progress(console) as bars, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        task = bars.add_task("export", total=None, records=0)
        writer = _ZipWriter(archive)
        try:
            async for chunk in chunks:
                for run in lines_of(chunk):
                    writer.records(run)
                    bars.update(task, advance=len(run.ndjson), records=writer.record_count)
                for piece in file_chunks_of(chunk):
                    writer.entry(piece.path).write(piece.data)
                    bars.update(task, advance=len(piece.data))
                writer.files.extend(files_done_of(chunk))
                writer.missing.extend(missing_of(chunk))
                if chunk.WhichOneof("payload") == "manifest":
                    manifest = writer.finish(chunk.manifest, requested)
        except BaseException:
            writer.close_entry()
            archive.close()
            tmp.unlink(missing_ok=True)
            raise
    if manifest is None:
        tmp.unlink(missing_ok=True)
        raise RuntimeError("the export stream ended without its manifest")
    tmp.replace(out)  # a half-written archive never takes the real name
    return manifest


class _ZipWriter:
    """The entries of an export archive, one open at a time: records arrive one kind
    after another, then files one after another, and zipfile writes one entry at once."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self._archive = archive
        self._entry: IO[bytes] | None = None
        self._entry_name = ""
        self._record_files = RecordFiles()
        self._page = IndexPage()
        self.record_count = 0
        self.files: list[pb.ExportedFile] = []
        self.missing: list[pb.MissingFile] = []

    def records(self, run: Lines) -> None:
        """Write a run of records to its kind's file."""
        target = self._record_files.file_for(run)
        self.entry(target.path).write(run.ndjson)
        target.count += run.count
        self.record_count += run.count
        self._page.add(target.path, run.ndjson)

    def entry(self, name: str) -> IO[bytes]:
        """The entry `name`, open for writing (the one open before it closed)."""
        if self._entry is not None and self._entry_name != name:
            self.close_entry()
        if self._entry is None:
            info = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            self._entry, self._entry_name = self._archive.open(info, "w"), name
        return self._entry

    def close_entry(self) -> None:
        if self._entry is not None:
            self._entry.close()
            self._entry = None

    def finish(self, manifest: pb.ExportManifest, requested: Requested | None) -> dict[str, Any]:
        """Write manifest.json and index.html; return the manifest."""
        self.close_entry()
        records = [f.entry() for f in self._record_files.files]
        written = manifest_dict(
            manifest, self.files, self.missing, records=records, requested=requested
        )
        self._archive.writestr("manifest.json", json.dumps(written, indent=2) + "\n")
        self._archive.writestr("index.html", self._page.render(written))
        return written


async def write_ndjson(
    chunks: AsyncIterator[pb.ExportChunk], out: TextIO, *, requested: Requested | None = None
) -> dict[str, Any] | None:
    """Write records and the manifest as NDJSON lines; file contents are skipped."""
    manifest: dict[str, Any] | None = None
    files: list[pb.ExportedFile] = []
    missing: list[pb.MissingFile] = []
    counts: dict[tuple[str, str], int] = {}  # records per data type and kind
    async for chunk in chunks:
        for run in lines_of(chunk):
            # Each record as it came, inside the line's object: not parsed and
            # written again.
            head = '{"data_type": ' + json.dumps(run.data_type) + ', "record": '
            for line in run.ndjson.decode().split("\n")[:-1]:
                out.write(head + line + "}\n")
            key = (run.data_type, run.kind)
            counts[key] = counts.get(key, 0) + run.count
        files.extend(files_done_of(chunk))
        missing.extend(missing_of(chunk))
        if chunk.WhichOneof("payload") == "manifest":
            records = [
                {"data_type": data_type, "kind": kind, "count": count}
                for (data_type, kind), count in counts.items()
            ]
            manifest = manifest_dict(
                chunk.manifest, files, missing, records=records, requested=requested
            )
            out.write(json.dumps({"manifest": manifest}) + "\n")
    return manifest


def _progress(console: Console | None) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        TextColumn("{task.fields[records]} records"),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=console is None,
    )
