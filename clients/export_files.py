"""Write an Export stream to disk: a zip archive or NDJSON, with progress.

Zip layout (docs/export.md): manifest.json, one <data_type>.ndjson per data type,
files/<id>-<name>. NDJSON: one {"data_type", "record"} object a line, then one
{"manifest": …} line. File contents go only into the zip.
"""

from __future__ import annotations

import json
import time
import zipfile
from collections.abc import AsyncIterator
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


def records_of(chunk: pb.ExportChunk) -> list[pb.ExportRecord]:
    """The records a chunk carries: one, several, or none (a file chunk, the manifest)."""
    which = chunk.WhichOneof("payload")
    if which == "record":
        return [chunk.record]
    if which == "records":
        return list(chunk.records.records)
    return []


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


def manifest_dict(manifest: pb.ExportManifest, files: list[pb.ExportedFile]) -> dict[str, Any]:
    """The manifest as the documented JSON object (docs/export-manifest.schema.json),
    with the file entries that came on the stream (`files_done_of`)."""
    return {
        "schema_version": manifest.schema_version,
        "snapshot_at": manifest.snapshot_at.ToDatetime().isoformat() + "Z",
        "record_counts": dict(sorted(manifest.record_counts.items())),
        "files": [
            {"file_id": f.file_id, "path": f.path, "size_bytes": f.size_bytes, "sha256": f.sha256}
            for f in [*manifest.files, *files]
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
                for record in records_of(chunk):
                    line = (record.json + "\n").encode()
                    switch_to(f"{record.data_type}.ndjson").write(line)
                    records += 1
                    bars.update(task, advance=len(line), records=records)
                for piece in file_chunks_of(chunk):
                    switch_to(piece.path).write(piece.data)
                    bars.update(task, advance=len(piece.data))
                files.extend(files_done_of(chunk))
                if which == "manifest":
                    if entry is not None:
                        entry.close()
                        entry = None
                    manifest = manifest_dict(chunk.manifest, files)
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
    async for chunk in chunks:
        for r in records_of(chunk):
            out.write(json.dumps({"data_type": r.data_type, "record": json.loads(r.json)}) + "\n")
        files.extend(files_done_of(chunk))
        if chunk.WhichOneof("payload") == "manifest":
            manifest = manifest_dict(chunk.manifest, files)
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
