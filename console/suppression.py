"""privacyctl suppression check | add | remove | list: the suppression list
(docs/suppression.md), over the gRPC contract.

Identifiers are given as `--email X` and `--phone Y`, each repeatable, and answered
in the order given. Nothing is guessed from a bare argument: "0612345678" could be
either in some forms, and a wrong guess would check (or suppress) the wrong thing.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from datetime import UTC

from rich.console import Console

from atomicrm.privacy.v1 import privacy_pb2 as pb
from clients.client import MAX_IDENTIFIERS, Answer, email, phone
from console import common, output
from console.common import EXIT_OK, REASON_CODES, add_target
from console.exit_codes import EXIT_USAGE

_REASON_NAMES = {value: name for name, value in REASON_CODES.items()}
# ListSuppressions answers at most this many entries a page.
_MAX_PAGE = 1000
_DEFAULT_LIMIT = 100


def add_erase_option(cmd: argparse.ArgumentParser) -> None:
    """`erase --skip-suppression`."""
    cmd.add_argument(
        "--skip-suppression",
        action="store_true",
        help="do not suppress the erased contact's or user's emails and phone numbers "
        "(by default they are, from the moment the request is accepted: "
        "`privacyctl suppression check` answers 'suppressed' for them)",
    )


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """suppression check, add, remove and list."""
    group = sub.add_parser(
        "suppression",
        help="check, add, remove or list suppressed emails and phone numbers",
        description="The suppression list: emails and phone numbers erased here (an "
        "Erase suppresses its subject's unless --skip-suppression), or never to be "
        "stored, that the services feeding the CRM must not bring back. Kept as keyed "
        "hashes only. Scopes: suppression.read (check, list), suppression.write (add, "
        "remove). See docs/suppression.md.",
    )
    commands = group.add_subparsers(dest="suppression_command", required=True, metavar="COMMAND")
    check = commands.add_parser(
        "check",
        help="is each identifier suppressed?",
        description="Ask whether each identifier is suppressed in the tenant; prints one "
        "line per identifier, in the order given: 'suppressed', 'not suppressed', or "
        "'invalid' (neither an email nor a phone number).",
    )
    add = commands.add_parser(
        "add",
        help="suppress identifiers (audited)",
        description="Suppress emails or phone numbers that were never in the CRM (a person "
        "who asks not to be contacted or stored). Each must be valid. Audited.",
    )
    remove = commands.add_parser(
        "remove",
        help="lift suppressions (audited; --reason-code required)",
        description="Lift suppressions, e.g. when the person consents again. The reason "
        "code is required and kept in the audit log.",
    )
    for cmd in (check, add, remove):
        add_target(cmd)
        cmd.add_argument("--tenant", required=True)
        _add_identifiers(cmd)
        output.add_option(cmd)
    add.add_argument(
        "--reason-code",
        choices=sorted(REASON_CODES),
        default="unspecified",
        help="why (kept with each entry and in the audit log)",
    )
    remove.add_argument(
        "--reason-code",
        choices=sorted(set(REASON_CODES) - {"unspecified"}),
        required=True,
        help="why (kept in the audit log)",
    )
    listing = commands.add_parser(
        "list",
        help="the tenant's entries: hashes, kind, when, why, by which job",
        description="List the tenant's entries, newest first: the keyed hash of each "
        "identifier (never the identifier), its kind, when and why it was suppressed, the "
        "Erase job that did (or '-': suppressed by hand) and the caller.",
    )
    add_target(listing)
    listing.add_argument("--tenant", required=True)
    listing.add_argument(
        "--limit",
        type=_count,
        default=_DEFAULT_LIMIT,
        help=f"at most this many entries ({_DEFAULT_LIMIT}; 0: all)",
    )
    listing.add_argument(
        "--page-token", default="", help="go on from where a previous list stopped"
    )
    output.add_option(listing)


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError("a whole number (0: all)")
    return int(text)


def _add_identifiers(cmd: argparse.ArgumentParser) -> None:
    # One list, so the answers come in the order given on the command line.
    cmd.set_defaults(identifiers=[])
    cmd.add_argument(
        "--email",
        dest="identifiers",
        action="append",
        type=email,
        metavar="EMAIL",
        help="an email, in any case (repeatable)",
    )
    cmd.add_argument(
        "--phone",
        dest="identifiers",
        action="append",
        type=phone,
        metavar="PHONE",
        help="a phone number in any common format, read in the tenant's region when it "
        "has no country code (repeatable)",
    )


def _shown(identifier: pb.Identifier) -> str:
    return f"{identifier.WhichOneof('kind') or '?'} {_value(identifier)}"


def _value(identifier: pb.Identifier) -> str:
    kind = identifier.WhichOneof("kind")
    return str(getattr(identifier, kind)) if kind else ""


async def run(args: argparse.Namespace, console: Console) -> int:
    """The suppression command the arguments name."""
    if args.suppression_command == "list":
        return await _list(args)
    identifiers: list[pb.Identifier] = args.identifiers
    # A wrong command line, like argparse's own errors: on stderr, EXIT_USAGE.
    if not identifiers:
        Console(stderr=True).print("[red]error[/red] give at least one --email or --phone")
        return EXIT_USAGE
    if len(identifiers) > MAX_IDENTIFIERS:
        Console(stderr=True).print(
            f"[red]error[/red] at most {MAX_IDENTIFIERS:,} identifiers a call"
        )
        return EXIT_USAGE
    async with common.client(args) as client:
        if args.suppression_command == "check":
            answers = await client.check_suppression(args.tenant, identifiers)
            _answers(args.output, identifiers, answers.answers)
        elif args.suppression_command == "add":
            reason = REASON_CODES[args.reason_code]
            added = await client.suppress(args.tenant, identifiers, reason_code=reason)
            _changed(
                args,
                {"added": added, "identifiers": len(identifiers)},
                f"suppressed in {args.tenant}: {added} new of {len(identifiers)} "
                "(the others were suppressed already)",
            )
        else:
            reason = REASON_CODES[args.reason_code]
            removed = await client.unsuppress(args.tenant, identifiers, reason_code=reason)
            _changed(
                args,
                {"removed": removed, "identifiers": len(identifiers)},
                f"suppression lifted in {args.tenant}: {removed} of {len(identifiers)} "
                "(the others were not suppressed)",
            )
    return EXIT_OK


def _answers(
    fmt: output.Format, identifiers: Sequence[pb.Identifier], answers: Sequence[Answer]
) -> None:
    """check's answers: "email x: suppressed" lines, or JSON."""
    pairs = list(zip(identifiers, answers, strict=True))
    if fmt is not output.Format.JSON:
        for identifier, answer in pairs:
            _say(f"{_shown(identifier)}: {answer}")
        return
    # The caller's own input, echoed to the caller's terminal as the lines above do.
    records = [
        {"kind": i.WhichOneof("kind"), "value": _value(i), "answer": str(a)} for i, a in pairs
    ]
    print(json.dumps({"answers": records}, indent=2, ensure_ascii=False))


