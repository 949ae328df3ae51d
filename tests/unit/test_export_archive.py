"""The export archive as the client writes it: which format, which file each kind of
record goes to, and an index.html whose size does not follow the export's."""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from atomicrm.privacy.v1 import privacy_pb2 as pb
from clients.export_files import Lines, RecordFiles, export_format, write_zip
from clients.export_index import CELL_CHARS, ROWS_SHOWN, IndexPage
from server.export import _Lines


@pytest.mark.parametrize(
    ("out", "given", "expected"),
    [
        ("a.zip", None, "zip"),
        ("A.ZIP", None, "zip"),
        ("a.ndjson", None, "ndjson"),
        ("a.jsonl", None, "ndjson"),
        ("-", None, "ndjson"),
        ("-", "ndjson", "ndjson"),
        ("a.txt", "zip", "zip"),
        ("a", "ndjson", "ndjson"),
        ("a.zip", "zip", "zip"),
    ],
)
def test_the_format_is_the_one_given_or_the_one_the_name_says(
    out: str, given: str | None, expected: str
) -> None:
    assert export_format(out, given) == expected


@pytest.mark.parametrize(
    ("out", "given", "says"),
    [
        ("a.txt", None, "--format zip|ndjson"),
        ("a", None, "--format zip|ndjson"),
        ("a.zip", "ndjson", "names a zip file"),
        ("a.jsonl", "zip", "names a ndjson file"),
        ("-", "zip", "cannot go to stdout"),
    ],
)
def test_a_format_that_cannot_be_told_is_an_error(out: str, given: str | None, says: str) -> None:
    with pytest.raises(ValueError, match=re.escape(says)):
        export_format(out, given)


def test_each_kind_gets_a_file_of_its_own() -> None:
    files = RecordFiles()
    runs = [
        Lines("contacts", b"", 1, "contacts"),
        Lines("contacts", b"", 2, "contacts"),  # the same file, still open
        Lines("contacts", b"", 1, "notes"),
        Lines("contacts", b"", 1, "deals"),
        Lines("crm_extra", b"", 1, "notes"),  # another data type's notes
        Lines("contacts", b"", 1, "notes"),  # notes again, after another kind
        Lines("../etc", b"", 1, "../passwd"),  # nothing leaves the archive's top
        Lines("legacy", b"", 1, ""),  # an older server: no kind
    ]
    paths = [files.file_for(run).path for run in runs]
    assert paths == [
        "contacts.ndjson",
        "contacts.ndjson",
        "notes.ndjson",
        "deals.ndjson",
        "crm_extra.notes.ndjson",
        "contacts.notes.ndjson",
        "passwd.ndjson",
        "legacy.ndjson",
    ]


def test_the_server_ends_a_block_where_the_kind_changes() -> None:
    lines = _Lines("loyalty")
    blocks = [
        *lines.add({"kind": "cards", "id": 1}),
        *lines.add({"kind": "cards", "id": 2}),
        *lines.add({"kind": "points", "id": 1, "secret": "x"}),
        *lines.add({"id": 9}),  # no kind: its data type's name
    ]
    last = lines.take()
    assert last is not None
    assert lines.take() is None
    got = [(b.kind, b.count, [json.loads(x) for x in b.ndjson.splitlines()]) for b in blocks]
    assert got == [
        ("cards", 2, [{"kind": "cards", "id": 1}, {"kind": "cards", "id": 2}]),
        ("points", 1, [{"kind": "points", "id": 1}]),  # never a secret
    ]
    assert (last.kind, last.count) == ("loyalty", 1)


def _contact(i: int) -> str:
    return json.dumps(
        {"kind": "contacts", "id": i, "first_name": f"<b>n{i}</b>", "bio": "x" * 5000}
    )


async def test_the_page_shows_the_first_rows_and_links_to_all(tmp_path: Path) -> None:
    total = ROWS_SHOWN * 3 + 7

    async def stream() -> AsyncIterator[pb.ExportChunk]:
        for start in range(0, total, 100):
            block = "".join(_contact(i) + "\n" for i in range(start, min(total, start + 100)))
            yield pb.ExportChunk(
                lines=pb.ExportRecordLines(
                    data_type="contacts",
                    kind="contacts",
                    ndjson=block.encode(),
                    count=min(total, start + 100) - start,
                )
            )
        yield pb.ExportChunk(manifest=pb.ExportManifest(schema_version="1"))

    out = tmp_path / "all.zip"
    manifest = await write_zip(stream(), out)
    assert manifest["records"] == [
        {"path": "contacts.ndjson", "data_type": "contacts", "kind": "contacts", "count": total}
    ]
    with zipfile.ZipFile(out) as archive:
        page = archive.read("index.html").decode()
        assert len(archive.read("contacts.ndjson").splitlines()) == total
    assert page.count("<tr><td>") == ROWS_SHOWN + 1  # the rows shown, and the contents' row
    assert f"the first {ROWS_SHOWN:,}" in page
    assert '<a href="contacts.ndjson">' in page
    assert "&lt;b&gt;n0&lt;/b&gt;" in page
    assert "<b>" not in page
    assert "x" * CELL_CHARS not in page  # long values are cut on the page, whole in the file
    assert len(page) < ROWS_SHOWN * (CELL_CHARS + 500)


def test_a_long_file_list_is_cut_and_points_at_the_manifest() -> None:
    files = [
        {"file_id": str(i), "path": f"files/{i}-a.txt", "size_bytes": 1, "sha256": "0" * 64}
        for i in range(5)
    ]
    manifest = {"snapshot_at": "2025-01-02T03:04:05Z", "records": [], "files": files}
    page = IndexPage(files_shown=2).render(manifest)
    assert [f'href="files/{i}-a.txt"' in page for i in range(5)] == [True, True] + [False] * 3
    assert "the first 2" in page
    assert '<a href="manifest.json">manifest.json</a> lists every one' in page
