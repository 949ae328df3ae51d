"""The suppression list across real serving processes: an erasure accepted by one is
answered by the other at once; the sweep of a running server erases the people an
integration brings back, and nobody else; no identifier reaches logs or metrics."""

from __future__ import annotations

import asyncio
import urllib.request
from pathlib import Path

import asyncpg

from atomicrm.privacy.v1 import privacy_pb2 as pb
from clients.client import PrivacyClient, email, phone, subject
from tests import factories
from tests.helpers import processes
from tests.helpers.waiting import eventually

JANE_PHONE = "+1 207 946 0958"
NEVER_SEEN = "never.seen@example.org"
# What must appear in no log line and no metric, in any spelling the test used.
SECRETS = ("jane.doe", "JANE.DOE", "never.seen", "9460958", "946 0958", "946-0958")


async def _insert_contact(db: asyncpg.Connection, first: str, email_: str) -> int:
    """A contact as an integration that ignores CheckSuppression writes one."""
    contact_id: int = await db.fetchval(
        "INSERT INTO contacts (tenant_id, first_name, last_name, email) "
        "VALUES ('acme', $1, 'Doe', $2) RETURNING id",
        first,
        email_,
    )
    return contact_id


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text: str = answer.read().decode()
        return text


async def test_two_processes_agree_at_once_and_the_sweep_erases_late_arrivals(
    db: asyncpg.Connection, db_url: str, blob_dir: Path, tmp_path: Path
) -> None:
    await factories.tenant(db)
    jane = await factories.contact(db, "acme", "Jane", "Doe", phone=JANE_PHONE, messages=2)
    port_a, port_b, metrics_port = (processes.free_port() for _ in range(3))
    env_a = processes.env(
        db_url,
        blob_dir,
        PRIVACY_GRPC_ADDR=f"127.0.0.1:{port_a}",
        PRIVACY_WORKERS="1",
        PRIVACY_SUPPRESSION_SWEEP_SECONDS="1",
        PRIVACY_METRICS_ADDR=f"127.0.0.1:{metrics_port}",
    )
    env_b = processes.env(
        db_url,
        blob_dir,
        PRIVACY_GRPC_ADDR=f"127.0.0.1:{port_b}",
        PRIVACY_WORKERS="0",
        PRIVACY_SUPPRESSION_SWEEP_SECONDS="off",
    )
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    a = await processes.start(["serve"], env_a, logs[0])
    b = None
    try:
        await processes.wait_serving(port_a)  # the first serve writes the dev token
        b = await processes.start(["serve"], env_b, logs[1])
        await processes.wait_serving(port_b)
        token = processes.dev_token(env_a)
        async with (
            PrivacyClient(f"127.0.0.1:{port_a}", token=token) as first,
            PrivacyClient(f"127.0.0.1:{port_b}", token=token) as second,
        ):
            job = await first.erase("acme", subject(email=jane.email))
            # Accepted by one process: the other answers true at once, however the
            # identifier is written; a look-alike stays false.
            asked = [email("JANE.DOE@Example.com"), phone("(207) 946-0958")]
            asked.append(email("john.doe@example.com"))
            check = await second.check_suppression("acme", asked)
            assert list(check.suppressed) == [True, True, False]
            done = await first.wait_job(job.id)
            assert done.state == pb.JOB_STATE_SUCCEEDED, done.error_message

            # Someone who was never in the CRM asks not to be stored.
            reason = pb.REASON_CODE_DATA_SUBJECT_REQUEST
            assert await second.suppress("acme", [email(NEVER_SEEN)], reason_code=reason) == 1

            # An integration brings Jane back, writes the other person in, and a
            # bystander with a look-alike address.
            back = await _insert_contact(db, "Jane", " Jane.Doe@EXAMPLE.com")
            new = await _insert_contact(db, "Never", NEVER_SEEN.upper())
            bystander = await _insert_contact(db, "John", "john.doe@example.com")

            async def swept() -> bool:
                left = await db.fetchval(
                    "SELECT count(*) FROM contacts WHERE id = ANY($1)", [back, new]
                )
                return bool(left == 0)

            await eventually(swept, timeout=60, what="the sweep erasing both late arrivals")
            swept_jobs = await db.fetch(
                "SELECT j.id, j.state, j.contact_ids FROM privacy_jobs j "
                "WHERE j.requested_by = 'suppression' ORDER BY j.created_at"
            )
            assert sorted(c for r in swept_jobs for c in r["contact_ids"]) == sorted([back, new])
            actors = await db.fetch(
                "SELECT DISTINCT actor FROM privacy_audit_log "
                "WHERE action = 'erase.requested' AND job_id = ANY($1)",
                [r["id"] for r in swept_jobs],
            )
            assert [r["actor"] for r in actors] == ["suppression"]
            assert await db.fetchval("SELECT count(*) FROM contacts WHERE id = $1", bystander) == 1

            # The person consents again: lifted in one process, false in the other.
            correction = pb.REASON_CODE_OPERATOR_CORRECTION
            removed = await first.unsuppress("acme", [email(NEVER_SEEN)], reason_code=correction)
            assert removed == 1
            assert list(
                (await second.check_suppression("acme", [email(NEVER_SEEN)])).suppressed
            ) == [False]
            audited = await db.fetchval(
                "SELECT count(*) FROM privacy_audit_log WHERE action = 'suppression.removed'"
            )
            assert audited == 1

            metrics = await asyncio.to_thread(_scrape, metrics_port)
    finally:
        for process in (a, b):
            if process is not None and process.returncode is None:
                process.terminate()
                await process.wait()
    assert 'privacy_late_arrivals_erased_total{tenant="acme"} 2.0' in metrics
    written = "".join([await asyncio.to_thread(log.read_text) for log in logs])
    for secret in SECRETS:
        assert secret.casefold() not in written.casefold(), secret
        assert secret.casefold() not in metrics.casefold(), secret
