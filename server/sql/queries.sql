-- Named queries of the server: jobs, leases, checkpoints, audit, blobs.

-- name: export_file_keys
-- Export: the name and blob key of files whose records went out, read again in
-- the export's snapshot ($2 ids), so that the ids are all it keeps meanwhile.
SELECT id, name, blob_key FROM files WHERE tenant_id = $1 AND id = ANY($2::bigint[]);

-- name: tenant_exists
SELECT EXISTS (SELECT 1 FROM tenants WHERE tenant_id = $1);

-- name: submit_context
-- One round trip at the start of a submission: does the tenant exist, its key
-- (created on first use with $2 wrapped by keyring $4, as subjects.tenant_key does),
-- and the time. The key's columns are NULL when a concurrent first use created it
-- after this statement began.
-- With $3, it also makes the transaction's commit return before its WAL is on
-- disk: database.wait_durable waits for that after the commit, outside the locks
-- held. Not when the submission is part of a caller's transaction ($3 false).
WITH new_key AS (
    INSERT INTO privacy_tenant_keys (tenant_id, key_id, wrapped)
    SELECT $1, $4, $2 WHERE EXISTS (SELECT 1 FROM tenants WHERE tenant_id = $1)
    ON CONFLICT (tenant_id) DO NOTHING
    RETURNING key, key_id, wrapped
), key AS (
    SELECT key, key_id, wrapped FROM new_key
    UNION ALL
    SELECT key, key_id, wrapped FROM privacy_tenant_keys WHERE tenant_id = $1
    LIMIT 1
)
SELECT EXISTS (SELECT 1 FROM tenants WHERE tenant_id = $1) AS tenant_exists,
       (SELECT key FROM key) AS key,
       (SELECT key_id FROM key) AS key_id,
       (SELECT wrapped FROM key) AS wrapped,
       now() AS now,
       (SELECT phone_region FROM privacy_tenant_settings WHERE tenant_id = $1) AS phone_region,
       set_config('synchronous_commit',
                  CASE WHEN $3 THEN 'off' ELSE current_setting('synchronous_commit') END,
                  true) AS synchronous_commit;

-- name: ensure_tenant_key
-- $2 the keyring's id, $3 a new random key wrapped by it.
INSERT INTO privacy_tenant_keys (tenant_id, key_id, wrapped) VALUES ($1, $2, $3)
ON CONFLICT (tenant_id) DO NOTHING;

-- name: tenant_key
SELECT key, key_id, wrapped FROM privacy_tenant_keys WHERE tenant_id = $1;

-- name: keyring_ids
-- Which keyrings wrapped the stored keys (checked at start).
SELECT DISTINCT key_id FROM privacy_tenant_keys WHERE key_id IS NOT NULL;

-- name: plain_tenant_keys
-- Keys stored before they were wrapped (migration 0011); wrapped at start.
SELECT tenant_id, key FROM privacy_tenant_keys WHERE key IS NOT NULL FOR UPDATE;

-- name: wrap_tenant_key
UPDATE privacy_tenant_keys SET key = NULL, key_id = $2, wrapped = $3 WHERE tenant_id = $1;

-- name: destroy_tenant_key
-- Crypto-shredding, last step of a whole tenant's erasure: whatever was keyed with
-- it (audit subject hashes, holds, consistent fakes) can no longer be linked.
DELETE FROM privacy_tenant_keys WHERE tenant_id = $1;

-- name: contacts_by_id
SELECT id FROM contacts WHERE tenant_id = $1 AND id = $2;

-- name: people_by_email
-- An email can be a contact's and a user account's: both in one round trip, by
-- index (migration 0008: under row-level security a plain query could use none).
SELECT contact_ids, user_ids FROM privacy_people_by_email($1, $2);

-- name: contacts_by_phone
-- $2: every digit string the number can be written as (phones.stored_forms), by
-- index (migration 0010); the caller reads each candidate's number.
SELECT id, phone FROM privacy_contacts_by_phone($1, $2);

-- name: files_by_id
SELECT id FROM files WHERE tenant_id = $1 AND id = $2;

-- name: users_by_id
SELECT id FROM users WHERE tenant_id = $1 AND id = $2;

