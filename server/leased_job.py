"""A leased job and its next task, typed once from the rows a batch locks."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

from anonymizers.base import Operation, Scope
from anonymizers.steps import Position
from server.job_model import STEP_MENTIONS, JobKind, scope_of


@dataclass(frozen=True)
class LeasedJob:
    """A job this worker holds, as lock_leased_job read it at the start of a batch."""

    id: uuid.UUID
    tenant_id: str
    kind: JobKind
    subject_hash: str
    scope: Scope
    cancel_requested: bool

    @classmethod
    def of(cls, job_id: uuid.UUID, row: asyncpg.Record) -> LeasedJob:
        return cls(
            id=job_id,
            tenant_id=row["tenant_id"],
            kind=JobKind(row["kind"]),
            subject_hash=row["subject_hash"],
            scope=scope_of(row),
            cancel_requested=row["cancel_requested"],
        )

    @property
    def whole_tenant(self) -> bool:
        return self.scope.whole_tenant

    @property
    def anonymizes(self) -> bool:
        return self.kind is JobKind.ANONYMIZE

    @property
    def erases_whole_tenant(self) -> bool:
        return self.whole_tenant and self.kind is JobKind.ERASE

    @property
    def limited_to_a_period(self) -> bool:
        return self.scope.records_after is not None or self.scope.records_before is not None


@dataclass(frozen=True)
class LeasedTask:
    """A job's next unfinished (data type, step), as next_task read it, locked."""

    position: int
    data_type: str
    step: str
    part: str | None  # the step's part the next batch is in (None: not started)
    checkpoint: int  # the last row id done in that part
    parts_done: tuple[str, ...]
    batches: int  # batches done so far

    @classmethod
    def of(cls, row: asyncpg.Record) -> LeasedTask:
        return cls(
            position=row["position"],
            data_type=row["data_type"],
            step=row["step"],
            part=row["part"],
            checkpoint=row["checkpoint"],
            parts_done=tuple(row["parts_done"]),
            batches=row["batches"],
        )

    @property
    def mentions(self) -> bool:
        return self.step == STEP_MENTIONS

    @property
    def at(self) -> Position:
        """Where the step stands, for the parts driver (anonymizers/steps.py)."""
        return Position(self.part, self.checkpoint, self.parts_done)

    def operation(self, job: LeasedJob) -> Operation:
        if self.mentions:
            return "mentions"
        return "anonymize" if job.anonymizes else "erase"
