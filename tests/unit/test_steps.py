"""The parts driver: parts run in order, by name; a reordered or added part is not
skipped by a job that resumes, and a renamed one fails the job by its name."""

from __future__ import annotations

from typing import Any

import pytest

from anonymizers.base import Batch, BatchResult, Operation, Scope, Tools
from anonymizers.steps import Position, UnknownPart, run_batch


class _Parts:
    """Each part has `rows` rows; a batch takes up to `limit` after the checkpoint."""

    data_type = "cards"

    def __init__(self, parts: tuple[str, ...], rows: int = 3) -> None:
        self._parts = parts
        self._rows = rows
        self.ran: list[tuple[str, int]] = []

    def parts(self, operation: Operation, scope: Scope) -> tuple[str, ...]:
        return self._parts

    async def erase(self, conn: Any, batch: Batch, tools: Tools) -> BatchResult:
        self.ran.append((batch.part, batch.after))
        last = min(batch.after + batch.limit, self._rows)
        return BatchResult(
            processed=last - batch.after, checkpoint=last, finished=last >= self._rows
        )


async def _run(anonymizer: _Parts, at: Position, limit: int = 2) -> Position:
    scope = Scope("t", contact_ids=(1,))
    _, _, after = await run_batch(anonymizer, "erase", None, scope, at, limit=limit, tools=None)  # type: ignore[arg-type]
    return after


async def test_parts_run_in_order_each_to_its_end() -> None:
    cards = _Parts(("a", "b"))
    at = Position()
    while not at.finished:
        at = await _run(cards, at)
    assert cards.ran == [("a", 0), ("a", 2), ("b", 0), ("b", 2)]
    assert at.parts_done == ("a", "b")


async def test_a_job_resumes_in_its_part_after_the_parts_were_reordered() -> None:
    before = _Parts(("a", "b", "c"))
    at = await _run(before, await _run(before, Position()))  # "a" done
    at = await _run(before, at)  # half of "b"
    assert (at.part, at.checkpoint, at.parts_done) == ("b", 2, ("a",))
    after = _Parts(("c", "b", "a", "d"))  # the next deploy: reordered, one added
    while not at.finished:
        at = await _run(after, at)
    assert after.ran == [("b", 2), ("c", 0), ("c", 2), ("d", 0), ("d", 2)]
    assert sorted(at.parts_done) == ["a", "b", "c", "d"]


async def test_a_renamed_part_fails_by_name_and_runs_nothing() -> None:
    renamed = _Parts(("a", "bb"))
    with pytest.raises(UnknownPart, match="no part 'b'"):
        await _run(renamed, Position("b", 2, ("a",)))
    assert renamed.ran == []
