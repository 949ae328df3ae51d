"""make bench runs end to end (at a tiny size: speed is measured there, never here)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path


async def _bench(server_url: str, out: Path, *args: str) -> str:
    """Run `python -m bench` with these arguments against the test server; what it
    printed (it must succeed)."""
    bench = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench",
        *args,
        "--out",
        str(out),
        env={**os.environ, "DATABASE_URL": server_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=Path(__file__).parents[2],
    )
    printed, _ = await asyncio.wait_for(bench.communicate(), 110)
    assert bench.returncode == 0, printed.decode()
    return printed.decode()


async def test_the_benchmark_harness_runs_and_reports_every_figure(
    server_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "latest.json"
    text = await _bench(
        server_url,
        out,
        *("--contacts", "60", "--subjects", "5", "--callers", "4"),
        *("--requests", "20", "--naive-rows", "10"),
        *("--suppressed", "200", "--suppression-calls", "20", "--suppression-callers", "4"),
        *("--scale-contacts", "20", "--scale-tenants", "3"),
    )
    results = json.loads(out.read_text())
    figures = ("erase", "anonymize", "export", "latency_small", "latency_large", "submission")
    for figure in (*figures, "suppression", "scaleout", "writes", "ratelimit"):
        assert figure in results, figure
    assert results["erase"]["ratio"] > 0
    assert results["export"]["raw_bytes"] > 0
    assert results["suppression"]["entries"] == 200
    assert results["suppression"]["service"]["identifiers_per_s"] > 0
    assert results["suppression"]["raw"]["identifiers_per_s"] > 0
    # Figure 7: the same jobs by 1, 2 and 4 worker processes, on copies of the same
    # rows, with where the CPU went.
    scale = results["scaleout"]
    shapes = [(run["processes"], run["workers_per_process"]) for run in scale["runs"]]
    assert shapes == [(1, 2), (2, 2), (4, 2), (1, 3)]  # the control: a worker per tenant
    assert {run["rows"] for run in scale["runs"]} == {scale["rows"]}
    assert scale["rows"] > 0
    assert scale["runs"][0]["speedup"] == 1
    for run in scale["runs"]:
        assert run["rows_per_s"] > 0
        assert run["cpu_seconds"]["workers"] > 0
        assert run["cpu_seconds"]["postgres"] > 0
    # The export beside its JSON limit too: the same rows as row_to_json, by COPY.
    assert results["export"]["json_copy_bytes"] > results["export"]["raw_bytes"]
    # As many erasures in flight in either tenant of figure 4.
    assert results["latency_small"]["subjects"] == results["latency_large"]["subjects"] == 5
    # And some alone, one at a time.
    assert results["latency_large"]["alone"]["subjects"] > 0
    # Figure 0: the CRM's writes with the mention index and without; figure 8: the
    # shared rate limit's statement beside a round trip.
    for write in ("messages_update", "messages_insert", "notes_update", "notes_insert"):
        assert results["writes"][write]["overhead"] > 0, write
    assert results["ratelimit"]["take"]["calls_per_s"] > 0
    for label in (
        "0 CRM messages update",
        "0 CRM notes insert",
        "1 tenant Erase",
        "2 tenant Anonymize",
        "3 Export",
        "4 erase, 100 in flight",
        "4 erase alone",
        "5 submission",
        "6 CheckSuppression",
        "7 3 Anonymize, 1x2",
        "7 3 Anonymize, 4x2",
        "7 3 Anonymize, 1x3",
        "8 rate limit, per call",
    ):
        assert label in text


async def test_only_measures_the_figures_asked_for(server_url: str, tmp_path: Path) -> None:
    out = tmp_path / "latest.json"
    text = await _bench(
        server_url,
        out,
        *("--quick", "--contacts", "40", "--requests", "10", "--callers", "2"),
        *("--only", "submission"),
    )
    results = json.loads(out.read_text())
    assert results["submission"]["requests"] == 10  # given sizes win over --quick's
    assert results["args"]["contacts"] == "40"
    for figure in (
        "erase",
        "anonymize",
        "export",
        "latency_small",
        "latency_large",
        "suppression",
        "scaleout",
    ):
        assert figure not in results, figure
    assert list(results["seeded_rows"]) == ["small"]  # only the tenants the figure uses
    assert "5 submission" in text
    assert "1 tenant Erase" not in text
