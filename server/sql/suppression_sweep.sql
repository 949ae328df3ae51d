-- The suppression sweep's queries (server/suppression_sweep.py). The sweep hashes
-- identifiers in Python with the tenant's key: no key and no hash is computed here.

-- name: sweep_tenants
-- The tenants with suppression entries (a tenant without any has nothing to sweep).
SELECT DISTINCT s.tenant_id FROM privacy_suppressions s
JOIN tenants t ON t.tenant_id = s.tenant_id
ORDER BY s.tenant_id;

-- name: sweep_entries
-- The tenant's entries in force: those an erasure made once it ran (an open job's
-- subject is still there, erased by that job; a cancelled job erased nothing and may
-- have been undone), and those Suppress made (no job).
SELECT s.identifier_hash, s.reason_code
FROM privacy_suppressions s
LEFT JOIN privacy_jobs j ON j.tenant_id = s.tenant_id AND j.id = s.job_id
WHERE s.tenant_id = $1
  AND (j.id IS NULL OR j.state NOT IN ('scheduled', 'pending', 'running', 'held', 'cancelled'));

-- name: sweep_covered
-- What open erasures of the tenant cover already: their contacts and users, and
-- whether one of them takes the whole tenant.
SELECT coalesce(bool_or(whole_tenant), false) AS whole_tenant,
       coalesce(array_agg(DISTINCT c) FILTER (WHERE c IS NOT NULL), '{}') AS contact_ids,
       coalesce(array_agg(DISTINCT u) FILTER (WHERE u IS NOT NULL), '{}') AS user_ids
FROM privacy_jobs j
LEFT JOIN LATERAL unnest(j.contact_ids) AS c ON true
LEFT JOIN LATERAL unnest(j.user_ids) AS u ON true
WHERE j.tenant_id = $1 AND j.kind = 'erase' AND NOT j.dry_run
  AND j.state IN ('scheduled', 'pending', 'running', 'held');

-- name: sweep_contacts
-- Every contact with an email or a phone number. No column tells when a row was
-- changed (only created_at, which an import may set): the whole table is read.
SELECT id, email, phone, created_at FROM contacts
WHERE tenant_id = $1 AND (email IS NOT NULL OR phone IS NOT NULL)
ORDER BY id;

-- name: sweep_users
-- Every user account with its own email (a billing contact's address may be a third
-- party's: never a reason to erase the account, server/suppression_sweep.py).
SELECT id, created_at, email FROM users
WHERE tenant_id = $1 AND email IS NOT NULL
ORDER BY id;

-- name: sweep_keys_used
-- Which of $2 (the sweep's idempotency keys) made a job already.
SELECT idempotency_key FROM privacy_jobs
WHERE tenant_id = $1 AND idempotency_key = ANY($2::text[]);

-- name: sweep_done
INSERT INTO privacy_suppression_sweeps (tenant_id, swept_at) VALUES ($1, $2)
ON CONFLICT (tenant_id) DO UPDATE SET swept_at = excluded.swept_at;

-- name: sweep_now
SELECT now();
