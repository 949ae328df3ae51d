"""The client reads records however a server sent them: NDJSON blocks (`lines`), or
one (`record`) or several (`records`) at a time, as older servers did."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator

from atomicrm.privacy.v1 import privacy_pb2 as pb
from clients.export_files import Lines, lines_of, records_of, write_ndjson

# A line separator inside a JSON text is not a line end of NDJSON.
_NOTE = '{"kind":"notes","body":"a\u2028b"}'
_MESSAGE = '{"kind":"messages","id":1}'


def _old(*records: tuple[str, str]) -> pb.ExportChunk:
    return pb.ExportChunk(
        records=pb.ExportRecords(records=[pb.ExportRecord(data_type=t, json=j) for t, j in records])
    )


def test_every_payload_gives_the_same_records() -> None:
    block = pb.ExportChunk(
        lines=pb.ExportRecordLines(
            data_type="contacts", ndjson=f"{_NOTE}\n{_NOTE}\n".encode(), count=2
        )
    )
    one = pb.ExportChunk(record=pb.ExportRecord(data_type="contacts", json=_NOTE))
    several = _old(("contacts", _NOTE), ("contacts", _NOTE), ("messages", _MESSAGE))

    assert [(r.data_type, r.json) for r in records_of(block)] == [("contacts", _NOTE)] * 2
    assert [(r.data_type, r.json) for r in records_of(one)] == [("contacts", _NOTE)]
    # An older server's records are filed by the kind their JSON names.
    assert lines_of(several) == [
        Lines("contacts", f"{_NOTE}\n{_NOTE}\n".encode(), 2, "notes"),
        Lines("messages", f"{_MESSAGE}\n".encode(), 1, "messages"),
    ]
    assert lines_of(pb.ExportChunk(files=pb.ExportFiles())) == []


async def test_ndjson_output_wraps_each_record_as_it_came() -> None:
    async def stream() -> AsyncIterator[pb.ExportChunk]:
        yield pb.ExportChunk(
            lines=pb.ExportRecordLines(
                data_type="contacts", ndjson=f"{_NOTE}\n{_NOTE}\n".encode(), count=2
            )
        )
        yield _old(("messages", _MESSAGE))
        yield pb.ExportChunk(manifest=pb.ExportManifest(schema_version="1"))

    out = io.StringIO()
    manifest = await write_ndjson(stream(), out)
    lines = [json.loads(line) for line in out.getvalue().split("\n")[:-1]]
    assert lines[:-1] == [
        {"data_type": "contacts", "record": json.loads(_NOTE)},
        {"data_type": "contacts", "record": json.loads(_NOTE)},
        {"data_type": "messages", "record": json.loads(_MESSAGE)},
    ]
    assert lines[-1] == {"manifest": manifest}
