"""console/output.py: tables that never cut a cell, and JSON named after the listing."""

from __future__ import annotations

import io
import json

from atomicrm.privacy.v1 import privacy_pb2 as pb
from console import output

LONG_ID = "8758b13e-dd91-4c3a-9a51-0c3c6f1f2a77"


def test_a_table_pads_columns_and_cuts_nothing() -> None:
    lines = output.table(["id", "state"], [[LONG_ID, "running (cancelling)"], ["x", "-"]])
    assert lines == [
        "id                                    state",
        f"{LONG_ID}  running (cancelling)",
        "x                                     -",
    ]
    assert output.table(["id", "state"], []) == ["id  state"]


def test_jobs_print_whole_ids_wide_columns_and_json() -> None:
    job = pb.Job(
        id=LONG_ID,
        tenant_id="acme",
        kind=pb.JOB_KIND_ERASE,
        state=pb.JOB_STATE_RUNNING,
        cancel_requested=True,
        progress=[pb.DataTypeProgress(data_type="messages", planned=3, done=1)],
    )
    job.created_at.FromSeconds(0)
    table, wide, as_json = io.StringIO(), io.StringIO(), io.StringIO()
    output.jobs(output.Format.TABLE, [job], tenant_column=False, out=table)
    output.jobs(output.Format.WIDE, [job], tenant_column=False, out=wide)
    output.jobs(output.Format.JSON, [job], tenant_column=False, out=as_json)
    header, row = table.getvalue().splitlines()
    assert header.split() == [
        "id",
        "kind",
        "state",
        "created",
        "waits_for",
        "deadline",
        "progress",
        "needs_review",
        "error",
    ]
    assert row.split()[:4] == [LONG_ID, "erase", "running", "(cancelling)"]
    assert "tenant" in wide.getvalue().splitlines()[0].split()
    (record,) = json.loads(as_json.getvalue())["jobs"]
    assert record["id"] == LONG_ID
    assert (record["state"], record["cancel_requested"]) == ("running", True)
    assert record["created_at"] == "1970-01-01T00:00:00+00:00"
    assert record["finished_at"] is None
    assert record["progress"] == [
        {"data_type": "messages", "planned": 3, "done": 1, "mentions_redacted": 0}
    ]