-- name: insert_job
-- The job and all its tasks in one statement: $20 data types, $21 steps, $22
-- planned, positions in the order given (finished already for a dry run); $23 the
-- file ids of a file's erasure; $24 the note, $25 the request's fingerprint. No
-- tasks, and NULL, when a job with the same idempotency key is there.
WITH job AS (
    INSERT INTO privacy_jobs (id, tenant_id, kind, state, subject_kind, subject_hash,
                              contact_ids, user_ids, whole_tenant, dry_run, idempotency_key,
                              reason_code, requested_by, priority, not_before, deadline,
                              finished_at, records_after, records_before, file_ids, note,
                              request_fingerprint)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
            $18, $19, $23, $24, $25)
    ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
    RETURNING id
), tasks AS (
    INSERT INTO privacy_job_tasks (job_id, position, data_type, step, planned, finished)
    SELECT job.id, t.position - 1, t.data_type, t.step, t.planned, $10
    FROM job, unnest($20::text[], $21::text[], $22::bigint[]) WITH ORDINALITY
                  AS t(data_type, step, planned, position)
)
SELECT id FROM job;

-- name: insert_identifiers
-- $3: an Anonymize job's own key for its fakes, wrapped (NULL: the tenant's key).
INSERT INTO privacy_job_identifiers (job_id, identifiers, fake_key)
VALUES ($1, $2::jsonb, $3);

-- name: job_identifiers
SELECT identifiers FROM privacy_job_identifiers WHERE job_id = $1;

-- name: job_identifiers_and_key
SELECT identifiers, fake_key FROM privacy_job_identifiers WHERE job_id = $1;

-- name: set_job_note
UPDATE privacy_jobs SET note = $2 WHERE id = $1;

-- name: forget_old_notes
-- A finished job's note is kept for its retention ($1), then emptied.
UPDATE privacy_jobs SET note = ''
WHERE note <> '' AND finished_at < now() - $1::interval;

-- name: forget_fingerprints
-- With a tenant's key destroyed: a request's fingerprint names its subject too.
UPDATE privacy_jobs SET request_fingerprint = NULL
WHERE tenant_id = $1 AND NOT whole_tenant;

-- name: forget_identifiers
DELETE FROM privacy_job_identifiers WHERE job_id = $1;

-- name: forget_stale_tokens
SELECT privacy_forget_stale_tokens($1);

-- name: insert_reviews
-- Files a batch found holding the subject but could not rewrite, or blobs the store
-- keeps ($3 row ids, $4 data types, $5 reasons); a row listed again keeps its first
-- reason.
INSERT INTO privacy_job_reviews (job_id, tenant_id, file_id, data_type, reason)
SELECT $1, $2, r.file_id, r.data_type, r.reason
FROM unnest($3::bigint[], $4::text[], $5::text[]) AS r(file_id, data_type, reason)
ON CONFLICT (job_id, data_type, file_id) DO NOTHING;

-- name: job_reviews
SELECT job_id, file_id, data_type, reason FROM privacy_job_reviews
WHERE job_id = ANY($1) ORDER BY job_id, file_id;

-- name: job_by_idempotency_key
SELECT id, kind, subject_hash, dry_run, request_fingerprint FROM privacy_jobs
WHERE tenant_id = $1 AND idempotency_key = $2;

-- name: get_job
-- cancelling: a cancellation was asked for, on the row or, while a batch held the
-- row, in privacy_job_cancel_requests.
SELECT j.*, privacy_holds_covering(j.tenant_id, j.whole_tenant, j.contact_ids, j.user_ids)
            AS hold_ids,
       j.cancel_requested OR EXISTS (SELECT 1 FROM privacy_job_cancel_requests c
                                     WHERE c.job_id = j.id) AS cancelling
FROM privacy_jobs j WHERE id = $1;

-- name: holds_and_child
-- The holds covering a new job's subject, and whether one of its contacts'
-- birthdays says under 16 (policy section 10): one round trip.
SELECT privacy_holds_covering($1, $2, $3, $4) AS holds,
       EXISTS (
           SELECT 1 FROM contacts
           WHERE tenant_id = $1 AND id = ANY($3)
             AND birthday > current_date - interval '16 years'
       ) AS child;

