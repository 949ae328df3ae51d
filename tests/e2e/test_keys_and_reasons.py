"""Keys apart from the data, destroyed with the tenant; fakes that cannot be redone;
reasons as codes, notes redacted and dropped; idempotency keys bound to requests.

Over a real server and PostgreSQL: what a dump of the database alone gives away,
and what stays linkable after a whole tenant's erasure.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from anonymizers.registry import default_registry
from anonymizers.text.fakes import Fakes
from atomicrm.privacy.v1 import privacy_pb2 as pb
from atomicrm.privacy.v1 import privacy_pb2_grpc
from clients.client import PrivacyClient, open_channel, subject
from server import retention, tenant_keys
from server.app import App
from server.config import ConfigError, Settings
from server.keyring import Keyring
from server.subjects import Subject, SubjectKind, subject_hash
from tests import factories
from tests.helpers.worlds import pg_dump


async def _stored_key(db: asyncpg.Connection, settings: Settings, tenant: str) -> bytes:
    row = await db.fetchrow(
        "SELECT key, key_id, wrapped FROM privacy_tenant_keys WHERE tenant_id = $1", tenant
    )
    assert row is not None
    assert row is not None
    return tenant_keys.unwrap(Keyring.load(settings.keyring_file), tenant, row)


def _hash(key: bytes, email: str) -> str:
    """The subject hash a guessed email would have."""
    return subject_hash(key, Subject(SubjectKind.EMAIL, email))


async def test_a_dump_of_the_database_holds_no_usable_tenant_key(
    client: PrivacyClient, db: asyncpg.Connection, db_url: str, settings: Settings
) -> None:
    await factories.tenant(db, "acme")
    jane = await factories.contact(db, "acme", "Jane", "Doe", messages=1)
    job = await client.wait_job((await client.erase("acme", subject(email=jane.email))).id)
    assert job.state == pb.JOB_STATE_SUCCEEDED
    key = await _stored_key(db, settings, "acme")
    # The key does what it is for: the audit log's subject hash is the guess's ...
    hashes = {
        r["subject_hash"] for r in await db.fetch("SELECT subject_hash FROM privacy_audit_log")
    }
    assert _hash(key, jane.email) in hashes
    # ... but only with the keyring, which is not in the database.
    dump = pg_dump(db_url)
    assert key.hex() not in dump
    assert await db.fetchval("SELECT count(*) FROM privacy_tenant_keys WHERE key IS NOT NULL") == 0
    keyring = settings.keyring_file.read_text()
    assert keyring.split()[1] not in dump
    assert settings.keyring_file.stat().st_mode & 0o777 == 0o600


async def test_keys_stored_plain_by_an_earlier_version_are_wrapped_at_start(
    db: asyncpg.Connection, settings: Settings
) -> None:
    await factories.tenant(db, "acme")
    old = b"k" * 32
    await db.execute("INSERT INTO privacy_tenant_keys (tenant_id, key) VALUES ('acme', $1)", old)
    async with App(settings):
        pass
    row = await db.fetchrow("SELECT key, wrapped FROM privacy_tenant_keys")
    assert row is not None
    assert row["key"] is None
    assert row["wrapped"] is not None
    assert await _stored_key(db, settings, "acme") == old  # the same key: hashes still match


async def test_a_process_with_another_keyring_refuses_to_start(
    db: asyncpg.Connection, settings: Settings, tmp_path: Path
) -> None:
    await factories.tenant(db, "acme")
    async with App(settings) as app:
        async with PrivacyClient(f"127.0.0.1:{app.port}", token=app.dev_token) as client:
            await client.erase("acme", subject(whole_tenant="acme"), dry_run=True)  # makes a key
    for other in (
        dataclasses.replace(settings, keyring=tmp_path / "another-keyring"),  # made anew
        dataclasses.replace(settings, data_dir=tmp_path / "elsewhere"),
    ):
        app = App(other)
        with pytest.raises(ConfigError, match="PRIVACY_KEYRING"):
            await app.start()
        await app.stop()
    missing = dataclasses.replace(settings, keyring=tmp_path / "none" / "keyring")
    app = App(missing)
    Keyring.load(settings.keyring_file)  # still there, untouched
    with pytest.raises(ConfigError, match="PRIVACY_KEYRING"):
        await app.start()
    await app.stop()


async def test_a_whole_tenant_erase_destroys_its_key_and_a_guess_no_longer_matches(
    client: PrivacyClient, db: asyncpg.Connection, settings: Settings, keyring: Keyring
) -> None:
    await factories.tenant(db, "acme")
    await factories.tenant(db, "globex")
    jane = await factories.contact(db, "acme", "Jane", "Doe", messages=2)
    await factories.contact(db, "globex", "Jane", "Doe", messages=2)
    for tenant in ("acme", "globex"):
        job = await client.erase(tenant, subject(email=jane.email), idempotency_key="jane")
        assert (await client.wait_job(job.id)).state == pb.JOB_STATE_SUCCEEDED
    old_key = await _stored_key(db, settings, "acme")
    guess = _hash(old_key, jane.email)
    audit_hashes = "SELECT subject_hash FROM privacy_audit_log WHERE tenant_id = $1"
    assert guess in {r[0] for r in await db.fetch(audit_hashes, "acme")}

    whole = await client.erase("acme", subject(whole_tenant="acme"), idempotency_key="all")
    done = await client.wait_job(whole.id)
    assert done.state == pb.JOB_STATE_SUCCEEDED
    assert (
        await db.fetchval("SELECT count(*) FROM privacy_tenant_keys WHERE tenant_id = 'acme'") == 0
    )
    last = await db.fetchrow(
        "SELECT details FROM privacy_audit_log WHERE tenant_id = 'acme' ORDER BY seq DESC LIMIT 1"
    )
    assert last is not None
    assert '"tenant_key_destroyed": true' in last["details"]
    # A key made afterwards is another key: the guess matches no entry of the log.
    new_key = await tenant_keys.tenant_key(db, "acme", keyring)
    assert new_key != old_key
    assert _hash(new_key, jane.email) not in {r[0] for r in await db.fetch(audit_hashes, "acme")}
    # Nor does a job's request fingerprint keep her; the whole tenant's retry still works.
    assert (
        await db.fetchval(
            "SELECT count(*) FROM privacy_jobs WHERE tenant_id = 'acme' AND NOT whole_tenant "
            "AND request_fingerprint IS NOT NULL"
        )
        == 0
    )
    again = await client.erase("acme", subject(whole_tenant="acme"), idempotency_key="all")
    assert again.id == whole.id
    # The other tenant's key and entries are as they were.
    assert (
        await db.fetchval("SELECT count(*) FROM privacy_tenant_keys WHERE tenant_id = 'globex'")
        == 1
    )


async def test_a_periods_erasure_or_some_data_types_keep_the_key(
    client: PrivacyClient, db: asyncpg.Connection
) -> None:
    await factories.tenant(db, "acme")
    await factories.contact(db, "acme", "Jane", "Doe", messages=2)
    job = await client.erase("acme", subject(whole_tenant="acme"), data_types=["messages"])
    assert (await client.wait_job(job.id)).state == pb.JOB_STATE_SUCCEEDED
    assert await db.fetchval("SELECT count(*) FROM privacy_tenant_keys") == 1


@pytest.mark.parametrize("consistent", [False, True])
async def test_anonymize_fakes_come_from_the_jobs_own_key_unless_asked(
    client: PrivacyClient, db: asyncpg.Connection, settings: Settings, consistent: bool
) -> None:
    await factories.tenant(db, "acme")
    jane = await factories.contact(db, "acme", "Jane", "Doe")
    bob = await factories.contact(db, "acme", "Bob", "Roe")
    await db.execute(
        "INSERT INTO notes (tenant_id, contact_id, body) VALUES ('acme', $1, $2)",
        bob.id,
        f"write to {jane.email}",
    )
    job = await client.anonymize(
        "acme", subject(contact_id=jane.id), consistent_across_jobs=consistent
    )
    assert (await client.wait_job(job.id)).state == pb.JOB_STATE_SUCCEEDED
    fake = await db.fetchval("SELECT email FROM contacts WHERE id = $1", jane.id)
    note = await db.fetchval("SELECT body FROM notes WHERE contact_id = $1", bob.id)
    assert note == f"write to {fake}"  # one fake per identifier within the job
    tenant_fake = Fakes(await _stored_key(db, settings, "acme")).email(jane.email)
    # Pseudonymization on request: the tenant's key (and a guess) gives the fake again.
    # By default nothing can: the job's key went with it.
    assert (fake == tenant_fake) is consistent
    assert await db.fetchval("SELECT count(*) FROM privacy_job_identifiers") == 0
    accepted = await db.fetchval(
        "SELECT details->>'consistent_across_jobs' FROM privacy_audit_log "
        "WHERE action = 'anonymize.requested'"
    )
    assert accepted == str(consistent).lower()


async def test_a_note_is_stored_redacted_never_audited_and_dropped_with_its_retention(
    client: PrivacyClient, db: asyncpg.Connection, keyring: Keyring
) -> None:
    await factories.tenant(db, "acme")
    jane = await factories.contact(db, "acme", "Jane", "Doe", phone="+1 207 946 0958")
    note = (
        f"Ticket 4711: {jane.full_name} ({jane.email}, +1 (207) 946-0958) asked; "
        "cc dpo@acme.example"
    )
    job = await client.erase(
        "acme",
        subject(email=jane.email),
        reason_code=pb.REASON_CODE_DATA_SUBJECT_REQUEST,
        note=note,
    )
    assert (await client.wait_job(job.id)).state == pb.JOB_STATE_SUCCEEDED
    stored = await db.fetchrow("SELECT reason_code, note FROM privacy_jobs WHERE id = $1", job.id)
    assert stored is not None
    assert stored["reason_code"] == "data_subject_request"
    assert stored["note"].startswith("Ticket 4711: ")
    for identifier in ("Jane", "Doe", jane.email, "946", "dpo@acme.example"):
        assert identifier not in stored["note"]
    audit = "\n".join(r[0] for r in await db.fetch("SELECT details::text FROM privacy_audit_log"))
    assert "Ticket 4711" not in audit
    assert '"reason_code": "data_subject_request"' in audit

    # Kept while the job is recent; emptied once it ended longer ago than the retention.
    registry = default_registry()
    await retention.run(db, registry, deadline=timedelta(days=30), keyring=keyring)
    assert await db.fetchval("SELECT note FROM privacy_jobs WHERE id = $1", job.id) != ""
    await db.execute(
        "UPDATE privacy_jobs SET finished_at = now() - interval '91 days' WHERE id = $1", job.id
    )
    await retention.run(db, registry, deadline=timedelta(days=30), keyring=keyring)
    assert await db.fetchval("SELECT note FROM privacy_jobs WHERE id = $1", job.id) == ""


async def test_the_deprecated_reason_is_accepted_as_a_note_for_one_version(
    app: App, db: asyncpg.Connection
) -> None:
    await factories.tenant(db, "acme")
    jane = await factories.contact(db, "acme", "Jane", "Doe")
    async with open_channel(f"127.0.0.1:{app.port}", token=app.dev_token) as channel:
        stub = privacy_pb2_grpc.PrivacyServiceStub(channel)
        request = pb.EraseRequest(
            tenant_id="acme", subject=subject(email=jane.email), reason=f"from {jane.email}"
        )
        job = await stub.Erase(request)
    stored = await db.fetchrow(
        "SELECT reason_code, note FROM privacy_jobs WHERE id = $1::uuid", job.id
    )
    assert stored is not None
    assert stored["reason_code"] == "other"
    assert stored["note"] == "from [redacted]"
