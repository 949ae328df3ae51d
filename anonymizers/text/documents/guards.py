"""What every reader of untrusted bytes shares: size budgets, and never raising."""

from __future__ import annotations

from collections.abc import Callable

# Zip parts are inflated only within these budgets: a 60 KB upload can hold gigabytes.
PART_LIMIT = 50 * 1024 * 1024
TOTAL_LIMIT = 200 * 1024 * 1024
# A zip of a million empty parts costs a parser each: past this many, the rest are skipped.
MAX_PARTS = 10_000


def attempt(read: Callable[[], list[str]]) -> list[str]:
    try:
        return read()
    except Exception:
        # Untrusted bytes can break any parser in any way; the other views still count.
        return []