-- name: job_tasks
SELECT data_type, step, planned, done, finished
FROM privacy_job_tasks WHERE job_id = $1 ORDER BY position;

-- name: list_jobs
-- $2 state or NULL, $3 kind or NULL, $4 cursor (created_at, id) of the last
-- job of the previous page or NULLs, $6 limit.
SELECT j.*, privacy_holds_covering(j.tenant_id, j.whole_tenant, j.contact_ids, j.user_ids)
            AS hold_ids,
       j.cancel_requested OR EXISTS (SELECT 1 FROM privacy_job_cancel_requests c
                                     WHERE c.job_id = j.id) AS cancelling
FROM privacy_jobs j
WHERE tenant_id = $1
  AND ($2::text IS NULL OR state = $2)
  AND ($3::text IS NULL OR kind = $3)
  AND ($4::timestamptz IS NULL OR (created_at, id) < ($4, $5::uuid))
ORDER BY created_at DESC, id DESC
LIMIT $6;

-- name: list_all_jobs
-- list_jobs over every tenant (privacyctl jobs --all-tenants): privacy_jobs is
-- the coordinator's, one table (docs/scaling.md). $1 state or NULL, $2 kind or
-- NULL, $3/$4 the cursor or NULLs, $5 limit.
SELECT j.*, privacy_holds_covering(j.tenant_id, j.whole_tenant, j.contact_ids, j.user_ids)
            AS hold_ids,
       j.cancel_requested OR EXISTS (SELECT 1 FROM privacy_job_cancel_requests c
                                     WHERE c.job_id = j.id) AS cancelling
FROM privacy_jobs j
WHERE ($1::text IS NULL OR state = $1)
  AND ($2::text IS NULL OR kind = $2)
  AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4::uuid))
ORDER BY created_at DESC, id DESC
LIMIT $5;

-- name: tasks_of_jobs
SELECT job_id, data_type, step, planned, done, finished
FROM privacy_job_tasks WHERE job_id = ANY($1) ORDER BY job_id, position;

