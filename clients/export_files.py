"""Write an Export stream to disk: a zip archive or NDJSON, with progress.

Zip layout (docs/export.md): manifest.json, one <data_type>.ndjson per data type,
files/<id>-<name>. NDJSON: one {"data_type", "record"} object a line, then one
{"manifest": …} line. File contents go only into the zip; files the server could
not find in its blob store are listed in the manifest's `missing_files`.
"""

from __future__ import annotations

import itertools
import json
import time
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TextIO

from rich.console import Console
from rich.progress import (
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from atomicrm.privacy.v1 import privacy_pb2 as pb


@dataclass(frozen=True)
class Lines:
    """Records of one data type as NDJSON: `count` JSON objects, each ending in "\\n"."""

    data_type: str
    ndjson: bytes
    count: int


def lines_of(chunk: pb.ExportChunk) -> list[Lines]:
    """The records a chunk carries, as NDJSON per data type, in order (none for a file
    part or the manifest). Reads what older servers sent (`record`, `records`) too."""
    which = chunk.WhichOneof("payload")
    if which == "lines":
        return [Lines(chunk.lines.data_type, chunk.lines.ndjson, chunk.lines.count)]
    if which == "record":
        records = [chunk.record]
    elif which == "records":
        records = list(chunk.records.records)
    else:
        return []
    runs = []
    for data_type, group in itertools.groupby(records, key=lambda r: r.data_type):
        jsons = [r.json for r in group]
        runs.append(Lines(data_type, "".join(j + "\n" for j in jsons).encode(), len(jsons)))
    return runs


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
) -> dict[str, Any]:
    """The manifest as the documented JSON object (docs/export-manifest.schema.json),
    with the file entries that came on the stream (`files_done_of`, `missing_of`)."""
    return {
        "schema_version": manifest.schema_version,
        "snapshot_at": manifest.snapshot_at.ToDatetime().isoformat() + "Z",
        "record_counts": dict(sorted(manifest.record_counts.items())),
        "files": [
            {"file_id": f.file_id, "path": f.path, "size_bytes": f.size_bytes, "sha256": f.sha256}
            for f in [*manifest.files, *files]
        ],
        "missing_files": [
            {"file_id": m.file_id, "path": m.path, "reason": m.reason} for m in missing or []
        ],
    }


async def write_zip(
    chunks: AsyncIterator[pb.ExportChunk], out: Path, console: Console | None = None
) -> dict[str, Any]:
    """Write the stream as a zip archive; return the manifest. Nothing is kept in memory
    but the file being written."""
    tmp = out.with_name(out.name + ".partial")
    manifest: dict[str, Any] | None = None
    records = 0
    with _progress(console) as bars, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        task = bars.add_task("export", total=None, records=0)
        # Records arrive one data type after another, then files one after another:
        # zipfile writes one entry at a time, so one handle is open at most.
        entry: IO[bytes] | None = None
        entry_name = ""
        files: list[pb.ExportedFile] = []
        missing: list[pb.MissingFile] = []

        def switch_to(name: str) -> IO[bytes]:
            nonlocal entry, entry_name
            if entry is not None and entry_name != name:
                entry.close()
                entry = None
            if entry is None:
                info = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
                info.compress_type = zipfile.ZIP_DEFLATED
                entry, entry_name = archive.open(info, "w"), name
            return entry

        try:
            async for chunk in chunks:
                which = chunk.WhichOneof("payload")
                for run in lines_of(chunk):
                    switch_to(f"{run.data_type}.ndjson").write(run.ndjson)
                    records += run.count
                    bars.update(task, advance=len(run.ndjson), records=records)
                for piece in file_chunks_of(chunk):
                    switch_to(piece.path).write(piece.data)
                    bars.update(task, advance=len(piece.data))
                files.extend(files_done_of(chunk))
                missing.extend(missing_of(chunk))
                if which == "manifest":
                    if entry is not None:
                        entry.close()
                        entry = None
                    manifest = manifest_dict(chunk.manifest, files, missing)
                    archive.writestr("manifest.json", json.dumps(manifest, indent=2) + "\n")
        except BaseException:
            if entry is not None:
                entry.close()
            archive.close()
            tmp.unlink(missing_ok=True)
            raise
    if manifest is None:
        tmp.unlink(missing_ok=True)
        raise RuntimeError("the export stream ended without its manifest")
    tmp.replace(out)  # a half-written archive never takes the real name
    return manifest


async def write_ndjson(chunks: AsyncIterator[pb.ExportChunk], out: TextIO) -> dict[str, Any] | None:
    """Write records and the manifest as NDJSON lines; file contents are skipped."""
    manifest: dict[str, Any] | None = None
    files: list[pb.ExportedFile] = []
    missing: list[pb.MissingFile] = []
    async for chunk in chunks:
        for run in lines_of(chunk):
            # Each record as it came, inside the line's object: not parsed and
            # written again.
            head = '{"data_type": ' + json.dumps(run.data_type) + ', "record": '
            for line in run.ndjson.decode().split("\n")[:-1]:
                out.write(head + line + "}\n")
        files.extend(files_done_of(chunk))
        missing.extend(missing_of(chunk))
        if chunk.WhichOneof("payload") == "manifest":
            manifest = manifest_dict(chunk.manifest, files, missing)
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
