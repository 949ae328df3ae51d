"""Show a job's progress in the terminal while it runs."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from atomicrm.privacy.v1 import privacy_pb2 as pb
from clients.client import PrivacyClient

STATE_NAMES = {v: k.removeprefix("JOB_STATE_").lower() for k, v in pb.JobState.items()}


async def watch_with_progress(client: PrivacyClient, job_id: str, console: Console) -> pb.Job:
    """Follow a job to its end with one bar per data type; return its last state."""
    last: pb.Job | None = None
    with Progress(
        TextColumn("{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[state]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bars:
        tasks: dict[str, TaskID] = {}
        async for job in client.watch_job(job_id):
            last = job
            state = STATE_NAMES.get(job.state, "unknown")
            for p in job.progress:
                # Rows that arrived after planning can make done exceed planned.
                total = max(p.planned, p.done)
                if p.data_type not in tasks:
                    tasks[p.data_type] = bars.add_task(p.data_type, total=total, state=state)
                bars.update(tasks[p.data_type], total=total, completed=p.done, state=state)
    if last is None:
        raise RuntimeError("the job stream ended before sending the job")
    return last