-- name: lease_next_job
-- The most urgent open job nobody holds (or whose holder's lease ran out).
-- Order: priority (a deadline closer than $3 lifts a job to at least 50, just
-- behind children's), then tenants with fewer jobs being worked on now (fair
-- across tenants), then fewer time slices had (a fresh job before a long one
-- that gave its worker back), then the closer deadline, then age.
-- SKIP LOCKED: concurrent workers each get a different job, none waits.
-- Answers whether the job was scheduled and never started: its plan is redone.
WITH busy AS (
    SELECT tenant_id, count(*) AS running FROM privacy_jobs
    WHERE state = 'running' AND lease_owner IS NOT NULL AND lease_expires_at > now()
    GROUP BY tenant_id
), next AS (
    SELECT j.id, j.state, j.started_at FROM privacy_jobs j LEFT JOIN busy b USING (tenant_id)
    WHERE j.state IN ('scheduled', 'pending', 'running')
      AND j.not_before <= now()
      AND (j.lease_expires_at IS NULL OR j.lease_expires_at < now())
    ORDER BY CASE WHEN j.deadline < now() + $3::interval THEN least(j.priority, 50)
                  ELSE j.priority END,
             coalesce(b.running, 0), j.slices, j.deadline, j.created_at
    LIMIT 1
    FOR UPDATE OF j SKIP LOCKED
)
UPDATE privacy_jobs j
SET lease_owner = $1,
    lease_expires_at = now() + $2::interval,
    state = CASE WHEN j.cancel_requested THEN j.state ELSE 'running' END,
    started_at = coalesce(j.started_at, now())
FROM next WHERE j.id = next.id
RETURNING j.id, (next.state = 'scheduled' AND next.started_at IS NULL) AS replan;

-- name: lock_leased_job
-- At the start of every batch: still ours? Renews the lease for this batch.
UPDATE privacy_jobs
SET lease_expires_at = now() + $3::interval
WHERE id = $1 AND lease_owner = $2 AND state = 'running'
RETURNING tenant_id, kind, subject_hash, contact_ids, user_ids, whole_tenant,
          cancel_requested OR EXISTS (SELECT 1 FROM privacy_job_cancel_requests c
                                      WHERE c.job_id = $1) AS cancel_requested,
          records_after, records_before, file_ids;

-- name: next_task
SELECT position, data_type, step, part, parts_done, checkpoint, done, batches FROM privacy_job_tasks
WHERE job_id = $1 AND NOT finished
ORDER BY position
LIMIT 1
FOR UPDATE;

-- name: advance_task
UPDATE privacy_job_tasks
SET part = $3, checkpoint = $4, done = done + $5, batches = batches + 1, finished = $6,
    parts_done = $7
WHERE job_id = $1 AND position = $2;

-- name: reset_attempts
UPDATE privacy_jobs SET attempts = 0 WHERE id = $1;

-- name: finish_job
UPDATE privacy_jobs
SET state = $2, finished_at = now(), error = $3, lease_owner = NULL, lease_expires_at = NULL
WHERE id = $1 AND state IN ('scheduled', 'pending', 'running', 'held')
RETURNING id;

-- name: release_lease
-- Let another worker (or this one, later) take the job at once; $3: the job
-- used up a time slice.
UPDATE privacy_jobs
SET lease_owner = NULL, lease_expires_at = NULL, slices = slices + $3::int
WHERE id = $1 AND lease_owner = $2;

-- name: replan_task
UPDATE privacy_job_tasks SET planned = $3 WHERE job_id = $1 AND data_type = $2 AND step = 'apply';

-- name: replace_identifiers
UPDATE privacy_job_identifiers SET identifiers = $2::jsonb WHERE job_id = $1;

-- name: insert_hold
INSERT INTO privacy_legal_holds (id, tenant_id, subject_hash, whole_tenant, contact_ids,
                                 user_ids, reason, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING *;

-- name: hold_open_jobs
-- Jobs the new hold covers stop: at once if not started, else at the next batch
-- boundary (a running batch holds the job's row lock until it commits).
UPDATE privacy_jobs
SET state = 'held', lease_owner = NULL, lease_expires_at = NULL
WHERE tenant_id = $1 AND state IN ('scheduled', 'pending', 'running')
  AND ($2 OR whole_tenant OR contact_ids && $3 OR user_ids && $4)
RETURNING id, subject_hash;

-- name: release_hold
UPDATE privacy_legal_holds SET released_at = now(), released_by = $2
WHERE id = $1 AND released_at IS NULL
RETURNING *;

-- name: get_hold
SELECT * FROM privacy_legal_holds WHERE id = $1;

-- name: list_holds
SELECT * FROM privacy_legal_holds
WHERE tenant_id = $1 AND ($2 OR released_at IS NULL)
ORDER BY created_at, id;

-- name: resume_held_jobs
-- Held jobs no remaining hold covers go back to the queue.
UPDATE privacy_jobs
SET state = CASE WHEN started_at IS NOT NULL THEN 'running'
                 WHEN not_before > now() THEN 'scheduled'
                 ELSE 'pending' END
WHERE tenant_id = $1 AND state = 'held'
  AND cardinality(privacy_holds_covering(tenant_id, whole_tenant, contact_ids, user_ids)) = 0
RETURNING id, subject_hash;

-- name: lock_failed_job
SELECT attempts, tenant_id, kind, subject_hash FROM privacy_jobs
WHERE id = $1 AND lease_owner = $2
FOR UPDATE;

-- name: blob_key_owner
-- What holds a blob key the store refused, to name it in the job's error (the key
-- itself is not quoted: a damaged key may hold anything). Failures only.
SELECT 'file ' || id FROM files WHERE tenant_id = $1 AND blob_key = $2
UNION ALL
SELECT 'the profile picture of user ' || id FROM users
WHERE tenant_id = $1 AND profile_picture = $2
LIMIT 1;

-- name: record_failure
-- Count the failed attempt and hold the job back until its retry delay ($4) passes.
UPDATE privacy_jobs
SET attempts = $2, error = $3, lease_owner = NULL, lease_expires_at = now() + $4::interval
WHERE id = $1;

-- name: lock_job_nowait
-- CancelJob's first step: the job's row, unless a batch holds it (then
-- LockNotAvailableError at once: the request goes to privacy_job_cancel_requests).
SELECT state FROM privacy_jobs WHERE id = $1 FOR NO KEY UPDATE NOWAIT;

-- name: record_cancel_request
-- While a batch holds the job's row: the worker reads this at the next batch
-- boundary (lock_leased_job). The first request stays.
INSERT INTO privacy_job_cancel_requests (job_id, requested_by) VALUES ($1, $2)
ON CONFLICT (job_id) DO NOTHING;

-- name: request_cancel
-- A held job that ran batches goes back to the workers, which finish it as
-- cancelled with the blob work of its committed batches done.
UPDATE privacy_jobs j
SET cancel_requested = true,
    state = CASE WHEN j.state = 'held' AND j.started_at IS NOT NULL THEN 'running'
                 ELSE j.state END
FROM privacy_jobs old
WHERE j.id = $1 AND old.tenant_id = j.tenant_id AND old.id = j.id AND j.state IN ('scheduled', 'pending', 'running', 'held')
RETURNING old.state, j.started_at IS NULL AS not_started, j.tenant_id, j.subject_hash;

-- name: queue_blob_deletion
-- $2 keys, $5 the ids of the rows (of data type $4) that held them, in the same order.
INSERT INTO privacy_blob_deletions (tenant_id, blob_key, job_id, data_type, row_id)
SELECT $1, d.blob_key, $3, $4, d.row_id
FROM unnest($2::text[], $5::bigint[]) AS d(blob_key, row_id)
ON CONFLICT DO NOTHING;

-- name: pending_blob_deletions
SELECT tenant_id, blob_key FROM privacy_blob_deletions
WHERE ($1::uuid IS NULL OR job_id = $1)
ORDER BY queued_at
LIMIT $2;

-- name: forget_blob_deletion
-- $2: the keys done, all at once (one statement, not one per blob).
DELETE FROM privacy_blob_deletions WHERE tenant_id = $1 AND blob_key = ANY($2::text[]);

-- name: forget_blob_deletion_behind
-- forget_blob_deletion for blob work that runs behind the batches: rows that a
-- job's end is draining meanwhile (and deletes itself) are skipped, not waited
-- for, so the two deletes never wait for each other in a cycle.
DELETE FROM privacy_blob_deletions
WHERE tenant_id = $1 AND ctid = ANY(ARRAY(
    SELECT ctid FROM privacy_blob_deletions
    WHERE tenant_id = $1 AND blob_key = ANY($2::text[])
    FOR UPDATE SKIP LOCKED));

-- name: queue_blob_rewrite
-- $2 keys, $4 contents and $6 the ids of the rows (of data type $5) that hold them,
-- in the same order: a batch's rewrites in one statement.
INSERT INTO privacy_blob_rewrites (tenant_id, blob_key, job_id, data, data_type, row_id)
SELECT $1, r.blob_key, $3, r.data, $5, r.row_id
FROM unnest($2::text[], $4::bytea[], $6::bigint[]) AS r(blob_key, data, row_id)
ON CONFLICT (tenant_id, blob_key) DO UPDATE
SET data = excluded.data, job_id = excluded.job_id,
    data_type = excluded.data_type, row_id = excluded.row_id;

-- name: pending_blob_rewrites
SELECT tenant_id, blob_key, data FROM privacy_blob_rewrites
WHERE job_id = $1 ORDER BY queued_at LIMIT $2;

-- name: forget_blob_rewrite
DELETE FROM privacy_blob_rewrites WHERE tenant_id = $1 AND blob_key = ANY($2::text[]);

-- name: kept_blob_deletions
-- Which rows held the blobs ($2 keys) the store keeps: for the job's review list.
SELECT blob_key, data_type, row_id FROM privacy_blob_deletions
WHERE tenant_id = $1 AND blob_key = ANY($2::text[]);

-- name: job_kind_and_subject
SELECT kind, subject_hash FROM privacy_jobs WHERE id = $1;

-- name: kept_blob_rewrites
SELECT blob_key, data_type, row_id FROM privacy_blob_rewrites
WHERE tenant_id = $1 AND blob_key = ANY($2::text[]);

-- name: audit_append
SELECT privacy_audit_append($1, $2, $3, $4, $5, $6, $7::jsonb);

-- name: audit_append_and_notify
-- The last statement of a transaction that changed job $8: the append takes the
-- tenant's chain head lock, so nothing else runs between it and the commit.
SELECT privacy_audit_append($1, $2, $3, $4, $5, $6, $7::jsonb), pg_notify('privacy_jobs', $8::text);

-- name: audit_append_at_commit
-- Chained when the transaction commits (migration 0020): the tenant's chain head is
-- locked only inside the COMMIT.
INSERT INTO privacy_audit_pending (tenant_id, actor, action, job_id, subject_hash, data_type,
                                   details)
VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb);

-- name: audit_append_at_commit_and_notify
-- The same, and job $8's watchers told (at the commit too, as every NOTIFY is).
WITH pending AS (
    INSERT INTO privacy_audit_pending (tenant_id, actor, action, job_id, subject_hash,
                                       data_type, details)
    VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)
    RETURNING 1
)
SELECT pg_notify('privacy_jobs', $8::text) FROM pending;

