import asyncpg
from atomicrm.privacy.v1 import privacy_pb2 as pb

from clients.client import PrivacyClient, subject


async def test_smoke(client: PrivacyClient, db: asyncpg.Connection) -> None:
    await db.execute("INSERT INTO tenants (tenant_id, name) VALUES ('t1', 'T')")
    cid = await db.fetchval(
        "INSERT INTO contacts (tenant_id, first_name, last_name, email, phone) "
        "VALUES ('t1', 'Jane', 'Doe', 'Jane@Example.com', '+1 (555) 010-2030') RETURNING id"
    )
    await db.execute(
        "INSERT INTO messages (tenant_id, channel, contact_id, direction, sender, body) "
        "SELECT 't1', 'sms', $1, 'inbound', '+15550102030', 'hi ' || g FROM generate_series(1,7) g",
        cid,
    )
    job = await client.erase("t1", subject(email="jane@example.com"))
    done = await client.wait_job(job.id)
    print(done)
    assert done.state == pb.JOB_STATE_SUCCEEDED
    assert await db.fetchval("SELECT count(*) FROM contacts") == 0
    rows = await db.fetch(
        "SELECT seq, action, data_type, details FROM privacy_audit_log ORDER BY seq"
    )
    for r in rows:
        print(dict(r))
