-- The privacy service's own tables: jobs, their per-data-type checkpoints,
-- the blob deletion outbox, per-tenant keys and the append-only audit log.

-- Per-tenant secret for keyed subject hashes and deterministic fakes.
-- No mapping from fake to original is ever stored.
CREATE TABLE privacy_tenant_keys (
    tenant_id   text PRIMARY KEY,
    key         bytea NOT NULL CHECK (length(key) >= 32),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE privacy_jobs (
    id                uuid PRIMARY KEY,
    tenant_id         text NOT NULL,
    kind              text NOT NULL CHECK (kind IN ('erase', 'anonymize')),
    state             text NOT NULL
                      CHECK (state IN ('scheduled', 'pending', 'running',
                                       'succeeded', 'failed', 'cancelled')),
    -- 'person': an email that matched both contacts and user accounts.
    subject_kind      text NOT NULL
                      CHECK (subject_kind IN ('contact', 'user', 'person', 'tenant')),
    subject_hash      text NOT NULL,
    -- The subject resolved to row ids when the job was accepted: the job never
    -- stores the email or phone it was asked about.
    contact_ids       bigint[] NOT NULL DEFAULT '{}',
    user_ids          bigint[] NOT NULL DEFAULT '{}',
    whole_tenant      boolean NOT NULL DEFAULT false,
    dry_run           boolean NOT NULL DEFAULT false,
    idempotency_key   text,
    reason            text NOT NULL DEFAULT '',
    requested_by      text NOT NULL,
    priority          integer NOT NULL DEFAULT 100,   -- lower runs first
    created_at        timestamptz NOT NULL DEFAULT now(),
    not_before        timestamptz NOT NULL DEFAULT now(),
    deadline          timestamptz NOT NULL,
    started_at        timestamptz,
    finished_at       timestamptz,
    cancel_requested  boolean NOT NULL DEFAULT false,
    error             text NOT NULL DEFAULT '',
    -- The lease: which worker may run the job's next batch, and until when.
    lease_owner       text,
    lease_expires_at  timestamptz,
    attempts          integer NOT NULL DEFAULT 0,      -- failed batch attempts in a row
    UNIQUE (tenant_id, idempotency_key)
);
CREATE INDEX privacy_jobs_tenant_idx ON privacy_jobs (tenant_id, created_at DESC, id DESC);
-- Only open jobs are indexed for leasing, so the queue query does not grow with history.
CREATE INDEX privacy_jobs_queue_idx ON privacy_jobs (priority, deadline, created_at)
    WHERE state IN ('scheduled', 'pending', 'running');

-- One row per job, data type and step: the plan, the progress, and the cursor
-- (a part of the data type, and the last row id processed in it) that a resumed
-- job starts after. Steps: 'mentions' (the subject's identifiers in every
-- record's free text) runs for every data type before 'apply' (the subject's own
-- rows), so identifiers are still known when they are looked for.
CREATE TABLE privacy_job_tasks (
    job_id      uuid NOT NULL REFERENCES privacy_jobs (id),
    position    integer NOT NULL,
    data_type   text NOT NULL,
    step        text NOT NULL CHECK (step IN ('mentions', 'apply')),
    planned     bigint NOT NULL DEFAULT 0,
    done        bigint NOT NULL DEFAULT 0,
    part        integer NOT NULL DEFAULT 0,
    checkpoint  bigint NOT NULL DEFAULT 0,
    batches     integer NOT NULL DEFAULT 0,
    finished    boolean NOT NULL DEFAULT false,
    PRIMARY KEY (job_id, position),
    UNIQUE (job_id, data_type, step)
);

-- The subject's identifiers (names, emails, phones, handles) while its job runs:
-- the redaction of other records needs them after the subject's own rows are
-- gone. Deleted in the transaction that ends the job, so no personal data stays.
CREATE TABLE privacy_job_identifiers (
    job_id       uuid PRIMARY KEY REFERENCES privacy_jobs (id),
    identifiers  jsonb NOT NULL
);

-- Blobs whose rows a committed batch removed; deleted from the blob store after
-- the commit, so a crash in between leaves a row here, never an orphan blob.
CREATE TABLE privacy_blob_deletions (
    tenant_id  text NOT NULL,
    blob_key   text NOT NULL,
    job_id     uuid,
    queued_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, blob_key)
);
CREATE INDEX privacy_blob_deletions_job_idx ON privacy_blob_deletions (job_id);