-- name: notify_job
SELECT pg_notify('privacy_jobs', $1::text);

-- name: backlog
-- Open jobs only: the partial index privacy_jobs_queue_idx has this predicate, so
-- the cost follows the backlog, not the history.
SELECT kind, state, count(*) AS jobs,
       extract(epoch FROM now() - min(created_at))::float8 AS oldest_age,
       count(*) FILTER (WHERE deadline < now()) AS past_deadline,
       count(*) FILTER (WHERE deadline >= now()
                          AND deadline < now() + interval '72 hours') AS at_risk
FROM privacy_jobs
WHERE state IN ('scheduled', 'pending', 'running', 'held')
GROUP BY kind, state;

-- name: audit_chain
-- A tenant's entries in order, with each field as the chain hashes it.
SELECT seq, prev_hash, hash,
       concat_ws('|', prev_hash, seq::text,
                 to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
                 actor, action, coalesce(job_id::text, ''), subject_hash, data_type,
                 details::text) AS hashed
FROM privacy_audit_log WHERE tenant_id = $1 ORDER BY seq;

-- name: audit_head
SELECT seq, hash FROM privacy_audit_heads WHERE tenant_id = $1;

-- name: audit_heads
-- Every tenant's chain head ($1 NULL), or one tenant's: what a checkpoint signs.
SELECT tenant_id, seq, hash FROM privacy_audit_heads
WHERE ($1::text IS NULL OR tenant_id = $1) AND seq > 0
ORDER BY tenant_id;

