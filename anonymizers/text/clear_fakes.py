"""Fakes that name none of the subject's identifiers.

A fake is drawn from faker's lists of names, and an address's street and city are
named after people ("277 Castillo Crossroad"): by chance, the fake for one of the
subject's own values can hold the subject's family name, and an anonymization
would write it back. Such a fake is drawn again, as deterministically as the first
(the same original and key always give the same fake)."""

from __future__ import annotations

from collections.abc import Callable

from anonymizers.base import Tools
from anonymizers.text.redaction import Redactor

# Draws before giving up: each is a fresh HMAC pick, so two in a row naming the
# subject are about one in a million for an address; the last draw is kept anyway.
_DRAWS = 8


def clear_of(redactor: Redactor, fake: Callable[[str], str], original: str) -> str:
    """fake(original), drawn again (deterministically) while the redactor finds one of
    the subject's identifiers in it."""
    value = fake(original)
    for attempt in range(1, _DRAWS):
        if redactor.redact(value) == value:
            return value
        value = fake(f"{original}\0{attempt}")
    return value


def fake_address(tools: Tools, original: str, *, whole: bool) -> str:
    """An address's fake, clear of the subject. A whole tenant's redactor takes every
    name of the tenant, and its anonymization's fakes are checked by nobody's name:
    the plain fake there."""
    if whole:
        return tools.fakes.address(original)
    return clear_of(tools.redactor, tools.fakes.address, original)
