"""privacyctl's exit statuses are one table: the server's commands (which cannot import
the console) use the numbers the console documents."""

from __future__ import annotations

from console import exit_codes
from server import commands


def test_the_server_commands_exit_with_the_documented_numbers() -> None:
    assert commands.EXIT_OK == exit_codes.EXIT_OK
    assert commands.EXIT_FAILED == exit_codes.EXIT_JOB_NOT_SUCCEEDED
    assert commands.EXIT_USAGE == exit_codes.EXIT_USAGE
    assert commands.EXIT_NO_DATABASE == exit_codes.EXIT_NO_DATABASE
    assert commands.EXIT_CONFIG == exit_codes.EXIT_CONFIG
    for code in (0, 1, 2, 64, 69, 78, 130):
        assert f"\n  {code:<4} " in f"\n{exit_codes.HELP}"