def _changed(args: argparse.Namespace, counts: dict[str, int], text: str) -> None:
    if args.output is output.Format.JSON:
        print(json.dumps({"tenant_id": args.tenant, **counts}, indent=2))
    else:
        _say(text)


def _say(text: str) -> None:
    """A line as is: no markup, no highlighting, never wrapped or cut."""
    print(text)


async def _list(args: argparse.Namespace) -> int:
    """Pages until --limit entries (or the last); each page asks for what is left, so
    the token printed at the end goes on from exactly there."""
    entries: list[pb.Suppression] = []
    token = args.page_token
    async with common.client(args) as client:
        while True:
            left = args.limit - len(entries) if args.limit else _MAX_PAGE
            page = await client.list_suppressions(
                args.tenant, page_size=min(left, _MAX_PAGE), page_token=token
            )
            entries.extend(page.suppressions)
            token = page.next_page_token
            if not token or (args.limit and len(entries) >= args.limit):
                break
    output.emit(
        args.output,
        "suppressions",
        entries,
        _COLUMNS,
        _record,
        extra={"next_page_token": token},
    )
    if args.output is output.Format.JSON:
        return EXIT_OK
    _say(f"{len(entries)} entries")
    if token:
        _say(f"more: privacyctl suppression list --tenant {args.tenant} --page-token {token}")
    return EXIT_OK


def _created(entry: pb.Suppression) -> str:
    return entry.created_at.ToDatetime(tzinfo=UTC).isoformat(timespec="seconds")


def _reason(entry: pb.Suppression) -> str:
    return _REASON_NAMES.get(entry.reason_code, str(entry.reason_code))


_COLUMNS: list[output.Column[pb.Suppression]] = [
    output.Column("identifier_hash", lambda e: e.identifier_hash),
    output.Column("kind", lambda e: e.kind),
    output.Column("created", _created),
    output.Column("reason", _reason),
    output.Column("job", lambda e: e.job_id or "-"),
    output.Column("actor", lambda e: e.actor),
]


def _record(entry: pb.Suppression) -> dict[str, object]:
    return {
        "identifier_hash": entry.identifier_hash,
        "kind": entry.kind,
        "created_at": _created(entry),
        "reason_code": _reason(entry),
        "job_id": entry.job_id or None,
        "actor": entry.actor,
    }
