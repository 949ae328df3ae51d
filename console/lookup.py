"""privacyctl find: the contact and user ids an email or a phone number names in a
tenant, over the gRPC contract (FindSubjects).

It matches as Erase does, so the ids it prints are what `erase --email` (or
`--phone`) would cover; `--contact-id` and `--user-id` then name one of them alone.
"""

from __future__ import annotations

import argparse
import json

from rich.console import Console

from clients.client import email, phone
from console import common, output
from console.common import EXIT_OK, add_target


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`find --tenant T (--email E | --phone P)`."""
    find = sub.add_parser(
        "find",
        help="the contact and user ids an email or a phone number names",
        description="Print the ids of the tenant's contacts and user accounts that an email "
        "(any case) or a phone number (read in the tenant's region) names, matched as "
        "Erase matches a subject: ids only. Audited as a lookup (the subject as its keyed "
        "hash). Scope: lookup. Exit status: 0 when the service answered, whatever it "
        "found (nothing: a line saying so, or empty lists in JSON); 2 on an error.",
    )
    add_target(find)
    find.add_argument("--tenant", required=True)
    who = find.add_mutually_exclusive_group(required=True)
    who.add_argument("--email", type=email, dest="identifier", metavar="EMAIL")
    who.add_argument("--phone", type=phone, dest="identifier", metavar="PHONE")
    output.add_option(find)


async def run(args: argparse.Namespace, console: Console) -> int:
    """Ask, then print one row per match: its kind (contact, user) and its id."""
    async with common.client(args) as client:
        found = await client.find_subjects(args.tenant, args.identifier)
    if args.output is output.Format.JSON:
        document = {"contact_ids": list(found.contact_ids), "user_ids": list(found.user_ids)}
        print(json.dumps(document, indent=2))
        return EXIT_OK
    rows = [["contact", str(i)] for i in found.contact_ids]
    rows += [["user", str(i)] for i in found.user_ids]
    if not rows:
        print(f"no contact or user account in tenant {args.tenant!r} matches")
        return EXIT_OK
    for line in output.table(["kind", "id"], rows):
        print(line)
    return EXIT_OK
