"""The metrics endpoint of a real server: figures move with real jobs, the scrape
passes `promtool check metrics`, and no label carries personal data or ids."""

from __future__ import annotations

import asyncio
import re
import shutil
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import asyncpg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from atomicrm.privacy.v1 import privacy_pb2 as pb
from clients.client import PrivacyClient, PrivacyClientError, subject
from server.app import App
from server.config import Settings
from tests import factories
from tests.helpers.waiting import eventually


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        return str(answer.read().decode())


def value(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


async def settled(port: int, name: str, expected: float, **labels: str) -> str:
    """Scrape until the figure shows the expected value (the backlog refreshes often)."""

    async def shown() -> str | None:
        text = await asyncio.to_thread(scrape, port)
        return text if value(text, name, **labels) == expected else None

    return await eventually(shown, timeout=10, what=f"{name}{labels} becoming {expected}")


@pytest.fixture
def metered(settings: Settings) -> Settings:
    return replace(settings, metrics_addr="127.0.0.1:0", metrics_refresh=timedelta(seconds=0.05))


@pytest.fixture
async def idle_app(metered: Settings) -> AsyncIterator[App]:
    app = App(replace(metered, workers=0))
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


async def test_figures_move_with_real_jobs(
    idle_app: App, metered: Settings, db: asyncpg.Connection
) -> None:
    await factories.tenant(db)
    people = [await factories.contact(db, "acme", f"P{i}", "Doe", messages=2) for i in range(3)]
    port = idle_app.metrics_port
    before = await asyncio.to_thread(scrape, port)
    async with PrivacyClient(f"127.0.0.1:{idle_app.port}", token=idle_app.dev_token) as client:
        jobs = [await client.erase("acme", subject(email=p.email)) for p in people]
        with pytest.raises(PrivacyClientError):
            await client.erase("acme", subject(email="not an email"))
    text = await settled(port, "privacy_jobs_open", 3, kind="erase", state="pending")
    assert value(text, "privacy_workers_active") == 0
    assert value(text, "privacy_oldest_open_job_age_seconds") > 0
    assert (
        value(text, "privacy_grpc_server_handled_total", grpc_method="Erase", grpc_code="OK")
        - value(before, "privacy_grpc_server_handled_total", grpc_method="Erase", grpc_code="OK")
        == 3
    )
    assert (
        value(
            text,
            "privacy_grpc_server_handled_total",
            grpc_method="Erase",
            grpc_code="INVALID_ARGUMENT",
        )
        >= 1
    )

    # Deadlines: one job due in a day, one already late.
    await db.execute(
        "UPDATE privacy_jobs SET deadline = now() + interval '1 day' WHERE id = $1", jobs[0].id
    )
    await db.execute(
        "UPDATE privacy_jobs SET deadline = now() - interval '1 hour' WHERE id = $1", jobs[1].id
    )
    await settled(port, "privacy_jobs_deadline_within_72h", 1)
    await settled(port, "privacy_jobs_past_deadline", 1)

    working = App(metered)  # a second process, with workers, joins
    await working.start()
    try:
        async with PrivacyClient(f"127.0.0.1:{idle_app.port}", token=idle_app.dev_token) as client:
            for job in jobs:
                assert (await client.wait_job(job.id)).state == pb.JOB_STATE_SUCCEEDED
        text = await settled(working.metrics_port, "privacy_jobs_open", 0, state="pending")
        assert value(text, "privacy_workers_active") == metered.workers
        assert value(text, "privacy_worker_last_heartbeat_timestamp_seconds") > 0
    finally:
        await working.stop()
    text = await settled(port, "privacy_jobs_past_deadline", 0)
    for name, labels in [
        ("privacy_jobs_finished_total", {"kind": "erase", "state": "succeeded"}),
        ("privacy_rows_processed_total", {"kind": "erase", "data_type": "messages"}),
        ("privacy_batch_duration_seconds_count", {"kind": "erase", "data_type": "contacts"}),
    ]:
        assert value(text, name, **labels) - value(before, name, **labels) >= 3, name
    assert (
        value(text, "privacy_rows_processed_total", kind="erase", data_type="messages")
        - value(before, "privacy_rows_processed_total", kind="erase", data_type="messages")
        == 6
    )

    # Nothing personal, nothing unbounded, in any label or value name.
    for p in people:
        assert p.email not in text
        assert p.full_name not in text
    assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-", text)  # no job ids


async def test_a_live_scrape_passes_promtool_check_metrics(idle_app: App) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is missing: `make test` installs Debian's prometheus package")
    text = await asyncio.to_thread(scrape, idle_app.metrics_port)
    checker = await asyncio.create_subprocess_exec(
        promtool,
        "check",
        "metrics",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = (b.decode() for b in await checker.communicate(text.encode()))
    assert checker.returncode == 0, out + err
    assert out.strip() == err.strip() == ""
