"""privacyctl's exit statuses, in one table: every command's --help ends with it, and
docs/privacyctl.md repeats it. A script tells "the job failed" (1) from "the service
said no" (2) from "wrong command line" (64) from "no database here" (69) by the
number alone.

The server half (server/commands.py) cannot import this module (the console is
above it) and keeps the same numbers; tests/unit/test_exit_codes.py holds them equal.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from typing import NoReturn

EXIT_OK = 0
# The job (or the account deletion's jobs) ended other than succeeded; the audit log
# is not intact; a database command was refused (an unknown scope, say).
EXIT_JOB_NOT_SUCCEEDED = 1
# The service answered with an error (its gRPC status is printed), or none answered.
EXIT_RPC_ERROR = 2
# The command line is wrong, or names a file that cannot be read or written
# (sysexits' EX_USAGE; argparse's own 2 would be taken for the service's answer).
EXIT_USAGE = 64
# No database to work on: DATABASE_URL unset and no embedded database under
# PRIVACY_DATA_DIR, or the database cannot be reached (sysexits' EX_UNAVAILABLE).
EXIT_NO_DATABASE = 69
# A setting in the environment is not valid, or the server cannot listen on its
# address (sysexits' EX_CONFIG).
EXIT_CONFIG = 78
# Ctrl-C: 128 + SIGINT, as a shell reports it.
EXIT_INTERRUPTED = 130

_MEANINGS = (
    (EXIT_OK, "done"),
    (
        EXIT_JOB_NOT_SUCCEEDED,
        "the job did not succeed (failed or cancelled), the audit log is not intact, "
        "or a database command was refused",
    ),
    (EXIT_RPC_ERROR, "the service answered with an error, or could not be reached"),
    (EXIT_USAGE, "the command line is wrong, or a file it names cannot be read or written"),
    (
        EXIT_NO_DATABASE,
        "no database: DATABASE_URL is unset and PRIVACY_DATA_DIR holds no embedded "
        "database (only serve and worker create one), or the database cannot be reached",
    ),
    (
        EXIT_CONFIG,
        "a setting in the environment is not valid, or the server cannot listen on "
        "PRIVACY_GRPC_ADDR (in use, or not an address of this host)",
    ),
    (EXIT_INTERRUPTED, "interrupted (Ctrl-C)"),
)

HELP = "exit status:\n" + "".join(
    textwrap.fill(text, 79, initial_indent=f"  {code:<4} ", subsequent_indent=" " * 7) + "\n"
    for code, text in _MEANINGS
)


class Parser(argparse.ArgumentParser):
    """privacyctl's argument parser: every command's help ends with the exit statuses,
    and a wrong command line exits EXIT_USAGE. Subcommands' parsers are of this class
    too (argparse makes them of their parent's)."""

    def format_help(self) -> str:
        # Appended, not an epilog: argparse would rewrap the table into one paragraph.
        return f"{super().format_help()}\n{HELP}"

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")
