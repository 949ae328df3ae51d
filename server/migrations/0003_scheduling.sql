-- Scheduling, legal holds and retention.

-- 'held': accepted, but a legal hold covers the subject; runs once every hold
-- covering it is released.
ALTER TABLE privacy_jobs DROP CONSTRAINT privacy_jobs_state_check;
ALTER TABLE privacy_jobs ADD CONSTRAINT privacy_jobs_state_check
    CHECK (state IN ('scheduled', 'pending', 'running', 'held',
                     'succeeded', 'failed', 'cancelled'));

-- How many time slices the job has had: a worker gives a job back after each
-- slice, and the queue prefers jobs that have had fewer, so a single subject's
-- erasure is never stuck behind a tenant-wide one.
ALTER TABLE privacy_jobs ADD COLUMN slices integer NOT NULL DEFAULT 0;
-- Retention jobs cover only records that happened in [records_after, records_before)
-- (NULL: unbounded), for data types whose anonymizer honours a period.
ALTER TABLE privacy_jobs ADD COLUMN records_after timestamptz;
ALTER TABLE privacy_jobs ADD COLUMN records_before timestamptz;

DROP INDEX privacy_jobs_queue_idx;
CREATE INDEX privacy_jobs_queue_idx ON privacy_jobs (priority, deadline, created_at)
    WHERE state IN ('scheduled', 'pending', 'running', 'held');

-- A legal hold keeps a subject's (or a whole tenant's) data from being erased
-- or anonymized until it is released. The subject is kept as the row ids it
-- resolved to, like a job's, never as the email or phone it was asked about.
CREATE TABLE privacy_legal_holds (
    id            uuid PRIMARY KEY,
    tenant_id     text NOT NULL,
    subject_hash  text NOT NULL,
    whole_tenant  boolean NOT NULL DEFAULT false,
    contact_ids   bigint[] NOT NULL DEFAULT '{}',
    user_ids      bigint[] NOT NULL DEFAULT '{}',
    reason        text NOT NULL,
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    released_by   text,
    released_at   timestamptz
);
CREATE INDEX privacy_legal_holds_active_idx ON privacy_legal_holds (tenant_id)
    WHERE released_at IS NULL;

-- Per-tenant retention rules; a tenant without a row gets the service defaults.
-- NULL in a column: that rule is off for the tenant.
CREATE TABLE privacy_retention_policies (
    tenant_id              text PRIMARY KEY,
    -- Usage events older than this many months are anonymized.
    activity_months        integer CHECK (activity_months > 0),
    -- User accounts closed this many days ago are erased (the policy's 30-day
    -- limit runs from the closing: this is the grace in which it can be undone).
    closed_account_days    integer CHECK (closed_account_days >= 0 AND closed_account_days < 30),
    updated_at             timestamptz NOT NULL DEFAULT now()
);

-- How far each tenant's periodic retention rules have reached: the next run
-- covers what aged out since, so no record is anonymized twice.
CREATE TABLE privacy_retention_runs (
    tenant_id      text NOT NULL,
    rule           text NOT NULL,
    covered_until  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, rule)
);

-- The active holds covering a job's subject: one definition for accepting,
-- holding, showing and resuming jobs.
CREATE FUNCTION privacy_holds_covering(
    p_tenant_id text, p_whole_tenant boolean, p_contact_ids bigint[], p_user_ids bigint[]
) RETURNS uuid[]
LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(id ORDER BY created_at, id), '{}')
    FROM privacy_legal_holds
    WHERE tenant_id = p_tenant_id
      AND released_at IS NULL
      AND (whole_tenant OR p_whole_tenant
           OR contact_ids && p_contact_ids OR user_ids && p_user_ids);
$$;