-- name: retention_policy
SELECT activity_months, closed_account_days FROM privacy_retention_policies
WHERE tenant_id = $1;

-- name: set_retention_policy
INSERT INTO privacy_retention_policies AS p (tenant_id, activity_months, closed_account_days)
VALUES ($1, $2, $3)
ON CONFLICT (tenant_id) DO UPDATE
SET activity_months = excluded.activity_months,
    closed_account_days = excluded.closed_account_days,
    updated_at = now();

-- name: retention_tenants
-- Every tenant with its own rules (NULLs when it has none: configured is false)
-- and how far its activity rule has reached.
SELECT t.tenant_id, p.tenant_id IS NOT NULL AS configured,
       p.activity_months, p.closed_account_days, r.covered_until
FROM tenants t
LEFT JOIN privacy_retention_policies p ON p.tenant_id = t.tenant_id
LEFT JOIN privacy_retention_runs r ON r.tenant_id = t.tenant_id AND r.rule = 'activity'
ORDER BY t.tenant_id;

-- name: activity_cutoff
-- Whole days, so every run of one day asks for the same period.
SELECT date_trunc('day', now() - make_interval(months => $1));

-- name: activity_in_period
SELECT EXISTS (
    SELECT 1 FROM usage_events
    WHERE tenant_id = $1
      AND occurred_at >= coalesce($2::timestamptz, '-infinity') AND occurred_at < $3
);

-- name: retention_covered
INSERT INTO privacy_retention_runs (tenant_id, rule, covered_until) VALUES ($1, $2, $3)
ON CONFLICT (tenant_id, rule) DO UPDATE SET covered_until = excluded.covered_until;

