"""A folder as a test on the event loop sees it: the disk work done in a thread."""

from __future__ import annotations

import asyncio
from pathlib import Path


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


async def files_in(folder: Path) -> list[Path]:
    """Every file under `folder`, at any depth."""
    return await asyncio.to_thread(_files, folder)


async def entries_in(folder: Path) -> list[Path]:
    """Every file and folder under `folder`, at any depth."""
    return await asyncio.to_thread(lambda: list(folder.rglob("*")))


async def contents_of_files_in(folder: Path) -> bytes:
    """The contents of every file under `folder`, one after another."""
    return await asyncio.to_thread(lambda: b"".join(p.read_bytes() for p in _files(folder)))
