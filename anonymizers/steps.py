"""The one driver of an operation's parts: which part a batch runs, and where the next
batch starts. Anonymizers say what their parts are called (`Anonymizer.parts`) and do
one batch of one part; moving from part to part is done here, by name, for all of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from anonymizers.base import Anonymizer, Batch, BatchResult, Operation, Scope, Tools
from db.connection import Connection


class UnknownPart(Exception):
    """A job is in a part its anonymizer no longer has (renamed without a migration):
    the job fails with this message rather than skip the part's rows."""


@dataclass(frozen=True)
class Position:
    """Where an operation on one data type stands: the part it is in (None: not
    started), the last row id done in it, the parts finished, and whether all are."""

    part: str | None = None
    checkpoint: int = 0
    parts_done: tuple[str, ...] = ()
    finished: bool = False


async def run_batch(
    anonymizer: Anonymizer,
    operation: Operation,
    conn: Connection,
    scope: Scope,
    at: Position,
    *,
    limit: int,
    tools: Tools,
) -> tuple[Batch, BatchResult, Position]:
    """Run the next batch of `operation` from `at`: the batch, what it did, and the
    position after it."""
    parts = anonymizer.parts(operation, scope)
    part = current_part(anonymizer.data_type, operation, parts, at)
    batch = Batch(scope, part=part, after=at.checkpoint if part == at.part else 0, limit=limit)
    if operation == "mentions":
        result = await anonymizer.redact_mentions(conn, batch, tools)
    elif operation == "anonymize":
        result = await anonymizer.anonymize(conn, batch, tools)
    else:
        result = await anonymizer.erase(conn, batch, tools)
    if not result.finished:
        return batch, result, Position(part, result.checkpoint, at.parts_done)
    done = (*at.parts_done, part)
    following = [p for p in parts if p not in done]
    if following:
        return batch, result, Position(following[0], 0, done)
    return batch, result, Position(part, result.checkpoint, done, finished=True)


def current_part(data_type: str, operation: Operation, parts: tuple[str, ...], at: Position) -> str:
    """The part the next batch runs: the one the job is in, else the first not done."""
    if at.part is not None and at.part not in at.parts_done:
        if at.part not in parts:
            raise UnknownPart(
                f"{data_type}.{operation} has no part {at.part!r} (its parts: "
                f"{', '.join(parts)}): a part was renamed without migrating the jobs "
                "that were in it"
            )
        return at.part
    following = [p for p in parts if p not in at.parts_done]
    if not following:
        raise UnknownPart(f"{data_type}.{operation}: every part is done already")
    return following[0]