-- name: closed_accounts_due
-- Accounts closed at least $2 days ago that no erasure covers yet (one the
-- account-deletion workflow scheduled counts, unless it failed or was cancelled).
SELECT u.id, u.closed_at FROM users u
WHERE u.tenant_id = $1
  AND u.closed_at <= now() - make_interval(days => $2)
  AND NOT EXISTS (
      SELECT 1 FROM privacy_jobs j
      WHERE j.tenant_id = u.tenant_id AND j.kind = 'erase' AND NOT j.dry_run
        AND (j.whole_tenant OR u.id = ANY(j.user_ids))
        AND j.state NOT IN ('failed', 'cancelled')
  )
ORDER BY u.id;

-- name: wait_durable
-- A transaction of its own that takes an id, so that its commit flushes the WAL
-- (with the session's synchronous_commit), up to every earlier commit too.
SELECT txid_current();

-- name: enter_tenant
-- Role and tenant for this transaction only (migration 0004): one round trip.
SELECT privacy_enter_tenant($1);

-- name: job_tenant
SELECT tenant_id FROM privacy_jobs WHERE id = $1;

-- name: tenant_known
-- A tenant the service knows: the CRM has it, or it has jobs or an audit log here
-- (a tenant the CRM dropped keeps its history).
SELECT EXISTS (SELECT 1 FROM tenants WHERE tenant_id = $1)
    OR EXISTS (SELECT 1 FROM privacy_jobs WHERE tenant_id = $1)
    OR EXISTS (SELECT 1 FROM privacy_audit_log WHERE tenant_id = $1);

-- name: authenticate
SELECT name, scopes, tenants FROM privacy_credentials
WHERE token_hash = $1 AND revoked_at IS NULL;

-- name: insert_credential
INSERT INTO privacy_credentials (name, token_hash, scopes, tenants)
VALUES ($1, $2, $3, $4)
ON CONFLICT (name) DO NOTHING
RETURNING name;

-- name: insert_first_credential
-- Only into an empty table: the development credential of a new database.
INSERT INTO privacy_credentials (name, token_hash, scopes, tenants)
SELECT $1, $2, $3, $4
WHERE NOT EXISTS (SELECT 1 FROM privacy_credentials)
ON CONFLICT DO NOTHING
RETURNING name;

-- name: revoke_credential
UPDATE privacy_credentials SET revoked_at = now()
WHERE name = $1 AND revoked_at IS NULL
RETURNING name;

-- name: list_credentials
SELECT name, scopes, tenants, created_at, revoked_at FROM privacy_credentials
ORDER BY name;

-- name: set_phone_region
INSERT INTO privacy_tenant_settings (tenant_id, phone_region) VALUES ($1, $2)
ON CONFLICT (tenant_id) DO UPDATE SET phone_region = excluded.phone_region, updated_at = now();

-- name: suppressions_found
-- Which of $2 (keyed hashes) the tenant suppresses: one index probe each.
SELECT identifier_hash FROM privacy_suppressions
WHERE tenant_id = $1 AND identifier_hash = ANY($2::bytea[]);

-- name: suppress
-- $2 hashes, $3 their kinds; an entry that exists keeps its first reason and job.
WITH added AS (
    INSERT INTO privacy_suppressions (tenant_id, identifier_hash, kind, reason_code, job_id, actor)
    SELECT $1, h, k, $4, $5, $6 FROM unnest($2::bytea[], $3::text[]) AS u (h, k)
    ON CONFLICT (tenant_id, identifier_hash) DO NOTHING
    RETURNING 1
)
SELECT count(*)::int FROM added;

-- name: unsuppress
WITH removed AS (
    DELETE FROM privacy_suppressions WHERE tenant_id = $1 AND identifier_hash = ANY($2::bytea[])
    RETURNING 1
)
SELECT count(*)::int FROM removed;

-- name: suppressions_page
-- Newest first, after the cursor ($2 created_at, $3 hash) when there is one.
SELECT identifier_hash, kind, created_at, reason_code, job_id, actor
FROM privacy_suppressions
WHERE tenant_id = $1
  AND ($2::timestamptz IS NULL OR (created_at, identifier_hash) < ($2, $3::bytea))
ORDER BY created_at DESC, identifier_hash DESC
LIMIT $4;

-- name: lift_job_suppressions
WITH lifted AS (
    DELETE FROM privacy_suppressions WHERE tenant_id = $1 AND job_id = $2 RETURNING 1
)
SELECT count(*)::int FROM lifted;

-- name: drop_suppressions
DELETE FROM privacy_suppressions WHERE tenant_id = $1;

-- name: suppression_context
-- One round trip at the start of a suppression RPC: does the tenant exist, its key
-- and its phone region. With $2 (a new key wrapped by keyring $3) the key is made
-- on first use, as submit_context does; without it nothing is written (a tenant
-- with no key has no entries). The key's columns are NULL when there is none, or
-- when a concurrent first use created it after this statement began.
WITH new_key AS (
    INSERT INTO privacy_tenant_keys (tenant_id, key_id, wrapped)
    SELECT $1, $3, $2
    WHERE $2::bytea IS NOT NULL AND EXISTS (SELECT 1 FROM tenants WHERE tenant_id = $1)
    ON CONFLICT (tenant_id) DO NOTHING
    RETURNING key, key_id, wrapped
), key AS (
    SELECT key, key_id, wrapped FROM new_key
    UNION ALL
    SELECT key, key_id, wrapped FROM privacy_tenant_keys WHERE tenant_id = $1
    LIMIT 1
)
SELECT EXISTS (SELECT 1 FROM tenants WHERE tenant_id = $1) AS tenant_exists,
       (SELECT key FROM key) AS key,
       (SELECT key_id FROM key) AS key_id,
       (SELECT wrapped FROM key) AS wrapped,
       (SELECT phone_region FROM privacy_tenant_settings WHERE tenant_id = $1) AS phone_region;

-- name: take_rate_token
-- A call's token from the bucket of ($1 tenant, $2 caller, $3 operation), in the
-- database so that every serving process draws on the same bucket: $4 burst, $5
-- tokens a second, $6 now (NULL: the database's clock, the one clock all processes
-- share). The row lock queues the callers of one bucket only. Not granted: the
-- bucket holds `tokens` (< 1), a token comes in (1 - tokens) / $5 seconds.
INSERT INTO privacy_rate_buckets AS b (tenant_id, caller, operation, tokens, at, granted)
SELECT $1, $2, $3, $4::float8 - 1, n.at, true
FROM (SELECT coalesce($6::timestamptz, clock_timestamp()) AS at) AS n
ON CONFLICT (tenant_id, caller, operation) DO UPDATE
SET tokens = privacy_rate_refill(b.tokens, b.at, excluded.at, $4, $5)
             - CASE WHEN privacy_rate_refill(b.tokens, b.at, excluded.at, $4, $5) >= 1
                    THEN 1 ELSE 0 END,
    granted = privacy_rate_refill(b.tokens, b.at, excluded.at, $4, $5) >= 1,
    at = greatest(b.at, excluded.at)
RETURNING granted, tokens;

-- name: forget_full_rate_buckets
-- Buckets that have refilled ($1 burst, $2 tokens a second, $3 now or NULL): the
-- same as no row, so the table holds only the callers of the last few minutes.
DELETE FROM privacy_rate_buckets
WHERE privacy_rate_refill(tokens, at, coalesce($3::timestamptz, clock_timestamp()), $1, $2) >= $1;

-- name: tenants_with_queued_texts
-- Tenants whose rows wait for the mention index (migration 0017): one probe of the
-- queue's primary key per tenant. DISTINCT over the queue read all of it every
-- second, and a bulk load leaves it long (or, rolled back, full of dead rows until
-- vacuumed). A tenant erased is in neither table: nothing of it is indexed again.
SELECT t.tenant_id FROM tenants t
WHERE EXISTS (SELECT 1 FROM privacy_texts_to_index q WHERE q.tenant_id = t.tenant_id);

-- name: index_texts
-- Up to $2 of tenant $1's queued rows indexed ($3 the tenant's key: the tokens are
-- keyed hashes); how many left the queue.
SELECT privacy_index_texts($1, NULL, $2, $3);
