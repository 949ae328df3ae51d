"""How privacyctl's client commands tell a user what went wrong: one message on
stderr (stdout carries results only: `export --out - > f.ndjson` must not get an
error in the file), a hint where one helps, and the exit status; never a traceback
for a user's mistake or a service that is not there."""

from __future__ import annotations

import argparse
import errno
import os
from pathlib import Path

import grpc
from rich.console import Console

from clients.client import PrivacyClientError
from console.exit_codes import EXIT_INTERRUPTED, EXIT_RPC_ERROR, EXIT_USAGE

# gRPC's own words when no server answers at the target (the channel never connected,
# or its name did not resolve), as opposed to the service's UNAVAILABLE ("the
# database cannot be reached").
_NOT_CONNECTED = ("failed to connect to all addresses", "errors resolving")

# Request fields that are command-line options of erase and anonymize.
_OPTIONS = {"not_before", "deadline"}


def say(console: Console, text: str) -> None:
    """A line as is: no markup or highlighting of its text, never wrapped."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def report(error: BaseException, args: argparse.Namespace, console: Console) -> int:
    """Print what went wrong on `console` (stderr) and return the exit status."""
    if isinstance(error, PrivacyClientError):
        _rpc_error(error, args, console)
        return EXIT_RPC_ERROR
    if isinstance(error, OSError):
        where = f": {error.filename}" if error.filename else ""
        say(console, f"privacyctl {args.command}: {error.strerror or error}{where}")
        return EXIT_USAGE
    say(console, "privacyctl: interrupted")
    return EXIT_INTERRUPTED


def _rpc_error(error: PrivacyClientError, args: argparse.Namespace, console: Console) -> None:
    console.print(f"[red]error[/red] {error.code.name}: ", end="", highlight=False)
    say(console, error.message)
    for field, description in error.field_violations:
        # The message names the one violation already (InvalidArgument's text is
        # "field: description"): print only what it does not say.
        if f"{field}: {description}" not in error.message:
            say(console, f"  {field}: {description}")
    for hint in _hints(error, args):
        say(console, hint)


def _hints(error: PrivacyClientError, args: argparse.Namespace) -> list[str]:
    target = getattr(args, "target", "")
    if error.code is grpc.StatusCode.UNAVAILABLE and any(
        words in error.message for words in _NOT_CONNECTED
    ):
        return [
            f"no privacy service answers at {target}: start one with `privacyctl serve` "
            f"(it listens on PRIVACY_GRPC_ADDR), or point --target (PRIVACY_GRPC_ADDR) "
            "at the one running"
        ]
    if any(field in _OPTIONS for field, _ in error.field_violations):
        return [
            "on the command line: --deadline TIME (ISO 8601, e.g. 2026-12-24T17:00Z) sets "
            "the deadline, and --not-before must be before it"
        ]
    return []


def check_writable(path: Path) -> None:
    """Raise the OSError that writing `path` would, before anything is asked of the
    service (an export is audited even when its file cannot be written)."""
    folder = path.parent
    if not folder.is_dir():
        raise FileNotFoundError(errno.ENOENT, "no such directory to write in", str(folder))
    if not os.access(folder, os.W_OK):
        raise PermissionError(errno.EACCES, "no permission to write in", str(folder))
