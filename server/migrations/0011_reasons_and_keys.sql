-- Why a job was asked for, without free text kept forever; requests bound to their
-- idempotency keys; tenant keys kept only wrapped by a key outside the database.

-- A code from a closed list, and a short note redacted of the subject's identifiers
-- before it is stored (never copied into the audit log; dropped once the job's
-- retention ends). 'unspecified': the caller gave no code.
ALTER TABLE privacy_jobs
    ADD COLUMN reason_code text NOT NULL DEFAULT 'unspecified'
        CHECK (reason_code IN ('unspecified', 'data_subject_request', 'account_closed',
                               'retention', 'legal_obligation', 'operator_correction',
                               'other')),
    ADD COLUMN note text NOT NULL DEFAULT '',
    -- A keyed hash of everything the request asked (server/jobs.py fingerprint):
    -- the same idempotency key with another request is refused, not answered with
    -- the first request's job. NULL for jobs accepted before it was kept.
    ADD COLUMN request_fingerprint text;

-- The free text kept until now may name the subject: it is dropped, not moved.
UPDATE privacy_jobs SET reason_code = 'other' WHERE reason <> '';
ALTER TABLE privacy_jobs DROP COLUMN reason;

-- Tenant keys are stored wrapped (AES-GCM) by the keyring's key (server/keyring.py),
-- which lives outside the database: a dump alone holds no usable key. `key` (the
-- plain key of earlier versions) is wrapped and emptied by the service at start.
ALTER TABLE privacy_tenant_keys
    ALTER COLUMN key DROP NOT NULL,
    ADD COLUMN key_id text,
    ADD COLUMN wrapped bytea,
    ADD CONSTRAINT privacy_tenant_keys_one_form
        CHECK ((key IS NULL) <> (wrapped IS NULL) AND (wrapped IS NULL) = (key_id IS NULL));

-- An Anonymize job's own random key for its fakes (wrapped as above), deleted with
-- the job's identifiers when the job ends: the fakes cannot be reproduced after.
-- NULL when the caller asked for fakes consistent across jobs (the tenant's key).
ALTER TABLE privacy_job_identifiers ADD COLUMN fake_key bytea;
