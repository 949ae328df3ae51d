"""The account-deletion workflow, as the account service runs it (policy section 8).

When a user closes their account:
1. `schedule` asks for the erasure of the user account, to start after a grace
   period (in which the user can change their mind) and to be done within the
   policy's 30 days of the closing; for the tenant's last owner, the whole
   tenant's erasure too. Retrying `schedule` returns the same jobs.
2. `undo` during the grace period cancels them; nothing has happened yet, so
   nothing needs undoing.
3. `wait` follows the jobs to their end and reports the outcome.

The closed account's identifiers are suppressed (docs/suppression.md) by the Erase
that `schedule` asks for: an Erase suppresses its subject's emails and phone numbers
from the moment it is accepted (it does not pass skip_suppression), so from the
closing on, services feeding the CRM are told not to bring the account back, though
the erasure itself waits out the grace period. The workflow makes no Suppress call
of its own (it knows the user's id, not their identifiers), nor an Unsuppress call
on `undo`: cancelling the Erase lifts the entries it made (the service's rule, so
an undone closing keeps nobody out). A whole tenant's erasure (last owner) destroys
the tenant's key, and with it the tenant's suppression entries: there is no tenant
left to feed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from atomicrm.privacy.v1 import privacy_pb2 as pb
from clients.client import PrivacyClient, PrivacyClientError, subject

DEFAULT_GRACE = timedelta(days=7)
POLICY_LIMIT = timedelta(days=30)  # privacy policy, section 8


@dataclass(frozen=True)
class Scheduled:
    """The jobs one account deletion made."""

    tenant_id: str
    user_id: int
    account_job: pb.Job
    tenant_job: pb.Job | None  # only for the tenant's last owner

    @property
    def jobs(self) -> tuple[pb.Job, ...]:
        return (self.account_job,) + ((self.tenant_job,) if self.tenant_job else ())


@dataclass(frozen=True)
class Outcome:
    """How an account deletion ended."""

    jobs: tuple[pb.Job, ...]

    @property
    def succeeded(self) -> bool:
        return all(j.state == pb.JOB_STATE_SUCCEEDED for j in self.jobs)

    def summary(self) -> str:
        parts = []
        for job in self.jobs:
            state = pb.JobState.Name(job.state).removeprefix("JOB_STATE_").lower()
            rows = sum(p.done for p in job.progress)
            text = f"job {job.id}: {state}, {rows} rows"
            if job.error_message:
                text += f" ({job.error_message})"
            parts.append(text)
        verdict = "account deleted" if self.succeeded else "account deletion did not complete"
        return f"{verdict}: " + "; ".join(parts)


class AccountDeletion:
    """Schedules, undoes and follows account deletions through a PrivacyClient."""

    def __init__(
        self,
        client: PrivacyClient,
        *,
        grace: timedelta = DEFAULT_GRACE,
        limit: timedelta = POLICY_LIMIT,
    ) -> None:
        if grace >= limit:
            raise ValueError("the grace period must end before the policy's limit")
        self._client = client
        self._grace = grace
        self._limit = limit

    async def schedule(
        self,
        tenant_id: str,
        user_id: int,
        *,
        last_owner: bool = False,
        closed_at: datetime | None = None,
        subject_under_16: bool = False,
    ) -> Scheduled:
        """Schedule the erasure of a closed account (and of its tenant, for the last owner).
        Accepted, the account's erasure suppresses its identifiers at once.

        `closed_at` (default now) anchors both times, so a retry days later asks for
        the same deadline; the idempotency keys make it return the same jobs.
        """
        closed_at = closed_at or datetime.now(UTC)

        async def erase(who: pb.Subject, key: str, note: str) -> pb.Job:
            return await self._client.erase(
                tenant_id,
                who,
                idempotency_key=f"account-deletion:{tenant_id}:{key}",
                reason_code=pb.REASON_CODE_ACCOUNT_CLOSED,
                note=note,
                not_before=closed_at + self._grace,
                deadline=closed_at + self._limit,
                subject_under_16=subject_under_16,
            )

        account = await erase(
            subject(user_id=user_id), f"user:{user_id}", "account closed by its user"
        )
        tenant = None
        if last_owner:
            tenant = await erase(
                subject(whole_tenant=tenant_id),
                "tenant",
                "the tenant's last owner closed their account",
            )
        return Scheduled(tenant_id, user_id, account, tenant)

    async def undo(self, scheduled: Scheduled) -> tuple[pb.Job, ...]:
        """The user changed their mind: cancel the jobs (in the grace period, nothing ran)."""
        cancelled = []
        for job in scheduled.jobs:
            try:
                cancelled.append(await self._client.cancel_job(job.id))
            except PrivacyClientError as error:
                if error.code.name != "FAILED_PRECONDITION":  # already finished: say so below
                    raise
                cancelled.append(await self._client.get_job(job.id))
        return tuple(cancelled)

    async def wait(self, scheduled: Scheduled) -> Outcome:
        """Follow every job to its end."""
        return Outcome(tuple([await self._client.wait_job(j.id) for j in scheduled.jobs]))
