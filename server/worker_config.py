"""How a worker works: batch size, lease, polling, retries, time slices."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from anonymizers.text.phones import DEFAULT_REGION
from server.keyring import Keyring


@dataclass(frozen=True)
class RetryPolicy:
    """When a failed batch is tried again, and when the job gives up."""

    max_attempts: int = 5
    base_delay: timedelta = timedelta(seconds=1)
    max_delay: timedelta = timedelta(minutes=5)

    def delay(self, attempt: int) -> timedelta:
        """Exponential backoff: base, 2*base, 4*base, ... capped at max_delay."""
        return min(self.base_delay * (1 << max(attempt - 1, 0)), self.max_delay)

    def gives_up(self, attempt: int) -> bool:
        return attempt >= self.max_attempts


@dataclass(frozen=True)
class WorkerConfig:
    batch_size: int
    lease: timedelta
    poll_interval: timedelta
    retry: RetryPolicy
    keyring: Keyring  # unwraps tenant keys and jobs' own keys for their fakes
    # How long a worker stays on one job before giving it back to the queue, so a
    # tenant-wide job shares the worker with the jobs that came in meanwhile.
    time_slice: timedelta = timedelta(seconds=5)
    # A job whose deadline is closer than this runs before all but children's.
    at_risk: timedelta = timedelta(hours=72)
    # Where phone numbers are read in a tenant without its own region.
    default_region: str = DEFAULT_REGION
