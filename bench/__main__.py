"""make bench: the service beside the raw-SQL limit, on the same data, in the same run.

    python -m bench [--contacts N] [--messages-per-contact M] [--quick] [--only FIGURE]
                    [--suppressed N] [--suppression-calls N] [--scale-contacts N]

Seeds tenants with COPY (pairs with the same seed are identical), runs a real
`privacyctl serve` process against them, and prints a table of ratios; the
figures go to bench/results/latest.json too. Figure 7 (scaleout) runs its own
`privacyctl worker` processes, 1, 2 and 4 of them, each time on a fresh copy of
its own tenants (bench/scaleout.py). DATABASE_URL picks the server
(a database is created on it and dropped after); unset, the embedded one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg

from bench import measure, scaleout, twins
from demo.seeding import seed_tenant
from server import text_indexer
from server.blobs import BlobStore, LocalBlobStore
from server.config import Settings
from server.database import migrate, resolve_url
from server.keyring import Keyring
from server.s3_blobs import open_blob_store
from server.tenant_keys import open_keyring, tenant_key

RESULTS = Path(__file__).parent / "results" / "latest.json"
# What --only takes: the steps of _run(), by the first word of their key.
FIGURES = (
    "writes",
    "submission",
    "latency",
    "export",
    "erase",
    "anonymize",
    "suppression",
    "scaleout",
    "ratelimit",
)
# The tenants each figure uses (see _run's steps).
TENANTS = {
    "writes": ("anon_raw",),
    "submission": ("small",),
    "latency": ("small", "erase_raw"),
    "export": ("anon_svc", "small"),
    "erase": ("erase_svc", "erase_raw"),
    "anonymize": ("anon_svc", "anon_raw"),
    "suppression": ("suppress",),
    "scaleout": (),  # its own tenants, in a database of its own (see _scaleout)
    "ratelimit": (),  # buckets only, no data
}


async def main(args: argparse.Namespace) -> dict[str, Any]:
    admin_url = resolve_url(os.environ.get("DATABASE_URL"), Path(".data"))
    name = f"privacy_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_url)
    wanted = args.only or FIGURES
    results: dict[str, Any] = {"seeded_rows": {}}
    try:
        with tempfile.TemporaryDirectory(prefix="privacy-bench-") as tmp:
            if any(figure != "scaleout" for figure in wanted):
                await admin.execute(f'CREATE DATABASE "{name}"')
                results = await _run(args, measure.with_database(admin_url, name), Path(tmp))
            if "scaleout" in wanted:
                results["scaleout"] = await _scaleout(
                    args, admin, admin_url, f"{name}_scale", Path(tmp) / "scaleout"
                )
            return results
    finally:
        for database in (name, f"{name}_scale"):
            await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()


async def _seed(
    conn: asyncpg.Connection,
    url: str,
    blobs: BlobStore,
    plan: dict[str, int],
    messages: int,
    keyring_file: Path,
) -> dict[str, int]:
    """Seed each tenant of `plan` (tenant: contacts; seed 1, so the same data); their rows."""
    seeded: dict[str, int] = {}
    first: dict[int, str] = {}  # contacts: the tenant of that size seeded first
    for tenant, contacts in plan.items():
        started = time.perf_counter()
        if twin_of := first.get(contacts):  # the same seed and size: the same data
            seeded[tenant] = await twins.copy_tenant(conn, blobs, twin_of, tenant)
            log(
                f"copied {twin_of} to {tenant}: {seeded[tenant]} rows in "
                f"{time.perf_counter() - started:.1f}s"
            )
            continue
        summary = await seed_tenant(
            conn, blobs, tenant, contacts=contacts, seed=1, messages_per_contact=messages
        )
        first[contacts] = tenant
        seeded[tenant] = await measure.tenant_rows(conn, tenant)
        log(
            f"seeded {tenant}: {summary.contacts} contacts, {summary.messages} messages, "
            f"{seeded[tenant]} rows in {time.perf_counter() - started:.1f}s"
        )
    # The seeding queued every text for the mention index (migration 0017); the
    # service's workers would index them in the background. Done here, before any
    # figure, so that every figure runs with the index complete.
    started = time.perf_counter()
    keyring = await open_keyring(conn, keyring_file)  # the one the service runs with
    indexed = await _index_texts(conn, url, keyring)
    log(f"indexed {indexed} texts for mentions in {time.perf_counter() - started:.1f}s")
    return seeded


async def _index_texts(conn: asyncpg.Connection, url: str, keyring: Keyring) -> int:
    """Index every queued text, with one connection per core: the tokens are the
    database's CPU work, and indexers skip each other's rows (SKIP LOCKED)."""
    others = [await asyncpg.connect(url) for _ in range((os.cpu_count() or 1) - 1)]
    try:
        counts = await asyncio.gather(
            *(text_indexer.index_queued(c, keyring, chunk=20_000) for c in [conn, *others])
        )
    finally:
        for other in others:
            await other.close()
    return sum(counts)


async def _scaleout(
    args: argparse.Namespace, admin: asyncpg.Connection, admin_url: str, name: str, tmp: Path
) -> dict[str, Any]:
    """Figure 7: seed identical tenants into a template database, then measure
    (bench/scaleout.py) on a fresh copy of it for each number of processes."""
    await admin.execute(f'CREATE DATABASE "{name}"')
    scale_url = measure.with_database(admin_url, name)
    conn = await asyncpg.connect(scale_url)
    try:
        await migrate(conn)
        tenants = tuple(f"scale{i + 1}" for i in range(args.scale_tenants))
        plan = dict.fromkeys(tenants, args.scale_contacts)
        seeded = await _seed(
            conn,
            scale_url,
            LocalBlobStore(tmp / "blobs"),
            plan,
            args.messages_per_contact,
            tmp / "data" / "keyring",
        )
        await conn.execute(
            f"VACUUM (ANALYZE) {', '.join((*measure.TABLES, 'privacy_text_tokens'))}"
        )
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()  # a template has no connections
    setup = scaleout.Setup(
        admin=admin,
        admin_url=admin_url,
        template=name,
        blobs=tmp / "blobs",
        tmp=tmp,
        tenants=tenants,
        workers_per_process=args.workers,
        batch_size=args.batch_size,
    )
    return await scaleout.scaleout(setup, sum(seeded.values()))


async def _run(args: argparse.Namespace, url: str, tmp: Path) -> dict[str, Any]:
    # The store the served process uses too: PRIVACY_BLOB_URL (S3) when it is set,
    # else a directory of this run.
    blobs = open_blob_store(Settings(blob_dir=tmp / "blobs", blob_url=Settings.from_env().blob_url))
    conn = await asyncpg.connect(url)
    await migrate(conn)
    small = max(args.contacts // 100, 50)
    plan = {
        "erase_svc": args.contacts,
        "erase_raw": args.contacts,
        "anon_svc": args.contacts,
        "anon_raw": args.contacts,
        "small": small,
        "suppress": 50,  # its suppression list is what figure 6 reads
    }
    if args.only:  # seed only the tenants the chosen figures use
        wanted = {tenant for figure in args.only for tenant in TENANTS[figure]}
        plan = {tenant: n for tenant, n in plan.items() if tenant in wanted}
    seeded = await _seed(
        conn, url, blobs, plan, args.messages_per_contact, tmp / "data" / "keyring"
    )
    listed = await _fill_suppressions(conn, tmp, args.suppressed) if "suppress" in plan else None
    # The seeded tables only: statistics taken of the service's own tables while
    # they are empty make plans cached for the whole run (the foreign key checks'
    # among them) believe they stay empty, so each lookup of a job scans them all.
    # VACUUM too: otherwise autovacuum visits the freshly loaded tables (millions of
    # inserted rows) while the first figures run, and takes a core from them.
    analyzed = ", ".join((*measure.TABLES, "privacy_suppressions", "privacy_text_tokens"))
    await conn.execute(f"VACUUM (ANALYZE) {analyzed}")
    # Seeding leaves hundreds of MB (rows, WAL, blob files) to write back: flushed
    # here, so that no figure pays for it.
    await conn.execute("CHECKPOINT")
    await asyncio.to_thread(os.sync)
    port = measure.free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "PRIVACY_BLOB_DIR": str(tmp / "blobs"),
        "PRIVACY_DATA_DIR": str(tmp / "data"),  # where serve writes the dev token
        "PRIVACY_KEYRING": str(tmp / "data" / "keyring"),  # the one the bench filled with
        "PRIVACY_GRPC_ADDR": f"127.0.0.1:{port}",
        "PRIVACY_METRICS_ADDR": "",
        "PRIVACY_BATCH_SIZE": str(args.batch_size),
        "PRIVACY_WORKERS": str(args.workers),
        "PRIVACY_POLL_SECONDS": "0.2",
        "PRIVACY_LOG_LEVEL": "WARNING",
        # The bench measures throughput; the per-caller limits would only measure themselves.
        "PRIVACY_RATE_LIMIT_PER_MINUTE": "0",
    }
    with await asyncio.to_thread((tmp / "serve.log").open, "wb") as serve_log:
        server = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "privacyctl"),
            "serve",
            env=env,
            stderr=serve_log,
        )  # the server writes to its own copy of the handle
    results: dict[str, Any] = {"seeded_rows": seeded}
    # As many erasures in flight in both tenants, in each of two rounds (the small
    # one may have fewer contacts): latency with 100 in flight is not comparable to
    # latency with 50. Then some alone, one at a time, a fifth of the contacts at most.
    alone = min(args.alone, small // 5)
    subjects = min(args.subjects, (small - alone) // 2)
    try:
        address = f"127.0.0.1:{port}"
        await measure.wait_serving(address)
        target = measure.Target(address, (tmp / "data" / "dev-token").read_text().strip())
        steps: list[tuple[str, Callable[[], Awaitable[dict[str, Any]]]]] = [
            (
                "submission",
                lambda: measure.submission(target, conn, "small", args.callers, args.requests),
            ),
            (
                "latency_small",
                lambda: measure.latency(target, conn, "small", subjects, alone),
            ),
            (
                "latency_large",
                lambda: measure.latency(target, conn, "erase_raw", subjects, alone),
            ),
            ("export", lambda: measure.export(target, conn, server.pid, "anon_svc", "small")),
            ("erase", lambda: measure.tenant_erase(target, conn, "erase_svc", "erase_raw")),
            (
                "anonymize",
                lambda: measure.tenant_anonymize(
                    target, conn, "anon_svc", "anon_raw", args.naive_rows
                ),
            ),
        ]
        if listed is not None:
            steps.append(
                (
                    "suppression",
                    lambda: measure.suppression(
                        target, url, listed, args.suppression_calls, args.suppression_callers
                    ),
                )
            )
        # Last: its rolled-back writes leave dead rows (vacuumed, but not free).
        steps.append(("writes", lambda: measure.write_tax(conn, "anon_raw")))
        steps.append(
            ("ratelimit", lambda: measure.rate_limit(url, args.rate_limit_calls, args.callers // 4))
        )
        for key, step in steps:
            if args.only and key.split("_")[0] not in args.only:
                continue
            started = time.perf_counter()
            results[key] = await step()
            log(f"{key}: {time.perf_counter() - started:.1f}s")
    finally:
        server.terminate()
        await server.wait()
        await conn.close()
    return results


async def _fill_suppressions(
    conn: asyncpg.Connection, tmp: Path, entries: int
) -> measure.SuppressedTenant:
    """Tenant `suppress`'s suppression list, filled directly with the tenant's key (from
    the keyring the server is then started with)."""
    started = time.perf_counter()
    keyring = await open_keyring(conn, tmp / "data" / "keyring")
    key = await tenant_key(conn, "suppress", keyring)
    listed = await measure.fill_suppressions(conn, "suppress", key, entries)
    log(f"suppressed {entries} identifiers in {time.perf_counter() - started:.1f}s")
    return listed


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def table(results: dict[str, Any]) -> str:
    """The figures measured, one row each: (label, service, beside, ratio, target)."""
    rows: list[tuple[str, str, str, float | None, str]] = []
    if w := results.get("writes"):
        rows += _write_rows(w)
    if e := results.get("erase"):
        rows.append(
            (
                "1 tenant Erase",
                f"{e['service_rows_per_s']:,.0f} rows/s",
                f"DELETE {e['raw_rows_per_s']:,.0f} rows/s",
                e["ratio"],
                ">= 0.5",
            )
        )
    if a := results.get("anonymize"):
        rows.append(
            (
                "2 tenant Anonymize",
                f"{a['service_rows_per_s']:,.0f} rows/s",
                f"UPDATE md5 {a['raw_rows_per_s']:,.0f} rows/s",
                a["ratio"],
                ">= 0.5",
            )
        )
        rows.append(
            (
                "2 vs naive faker",
                f"{a['service_rows_per_s']:,.0f} rows/s",
                f"naive {a['naive_rows_per_s']:,.0f} (md5 {a['raw_speedup_vs_naive']:.1f}x)",
                a["speedup_vs_naive"],
                ">= 20",
            )
        )
    if x := results.get("export"):
        rows.append(
            (
                "3 Export",
                f"{x['service_mb_per_s']:.1f} MB/s",
                f"COPY {x['raw_mb_per_s']:.1f} (JSON {x['json_copy_mb_per_s']:.1f}) MB/s",
                x["ratio"],
                ">= 0.5",
            )
        )
        rows.append(
            (
                "3 Export peak RSS",
                f"{x['rss_peak_large_mb']:.0f} MB large",
                f"{x['rss_peak_small_mb']:.0f} MB small (+{x['rss_growth_mb']:.1f})",
                None,
                "flat within 50 MB",
            )
        )
    if (ll := results.get("latency_large")) and (ls := results.get("latency_small")):
        rows.append(
            (
                "4 erase, 100 in flight",
                f"{ll['p50_ms']:.0f}/{ll['p99_ms']:.0f} ms large",
                f"{ls['p50_ms']:.0f}/{ls['p99_ms']:.0f} ms small",
                ll["p50_ms"] / max(ls["p50_ms"], 1),
                "flat",
            )
        )
    if (ll := results.get("latency_large")) and (ls := results.get("latency_small")):
        one_l, one_s = ll["alone"], ls["alone"]
        rows.append(
            (
                "4 erase alone p50/p99",
                f"{one_l['p50_ms']:.0f}/{one_l['p99_ms']:.0f} ms large",
                f"{one_s['p50_ms']:.0f}/{one_s['p99_ms']:.0f} ms small",
                one_l["p50_ms"] / max(one_s["p50_ms"], 1),
                "<= 150/400 ms, <= 1.2x",
            )
        )
    if s := results.get("submission"):
        rows.append(
            (
                "5 submission, 64 callers",
                f"{s['requests_per_s']:,.0f} req/s",
                f"p99 {s['p99_ms']:.0f} ms",
                None,
                ">= 1000/s, p99 < 50 ms",
            )
        )
    if c := results.get("suppression"):
        svc, raw = c["service"], c["raw"]
        rows.append(
            (
                f"6 CheckSuppression {c['callers']}x{c['batch']}",
                f"{svc['identifiers_per_s']:,.0f} ids/s, p99 {svc['p99_ms']:.1f} ms",
                f"SQL {raw['identifiers_per_s']:,.0f} ids/s, p99 {raw['p99_ms']:.1f} ms",
                c["ratio"],
                ">= 20,000 ids/s, p99 <= 20 ms",
            )
        )
    if so := results.get("scaleout"):
        for run in so["runs"]:
            busy = run["cores_busy"]
            rows.append(
                (
                    f"7 {so['tenants']} Anonymize, {run['processes']}x{run['workers_per_process']}",
                    f"{run['rows_per_s']:,.0f} rows/s",
                    f"CPU workers {busy['workers']:.2f} pg {busy['postgres']:.2f}",
                    run["speedup"],
                    f"x of 1x{so['workers_per_process']}; CPU allows "
                    f"{run['ceiling_rows_per_s']:,.0f}/s on {so['cores']} cores",
                )
            )
    if rl := results.get("ratelimit"):
        rows += _rate_limit_rows(rl)
    out = [f"{'figure':<26}{'service':>24}{'beside':>32}{'ratio':>8}  target"]
    for label, svc, raw, ratio, goal in rows:
        r = f"{ratio:.2f}" if ratio is not None else "-"
        out.append(f"{label:<26}{svc:>24}{raw:>32}{r:>8}  {goal}")
    return "\n".join(out)


def _write_rows(w: dict[str, Any]) -> list[tuple[str, str, str, float | None, str]]:
    rows: list[tuple[str, str, str, float | None, str]] = []
    for key in ("messages_update", "messages_insert", "notes_update", "notes_insert"):
        x = w[key]
        rows.append(
            (
                f"0 CRM {key.replace('_', ' ')}",
                f"{x['rows_per_s_indexed']:,.0f} rows/s",
                f"no index {x['rows_per_s_plain']:,.0f} rows/s",
                x["overhead"],
                "<= 1.5x overhead",
            )
        )
    return rows


def _rate_limit_rows(rl: dict[str, Any]) -> list[tuple[str, str, str, float | None, str]]:
    rows: list[tuple[str, str, str, float | None, str]] = []
    one, own = rl["take"], rl["take_own_buckets"]
    rows.append(
        (
            "8 rate limit, per call",
            f"{one['p50_ms']:.2f} ms p50 (+{rl['extra_ms_per_call']:.2f})",
            f"SELECT 1 {rl['select_one']['p50_ms']:.2f} ms",
            rl["ratio"],
            "measured: one statement",
        )
    )
    rows.append(
        (
            f"8 rate limit, {rl['callers']} callers",
            f"{rl['take_one_bucket']['calls_per_s']:,.0f}/s one bucket",
            f"{own['calls_per_s']:,.0f}/s own buckets",
            None,
            "measured",
        )
    )
    return rows


def cli() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--contacts", type=int, help="contacts per tenant (100,000; --quick 2,000)")
    parser.add_argument("--messages-per-contact", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="a small run (2,000 contacts)")
    parser.add_argument(
        "--subjects", type=int, default=100, help="erasures in flight, each of two rounds (100)"
    )
    parser.add_argument(
        "--alone", type=int, default=40, help="erasures timed one at a time, per tenant (40)"
    )
    parser.add_argument("--callers", type=int, default=64, help="concurrent callers (64)")
    parser.add_argument("--requests", type=int, help="submissions to time (2,000; --quick 1,000)")
    parser.add_argument(
        "--naive-rows", type=int, help="rows for the naive faker (2,000; --quick 500)"
    )
    parser.add_argument(
        "--suppressed",
        type=int,
        help="suppressed identifiers in figure 6's tenant (100,000; --quick 10,000)",
    )
    parser.add_argument(
        "--suppression-calls",
        type=int,
        help="CheckSuppression calls of 100 identifiers to time (2,000; --quick 300)",
    )
    parser.add_argument(
        "--suppression-callers", type=int, default=16, help="concurrent checkers (16)"
    )
    parser.add_argument(
        "--scale-contacts",
        type=int,
        help="contacts in each of figure 7's tenants (2,500; --quick 500)",
    )
    parser.add_argument(
        "--scale-tenants", type=int, default=4, help="figure 7's tenants, one job each (4)"
    )
    parser.add_argument(
        "--rate-limit-calls", type=int, default=2000, help="figure 8's calls in each run (2,000)"
    )
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument(
        "--workers", type=int, default=2, help="workers in each process with workers (2)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--only",
        action="append",
        choices=FIGURES,
        help="measure only this figure (repeatable; default: all)",
    )
    args = parser.parse_args()
    # --quick changes the defaults only: what is given on the command line stays.
    defaults = (
        (2000, 1000, 500, 10_000, 300, 500)
        if args.quick
        else (100_000, 2000, 2000, 100_000, 2000, 2500)
    )
    names = (
        "contacts",
        "requests",
        "naive_rows",
        "suppressed",
        "suppression_calls",
        "scale_contacts",
    )
    for name, default in zip(names, defaults, strict=True):
        if getattr(args, name) is None:
            setattr(args, name, default)
    results = asyncio.run(main(args))
    results["machine"] = {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    results["args"] = {k: str(v) for k, v in vars(args).items()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(table(results))
    print(f"\nresults: {args.out}")


if __name__ == "__main__":
    cli()
