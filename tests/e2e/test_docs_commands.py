"""Every shell block of README.md and docs/*.md runs, as written, against a served
process, so the docs cannot drift from the CLI again (docs/cli.md, "Commands in these
docs are tested": the markers and placeholders).

One `privacyctl serve` and one database for the module; blocks run in the order of
the files (README first), each a test of its own, on the state the blocks before it
left (the README seeds `demo`; a block run alone seeds it first, as the README does).
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from tests.helpers import processes
from tests.helpers.database import with_database

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELLS = frozenset({"sh", "bash", "console"})
FENCE = re.compile(r"^```(\S*)\s*$")
MARK = re.compile(r"^<!--\s*(not-run|exit):\s*(.*?)\s*-->$")
PLACEHOLDER = re.compile(r"<([a-z][a-z ]*[a-z])>")
TENANT = "demo"
SEED = f"privacyctl seed --tenant {TENANT} --contacts 200 --seed 1"  # the README's
BLOCK_TIMEOUT = 100  # seconds: the README's block seeds 200 contacts, then waits for jobs


@dataclass(frozen=True)
class Block:
    """A fenced shell block, where it is, and what its marker says."""

    path: Path
    line: int  # of the opening fence, 1-based
    language: str
    text: str
    marker: str = ""  # "not-run" or "exit", from the line right above
    argument: str = ""  # the reason, or the exit status

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def runs(self) -> bool:
        return self.marker != "not-run"

    @property
    def expected_exit(self) -> int:
        return int(self.argument) if self.marker == "exit" else 0

    def script(self) -> str:
        """What runs: the text, or a console block's `$ ` lines."""
        if self.language != "console":
            return self.text
        return "\n".join(line[2:] for line in self.text.splitlines() if line.startswith("$ "))


def blocks() -> list[Block]:
    """Every sh, bash and console block of the docs, in order."""
    found: list[Block] = []
    for path in DOCS:
        lines = path.read_text(encoding="utf-8").splitlines()
        i = 0
        while i < len(lines):
            opening = FENCE.match(lines[i])
            if opening is None:
                i += 1
                continue
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            if opening.group(1) in SHELLS:
                above = next((lines[k] for k in range(i - 1, -1, -1) if lines[k].strip()), "")
                mark = MARK.match(above.strip())
                found.append(
                    Block(
                        path,
                        i + 1,
                        opening.group(1),
                        "\n".join(lines[i + 1 : end]) + "\n",
                        *(mark.groups() if mark else ("", "")),
                    )
                )
            i = end + 1
    return found


BLOCKS = blocks()


def test_every_shell_block_runs_or_says_why_not() -> None:
    # The blocks this test exists for are found (a parser that finds none passes all).
    names = {b.name.split(":")[0] for b in BLOCKS if b.runs}
    assert {"README.md", "docs/runbook.md", "docs/cli.md", "docs/suppression.md"} <= names
    for block in BLOCKS:
        if block.marker == "not-run":
            assert block.argument, f"{block.name}: say why it does not run"
        if block.marker == "exit":
            assert block.argument.isdigit(), f"{block.name}: <!-- exit: N --> takes a number"
        if block.runs:
            assert block.script().strip(), f"{block.name}: nothing to run"


# What each placeholder becomes, read when its block runs (docs/cli.md lists them).
Resolve = Callable[[asyncpg.Connection], Awaitable[object]]
PLACEHOLDERS: dict[str, Resolve] = {
    "tenant": lambda db: _const(TENANT),
    "email": lambda db: db.fetchval(
        "SELECT email FROM contacts WHERE tenant_id = $1 AND email IS NOT NULL "
        "ORDER BY id DESC LIMIT 1",
        TENANT,
    ),
    "contact id": lambda db: db.fetchval(
        "SELECT min(id) FROM contacts WHERE tenant_id = $1", TENANT
    ),
    "file id": lambda db: db.fetchval("SELECT max(id) FROM files WHERE tenant_id = $1", TENANT),
    "job id": lambda db: db.fetchval(
        "SELECT id::text FROM privacy_jobs WHERE tenant_id = $1 AND state = 'succeeded' "
        "ORDER BY finished_at DESC LIMIT 1",
        TENANT,
    ),
    "ticket": lambda db: _const("OPS-1234"),
}


async def _const(value: str) -> str:
    return value


def test_every_placeholder_is_one_the_test_knows() -> None:
    for block in BLOCKS:
        if block.runs:
            unknown = set(PLACEHOLDER.findall(block.script())) - set(PLACEHOLDERS)
            assert not unknown, f"{block.name}: unknown placeholders {sorted(unknown)}"


@dataclass(frozen=True)
class Served:
    db: asyncpg.Connection
    env: dict[str, str]
    scratch: Path


@pytest.fixture(scope="module")
async def served(
    server_url: str, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Served]:
    """`privacyctl serve` on free ports over a database of its own; a scratch directory
    where `.venv` is the project's (the README says `.venv/bin/privacyctl`)."""
    name = f"privacy_docs_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    url = with_database(server_url, name)
    base = tmp_path_factory.mktemp("docs")
    blob_dir = base / "blobs"
    blob_dir.mkdir()
    scratch = base / "scratch"
    scratch.mkdir()
    venv = Path(sys.executable).parent
    (scratch / ".venv").symlink_to(venv.parent, target_is_directory=True)
    port = processes.free_port()
    env = processes.env(url, blob_dir, PRIVACY_GRPC_ADDR=f"127.0.0.1:{port}", COLUMNS="80")
    env.pop("PRIVACY_TOKEN", None)  # the development token, as a reader of the docs has
    env["PATH"] = f"{venv}{os.pathsep}{env.get('PATH', '')}"
    server = await processes.start(["serve"], env, base / "serve.log")
    db = await asyncpg.connect(url)
    try:
        await processes.wait_serving(port)
        yield Served(db, env, scratch)
    finally:
        server.terminate()
        await server.wait()
        await db.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _bash(script: str, served: Served) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        "bash",
        "-euo",
        "pipefail",
        "-c",
        script,
        cwd=served.scratch,
        env=served.env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), BLOCK_TIMEOUT)
    assert process.returncode is not None
    return process.returncode, out.decode(errors="replace")


async def _substituted(block: Block, db: asyncpg.Connection) -> str:
    script = block.script()
    for name in sorted(set(PLACEHOLDER.findall(script))):
        value = await PLACEHOLDERS[name](db)
        assert value is not None, f"{block.name}: nothing in the database for <{name}>"
        script = script.replace(f"<{name}>", str(value))
    return script


@pytest.mark.timeout(BLOCK_TIMEOUT + 60)
@pytest.mark.parametrize("block", [b for b in BLOCKS if b.runs], ids=lambda b: b.name)
async def test_the_block_runs(served: Served, block: Block) -> None:
    seeds = SEED in block.script()
    if not seeds and not await served.db.fetchval(
        "SELECT EXISTS (SELECT 1 FROM tenants WHERE tenant_id = $1)", TENANT
    ):
        code, out = await _bash(SEED, served)  # run before the README's block: as it does
        assert code == 0, out
    script = await _substituted(block, served.db)
    code, out = await _bash(script, served)
    assert code == block.expected_exit, (
        f"{block.name} exited {code}, not {block.expected_exit}:\n{script}\n--- output\n{out}"
    )
