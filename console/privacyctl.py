"""privacyctl: run, seed and drive the AtomiCRM privacy service.

The console sits above both halves of the house: the commands that run the server
(serve, worker, seed, credentials, audit, retention, tenant) call `server.commands`,
the others speak the gRPC contract through `clients/`. Neither half imports this.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console

from atomicrm.privacy.v1 import privacy_pb2 as pb
from clients.account_deletion import AccountDeletion
from clients.client import PrivacyClient, PrivacyClientError, subject
from clients.export_files import FORMATS, Requested, export_format, write_ndjson, write_zip
from clients.progress import STATE_NAMES, watch_with_progress
from console import common, errors, exit_codes, lookup, output, suppression, waits
from console.common import EXIT_JOB_NOT_SUCCEEDED, EXIT_OK, EXIT_USAGE, REASON_CODES, add_target

_STATES = {name: value for value, name in STATE_NAMES.items() if name != "unspecified"}
_KINDS = {"erase": pb.JOB_KIND_ERASE, "anonymize": pb.JOB_KIND_ANONYMIZE}


def _parser() -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = exit_codes.Parser(
        prog="privacyctl",
        description="Run, seed and drive the AtomiCRM privacy service (Erase, Anonymize, Export).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_run_commands(sub)
    _add_job_commands(sub)
    _add_hold_commands(sub)
    _add_database_commands(sub)
    _add_audit_commands(sub)
    _add_export_and_job_reading_commands(sub)
    suppression.add_commands(sub)
    lookup.add_command(sub)
    return parser


def _add_run_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """serve, worker and seed: the processes, and the demo data."""
    sub.add_parser(
        "serve",
        help="run the gRPC server with its workers",
        description="Run the gRPC server and PRIVACY_WORKERS workers until SIGTERM/SIGINT. "
        "Settings come from the environment: DATABASE_URL (unset: embedded PostgreSQL "
        "under PRIVACY_DATA_DIR, default ./.data), PRIVACY_GRPC_ADDR (127.0.0.1:50051), "
        "PRIVACY_METRICS_ADDR (127.0.0.1:9464), PRIVACY_BLOB_DIR, PRIVACY_BATCH_SIZE; "
        "see docs/configuration.md.",
    )
    sub.add_parser(
        "worker",
        help="run workers only (no gRPC), e.g. on another host",
        description="Run PRIVACY_WORKERS workers against the same database until SIGTERM/SIGINT.",
    )

    seed = sub.add_parser(
        "seed",
        help="create a realistic demo tenant",
        description="Create a demo tenant with faker: contacts with messages on every channel, "
        "notes, deals, files, users with sessions and usage events. Same --seed, same data. "
        "Writes to the database directly: DATABASE_URL, or the embedded server under "
        "PRIVACY_DATA_DIR (blobs under PRIVACY_BLOB_DIR).",
    )
    seed.add_argument("--tenant", required=True, help="tenant id to create (must not exist)")
    seed.add_argument("--contacts", type=int, default=100, help="number of contacts (100)")
    seed.add_argument("--seed", type=int, default=0, help="random seed (0)")


def _add_job_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """erase, anonymize and delete-account: the commands that submit jobs."""
    for name, verb in (("erase", "Erase"), ("anonymize", "Anonymize")):
        cmd = sub.add_parser(
            name,
            help=f"{verb.lower()} a subject's personal data",
            description=f"Submit an {verb} job for one subject (or a whole tenant); "
            "--wait follows it to its end.",
        )
        add_target(cmd)
        cmd.add_argument("--tenant", required=True)
        _add_subject(cmd, files=name == "erase")
        cmd.add_argument("--dry-run", action="store_true", help="count, change nothing")
        cmd.add_argument("--idempotency-key", default="", help="retries with it return one job")
        cmd.add_argument(
            "--reason-code",
            choices=sorted(REASON_CODES),
            default="unspecified",
            help="why (kept in the audit log)",
        )
        cmd.add_argument(
            "--note",
            default="",
            help="a short note, e.g. a ticket reference (at most 200 characters; stored "
            "redacted of the subject's identifiers, never in the audit log)",
        )
        cmd.add_argument("--reason", default="", help="deprecated: use --note")
        if name == "erase":
            suppression.add_erase_option(cmd)
        if name == "anonymize":
            cmd.add_argument(
                "--consistent-across-jobs",
                action="store_true",
                help="fakes from the tenant's key, the same in every job (pseudonymization); "
                "by default each job's fakes come from a key destroyed when it ends",
            )
        cmd.add_argument(
            "--not-before",
            type=_when,
            metavar="TIME",
            help="start no earlier (ISO 8601, e.g. 2026-12-01T09:00Z): a grace period",
        )
        cmd.add_argument(
            "--deadline",
            type=_when,
            metavar="TIME",
            help="finish by then (ISO 8601; default and latest: now + 30 days)",
        )
        cmd.add_argument(
            "--under-16", action="store_true", help="the subject is a child: highest priority"
        )
        cmd.add_argument("--wait", action="store_true", help="show progress until the job ends")

    delete = sub.add_parser(
        "delete-account",
        help="schedule a closed account's erasure (account-deletion workflow)",
        description="Schedule the erasure of a user account after a grace period, within "
        "the policy's 30 days (and, with --last-owner, the whole tenant's); --undo cancels "
        "it during the grace period; --wait follows it and reports the outcome. Retrying "
        "returns the same jobs.",
    )
    add_target(delete)
    delete.add_argument("--tenant", required=True)
    delete.add_argument("--user-id", type=int, required=True)
    delete.add_argument("--last-owner", action="store_true", help="erase the tenant too")
    delete.add_argument(
        "--grace-days", type=float, default=7, help="days before erasure starts (7)"
    )
    delete.add_argument("--undo", action="store_true", help="the user changed their mind")
    delete.add_argument("--wait", action="store_true", help="follow the jobs to their end")


def _add_hold_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """hold set, release and list."""
    hold = sub.add_parser(
        "hold",
        help="set, release or list legal holds",
        description="A legal hold keeps a subject's (or a whole tenant's) data from being "
        "erased or anonymized: requests are accepted as held jobs that run once released.",
    )
    hold_sub = hold.add_subparsers(dest="hold_command", required=True, metavar="COMMAND")
    hold_set = hold_sub.add_parser("set", help="hold a subject's or a tenant's data")
    add_target(hold_set)
    hold_set.add_argument("--tenant", required=True)
    _add_subject(hold_set, data_types=False)
    hold_set.add_argument("--reason", required=True, help="the legal matter (audit log)")
    hold_release = hold_sub.add_parser("release", help="release a hold")
    add_target(hold_release)
    hold_release.add_argument("hold_id")
    hold_release.add_argument("--reason", default="", help="why (audit log)")
    hold_list = hold_sub.add_parser("list", help="a tenant's holds")
    add_target(hold_list)
    hold_list.add_argument("--tenant", required=True)
    hold_list.add_argument("--all", action="store_true", help="released ones too")
    output.add_option(hold_list)


def _add_database_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """retention, tenant and credentials: settings kept in the database."""
    keep = sub.add_parser(
        "retention",
        help="show, set or run retention rules",
        description="Retention rules turn aged data into ordinary jobs: usage events older "
        "than N months are anonymized, accounts closed N days ago are erased. Serving "
        "processes run them every PRIVACY_RETENTION_INTERVAL_SECONDS. Reads the database "
        "directly (DATABASE_URL, or the embedded server).",
    )
    keep_sub = keep.add_subparsers(dest="retention_command", required=True, metavar="COMMAND")
    keep_show = keep_sub.add_parser("show", help="a tenant's rules (its own or the defaults)")
    keep_show.add_argument("--tenant", required=True)
    output.add_option(keep_show)
    keep_set = keep_sub.add_parser("set", help="give a tenant its own rules")
    keep_set.add_argument("--tenant", required=True)
    keep_set.add_argument(
        "--activity-months", metavar="N|off", type=_number_or_off, help="anonymize activity after"
    )
    keep_set.add_argument(
        "--closed-account-days", metavar="N|off", type=_number_or_off, help="erase accounts after"
    )
    keep_sub.add_parser("run", help="apply every tenant's rules once now")

    tenant = sub.add_parser(
        "tenant",
        help="show or set a tenant's settings (the region of its phone numbers)",
        description="A phone number written without a country code is read in the tenant's "
        "region: '(207) 946-0958' is +1 207… in a US tenant and +44 207… in a GB one. "
        "Tenants without their own use PRIVACY_DEFAULT_PHONE_REGION (US). Setting it is "
        "audited. Works on the database directly (DATABASE_URL, or the embedded server).",
    )
    tenant_sub = tenant.add_subparsers(dest="tenant_command", required=True, metavar="COMMAND")
    region = tenant_sub.add_parser("region", help="show the region, or set it with --set")
    region.add_argument("--tenant", required=True)
    region.add_argument("--set", metavar="REGION", help="a region code: US, GB, DE, FR…")

    creds = sub.add_parser(
        "credentials",
        help="create, list or revoke callers' bearer tokens",
        description="Callers authenticate with a bearer token; each credential names a "
        "caller (recorded in the audit log), its scopes and its tenants. Only a hash of "
        "the token is stored: `create` prints the token once. Revocation takes effect "
        "within PRIVACY_AUTH_CACHE_SECONDS (5). Works on the database directly "
        "(DATABASE_URL, or the embedded server).",
    )
    creds_sub = creds.add_subparsers(dest="credentials_command", required=True, metavar="COMMAND")
    create = creds_sub.add_parser(
        "create",
        help="make a credential and print its token",
        description="Scopes: erase, erase.tenant (whole-tenant Erase, with erase), "
        "anonymize, export, jobs.read, jobs.cancel, hold, audit.read, suppression.read "
        "(CheckSuppression, ListSuppressions), suppression.write (Suppress, Unsuppress), "
        "lookup (FindSubjects: privacyctl find).",
    )
    create.add_argument("name", help="the caller's name, e.g. account-deletion")
    create.add_argument(
        "--scope", dest="scopes", action="append", required=True, help="repeat for each scope"
    )
    create.add_argument(
        "--tenant",
        dest="tenants",
        action="append",
        required=True,
        help="a tenant id the caller may act on; repeat for each, or '*' for all",
    )
    output.add_option(creds_sub.add_parser("list", help="every credential, without tokens"))
    revoke = creds_sub.add_parser("revoke", help="revoke a credential")
    revoke.add_argument("name")


def _add_audit_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """audit verify, checkpoint and public-key."""
    audit = sub.add_parser(
        "audit", help="check the audit log", description="Work with the append-only audit log."
    )
    audit_sub = audit.add_subparsers(dest="audit_command", required=True, metavar="COMMAND")
    verify = audit_sub.add_parser(
        "verify",
        help="recompute a tenant's hash chain",
        description="Recompute a tenant's hash chain from the database and name the first "
        "entry that was changed, removed, inserted or moved; check it holds every head the "
        "tenant's signed checkpoints vouch for (else name the seqs cut off), and every "
        "checkpoint's signature. Exit 0 when intact, 1 when not. Reads the database "
        "directly (DATABASE_URL, or the embedded server).",
    )
    verify.add_argument("--tenant", required=True)
    verify.add_argument(
        "--checkpoints",
        metavar="FILE",
        help="the checkpoint file to check against, e.g. the copy shipped off the box "
        "(default: PRIVACY_AUDIT_CHECKPOINT_FILE)",
    )
    verify.add_argument(
        "--public-key",
        metavar="FILE",
        help="the PEM public key to check signatures with (default: the signing key's, "
        "PRIVACY_AUDIT_SIGNING_KEY)",
    )
    checkpoint = audit_sub.add_parser(
        "checkpoint",
        help="sign the audit chains' heads now",
        description="Sign every tenant's audit chain head (or one tenant's) with the "
        "service's key (PRIVACY_AUDIT_SIGNING_KEY, made on first use) and append the "
        "checkpoints to PRIVACY_AUDIT_CHECKPOINT_FILE, which an operator ships off the box. "
        "`serve` does it every PRIVACY_AUDIT_CHECKPOINT_SECONDS. Reads the database "
        "directly (DATABASE_URL, or the embedded server).",
    )
    checkpoint.add_argument("--tenant", help="only this tenant (default: every tenant)")
    audit_sub.add_parser(
        "public-key",
        help="print the public key that checks checkpoints",
        description="Print the PEM public key of PRIVACY_AUDIT_SIGNING_KEY (also written "
        "beside it, with .pub added), for auditors who verify the checkpoints elsewhere.",
    )


def _add_export_and_job_reading_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """export, jobs, watch and cancel."""
    exp = sub.add_parser(
        "export",
        help="export a subject's data (right of access, portability)",
        description="Stream a subject's (or a whole tenant's) data from one consistent "
        "snapshot. zip: index.html (a page for the person), manifest.json, one "
        "<kind>.ndjson per kind of record and files/; ndjson: records and the manifest "
        "as NDJSON lines, no file contents. See docs/export.md.",
    )
    add_target(exp)
    exp.add_argument("--tenant", required=True)
    _add_subject(exp)
    exp.add_argument(
        "--out", required=True, help="where to write: a path, or - for stdout (ndjson only)"
    )
    exp.add_argument(
        "--format",
        choices=FORMATS,
        help="zip or ndjson; default: as --out's name says (.zip; .ndjson, .jsonl or -), "
        "and an error when it says neither",
    )

    jobs = sub.add_parser(
        "jobs",
        help="list a tenant's (or every tenant's) jobs",
        description="List jobs, newest first. --all-tenants lists every tenant's, with "
        "their tenant: for a credential whose tenants include '*'.",
    )
    add_target(jobs)
    whose = jobs.add_mutually_exclusive_group(required=True)
    whose.add_argument("--tenant")
    whose.add_argument(
        "--all-tenants", action="store_true", help="every tenant's jobs (credentials with '*')"
    )
    output.add_option(jobs)
    jobs.add_argument("--state", choices=sorted(_STATES))
    jobs.add_argument("--kind", choices=sorted(_KINDS))
    jobs.add_argument("--limit", type=int, default=20, help="at most this many (20)")

    watch = sub.add_parser(
        "watch",
        help="follow a job with a progress bar",
        description="Show a job's progress until it ends.",
    )
    add_target(watch)
    watch.add_argument("job_id")

    cancel = sub.add_parser(
        "cancel",
        help="cancel a job",
        description="Cancel a job: at once if not started, else at its next batch boundary.",
    )
    add_target(cancel)
    cancel.add_argument("job_id")


def _when(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _number_or_off(text: str) -> str:
    if text != "off" and not text.isdigit():
        raise argparse.ArgumentTypeError("a whole number or 'off'")
    return text


def _add_subject(
    cmd: argparse.ArgumentParser, *, data_types: bool = True, files: bool = False
) -> None:
    who = cmd.add_mutually_exclusive_group(required=True)
    who.add_argument("--email", help="a contact's or user account's email (any case)")
    who.add_argument(
        "--phone",
        help="a contact's phone number, in any common format (read in the tenant's region "
        "when it has no country code: privacyctl tenant region)",
    )
    if files:
        who.add_argument(
            "--file-id",
            type=int,
            help="one file: how to delete a file a job listed under 'needs review'",
        )
    who.add_argument("--contact-id", type=int)
    who.add_argument("--user-id", type=int, help="a user account")
    who.add_argument(
        "--whole-tenant",
        metavar="TENANT",
        help="every person of the tenant: repeat the tenant id to confirm",
    )
    if not data_types:
        return
    cmd.add_argument(
        "--data-type",
        action="append",
        default=[],
        dest="data_types",
        help="limit to this data type (repeatable); default: all",
    )


def _subject(args: argparse.Namespace) -> pb.Subject:
    return subject(
        email=args.email,
        phone=args.phone,
        contact_id=args.contact_id,
        user_id=args.user_id,
        whole_tenant=args.whole_tenant,
        file_id=getattr(args, "file_id", None),
    )


def _describe(job: pb.Job) -> str:
    counts = ", ".join(
        f"{p.data_type} {p.done}/{p.planned}"
        + (f" (+{p.mentions_redacted} mentions)" if p.mentions_redacted else "")
        for p in job.progress
    )
    text = f"job {job.id} {STATE_NAMES.get(job.state, '?')}"
    if job.cancel_requested:
        text += " (cancelling: it stops at its next batch boundary)"
    if job.dry_run:
        text += " (dry run: planned counts only)"
    if counts:
        text += f": {counts}"
    if job.error_message:
        text += f" — {job.error_message}"
    if timing := waits.timing(job):
        text += f"\n  {timing}"
    for item in job.needs_review:
        # Files that name the subject but could not be rewritten: an operator decides.
        text += (
            f"\n  needs review: file {item.file_id} ({item.data_type}): {item.reason}; "
            f"delete it with: privacyctl erase --tenant {job.tenant_id} --file-id {item.file_id}"
        )
    return text


async def _submit(args: argparse.Namespace, console: Console) -> int:
    async with common.client(args) as client:
        fields: dict[str, Any] = {
            "data_types": args.data_types,
            "dry_run": args.dry_run,
            "idempotency_key": args.idempotency_key,
            "reason_code": REASON_CODES[args.reason_code],
            "note": args.note or args.reason,
            "not_before": args.not_before,
            "deadline": args.deadline,
            "subject_under_16": args.under_16,
        }
        if args.command == "erase":
            job = await client.erase(
                args.tenant, _subject(args), skip_suppression=args.skip_suppression, **fields
            )
        else:
            job = await client.anonymize(
                args.tenant,
                _subject(args),
                consistent_across_jobs=args.consistent_across_jobs,
                **fields,
            )
        console.print(f"accepted {_describe(job)}")
        if args.wait and job.state not in (pb.JOB_STATE_SUCCEEDED,):
            job = await _follow(client, job, console)
    return EXIT_OK if job.state != pb.JOB_STATE_FAILED else EXIT_JOB_NOT_SUCCEEDED


async def _follow(client: PrivacyClient, job: pb.Job, console: Console) -> pb.Job:
    """Follow a job to its end, progress on stderr, saying first what it waits for;
    print its end on `console`."""
    progress = Console(stderr=True)
    if line := waits.waiting_line(job, STATE_NAMES.get(job.state, "?")):
        errors.say(progress, line)
    job = await watch_with_progress(client, job.id, progress)
    console.print(_describe(job))
    return job


async def _export(args: argparse.Namespace, console: Console) -> int:
    try:
        fmt = export_format(args.out, args.format)
    except ValueError as error:  # before anything is asked or written
        errors.say(Console(stderr=True), f"privacyctl export: {error}")
        return EXIT_USAGE
    if args.out != "-":
        errors.check_writable(Path(args.out))
    requested = Requested(args.tenant, _subject(args))
    async with common.client(args) as client:
        chunks = client.export(args.tenant, requested.subject, data_types=args.data_types)
        if args.out == "-":
            await write_ndjson(chunks, sys.stdout, requested=requested)
            return EXIT_OK
        out = Path(args.out)
        if fmt == "ndjson":
            with await asyncio.to_thread(out.open, "w", encoding="utf-8") as f:
                manifest = await write_ndjson(chunks, f, requested=requested)
        else:
            manifest = await write_zip(chunks, out, Console(stderr=True), requested=requested)
    counts = ", ".join(f"{k} {v}" for k, v in (manifest or {}).get("record_counts", {}).items())
    console.print(f"exported to {out}: {counts}", highlight=False)
    if fmt == "zip":
        console.print("open index.html in it to read it; manifest.json lists every file")
    if missing := (manifest or {}).get("missing_files"):
        console.print(
            f"{len(missing)} file(s) missing from the service's blob store: listed in the "
            "manifest's missing_files, not in the export",
            highlight=False,
        )
    return EXIT_OK


async def _jobs(args: argparse.Namespace, console: Console) -> int:
    async with common.client(args) as client:
        page = await client.list_jobs(
            args.tenant or "",
            state=_STATES[args.state] if args.state else pb.JOB_STATE_UNSPECIFIED,
            kind=_KINDS[args.kind] if args.kind else pb.JOB_KIND_UNSPECIFIED,
            page_size=args.limit,
            all_tenants=args.all_tenants,
        )
    output.jobs(args.output, page.jobs, tenant_column=args.all_tenants)
    return EXIT_OK


async def _watch(args: argparse.Namespace, console: Console) -> int:
    async with common.client(args) as client:
        job = await _follow(client, await client.get_job(args.job_id), console)
    return EXIT_OK if job.state == pb.JOB_STATE_SUCCEEDED else EXIT_JOB_NOT_SUCCEEDED


async def _cancel(args: argparse.Namespace, console: Console) -> int:
    async with common.client(args) as client:
        job = await client.cancel_job(args.job_id)
    console.print(_describe(job))
    return EXIT_OK


async def _delete_account(args: argparse.Namespace, console: Console) -> int:
    async with common.client(args) as client:
        workflow = AccountDeletion(client, grace=timedelta(days=args.grace_days))
        scheduled = await workflow.schedule(args.tenant, args.user_id, last_owner=args.last_owner)
        for job in scheduled.jobs:
            console.print(f"scheduled {_describe(job)}")
        if args.undo:
            for job in await workflow.undo(scheduled):
                console.print(f"undone: {_describe(job)}")
            return EXIT_OK
        if not args.wait:
            return EXIT_OK
        progress = Console(stderr=True)
        for job in scheduled.jobs:
            if line := waits.waiting_line(job, STATE_NAMES.get(job.state, "?")):
                errors.say(progress, line)
        outcome = await workflow.wait(scheduled)
    console.print(outcome.summary(), highlight=False)
    return EXIT_OK if outcome.succeeded else EXIT_JOB_NOT_SUCCEEDED


def _describe_hold(hold: pb.LegalHold) -> str:
    whom = "the whole tenant" if hold.whole_tenant else f"subject {hold.subject_hash[:16]}…"
    state = "released" if hold.HasField("released_at") else "active"
    return f"hold {hold.id} on {whom} in {hold.tenant_id}: {state} ({hold.reason})"


async def _hold(args: argparse.Namespace, console: Console) -> int:
    async with common.client(args) as client:
        if args.hold_command == "set":
            held = [await client.set_legal_hold(args.tenant, _subject(args), args.reason)]
        elif args.hold_command == "release":
            held = [await client.release_legal_hold(args.hold_id, args.reason)]
        else:
            listed = await client.list_legal_holds(args.tenant, include_released=args.all)
            if listed or args.output == "json":  # a script gets its [] as json
                output.holds(args.output, listed)
            else:
                which = (
                    "legal holds" if args.all else "active legal holds (--all: released ones too)"
                )
                console.print(f"no {which} in tenant {args.tenant}", highlight=False)
            return EXIT_OK
    for hold in held:
        console.print(_describe_hold(hold), highlight=False)
    if not held:
        which = "legal holds" if args.all else "active legal holds (--all: released ones too)"
        console.print(f"no {which} in tenant {args.tenant}", highlight=False)
    return EXIT_OK


def _run_server_command(args: argparse.Namespace) -> int:
    """The commands that run the server or work on its database directly. server/ is
    imported here only, so a client command starts without loading it."""
    from server import commands

    if args.command == "serve":
        return commands.serve()
    if args.command == "worker":
        return commands.worker()
    if args.command == "seed":
        from demo import command as demo  # demo tenants: not the service's, loaded only here

        return demo.seed(args.tenant, contacts=args.contacts, seed=args.seed)
    return _run_database_command(args)


def _run_database_command(args: argparse.Namespace) -> int:
    """credentials, audit, retention and tenant: the commands on the database directly."""
    from server import commands

    if args.command == "credentials":
        return commands.credentials(
            args.credentials_command,
            getattr(args, "name", None),
            getattr(args, "scopes", None) or (),
            getattr(args, "tenants", None) or (),
            show=output.credentials(getattr(args, "output", output.Format.TABLE)),
        )
    if args.command == "audit":
        if args.audit_command == "checkpoint":
            return commands.audit_checkpoint(args.tenant)
        if args.audit_command == "public-key":
            return commands.audit_public_key()
        return commands.audit_verify(args.tenant, args.checkpoints, args.public_key)
    if args.command == "retention":
        return commands.retention(
            args.retention_command,
            getattr(args, "tenant", None),
            getattr(args, "activity_months", None),
            getattr(args, "closed_account_days", None),
            show=output.retention(getattr(args, "output", output.Format.TABLE)),
        )
    return commands.tenant_region(args.tenant, args.set)


_SERVER_COMMANDS = frozenset(
    {"serve", "worker", "credentials", "audit", "retention", "tenant", "seed"}
)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command in _SERVER_COMMANDS:
        return _run_server_command(args)
    console = Console()
    run = {
        "erase": _submit,
        "anonymize": _submit,
        "export": _export,
        "jobs": _jobs,
        "watch": _watch,
        "cancel": _cancel,
        "delete-account": _delete_account,
        "hold": _hold,
        "suppression": suppression.run,
        "find": lookup.run,
    }[args.command]
    try:
        return asyncio.run(run(args, console))
    except (PrivacyClientError, OSError, KeyboardInterrupt) as error:
        return errors.report(error, args, Console(stderr=True))


if __name__ == "__main__":
    sys.exit(main())
