from __future__ import annotations

from datetime import timedelta

from server.worker_config import RetryPolicy


def test_backoff_doubles_up_to_the_cap() -> None:
    policy = RetryPolicy(
        max_attempts=10, base_delay=timedelta(seconds=1), max_delay=timedelta(seconds=5)
    )
    assert [policy.delay(n).total_seconds() for n in range(1, 6)] == [1, 2, 4, 5, 5]


def test_gives_up_at_max_attempts() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert [policy.gives_up(n) for n in (1, 2, 3)] == [False, False, True]