-- New contents for blobs whose rows a committed batch anonymized (metadata
-- stripped, identifiers replaced): written to the blob store after the commit,
-- then deleted here, so a crash in between is replayed, never lost.
CREATE TABLE privacy_blob_rewrites (
    tenant_id  text NOT NULL,
    blob_key   text NOT NULL,
    job_id     uuid,
    data       bytea NOT NULL,
    queued_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, blob_key)
);
CREATE INDEX privacy_blob_rewrites_job_idx ON privacy_blob_rewrites (job_id);

-- Append-only, hash-chained per tenant. Entries carry no raw personal data:
-- a subject is the keyed hash the job carries.
CREATE TABLE privacy_audit_log (
    tenant_id     text NOT NULL,
    seq           bigint NOT NULL,
    at            timestamptz NOT NULL,
    actor         text NOT NULL,
    action        text NOT NULL,
    job_id        uuid,
    subject_hash  text NOT NULL DEFAULT '',
    data_type     text NOT NULL DEFAULT '',
    details       jsonb NOT NULL DEFAULT '{}',
    prev_hash     text NOT NULL,
    hash          text NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX privacy_audit_log_job_idx ON privacy_audit_log (job_id);

-- The head of each tenant's chain; its row lock orders concurrent appends.
CREATE TABLE privacy_audit_heads (
    tenant_id  text PRIMARY KEY,
    seq        bigint NOT NULL,
    hash       text NOT NULL
);

CREATE FUNCTION privacy_audit_log_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'privacy_audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER privacy_audit_log_no_update_delete
    BEFORE UPDATE OR DELETE ON privacy_audit_log
    FOR EACH ROW EXECUTE FUNCTION privacy_audit_log_refuse_change();
CREATE TRIGGER privacy_audit_log_no_truncate
    BEFORE TRUNCATE ON privacy_audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION privacy_audit_log_refuse_change();

-- Append one entry to a tenant's chain and return its seq.
-- hash = sha256(prev_hash | seq | at | actor | action | job_id | subject_hash
--               | data_type | details), hex; the first entry's prev_hash is ''.
CREATE FUNCTION privacy_audit_append(
    p_tenant_id text, p_actor text, p_action text, p_job_id uuid,
    p_subject_hash text, p_data_type text, p_details jsonb
) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_seq   bigint;
    v_prev  text;
    v_at    timestamptz := clock_timestamp();
    v_hash  text;
BEGIN
    INSERT INTO privacy_audit_heads AS h (tenant_id, seq, hash)
    VALUES (p_tenant_id, 0, '')
    ON CONFLICT (tenant_id) DO UPDATE SET seq = h.seq
    RETURNING h.seq + 1, h.hash INTO v_seq, v_prev;

    v_hash := encode(sha256(convert_to(concat_ws('|',
        v_prev, v_seq::text, to_char(v_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
        p_actor, p_action, coalesce(p_job_id::text, ''), p_subject_hash, p_data_type,
        p_details::text), 'UTF8')), 'hex');

    INSERT INTO privacy_audit_log (tenant_id, seq, at, actor, action, job_id,
                                   subject_hash, data_type, details, prev_hash, hash)
    VALUES (p_tenant_id, v_seq, v_at, p_actor, p_action, p_job_id,
            p_subject_hash, p_data_type, p_details, v_prev, v_hash);

    UPDATE privacy_audit_heads SET seq = v_seq, hash = v_hash WHERE tenant_id = p_tenant_id;
    RETURN v_seq;
END;
$$;
