-- The suppression list: identifiers (emails, phone numbers) erased here, or never to
-- be stored, that the services feeding the CRM must not bring back. Only a keyed hash
-- of the normalized identifier is kept (HMAC with the tenant's key,
-- server/suppressions.py): a leaked table is no list of erased emails, and a whole
-- tenant's erasure, which destroys the key, drops the tenant's entries with it.
CREATE TABLE privacy_suppressions (
    tenant_id        text NOT NULL,
    identifier_hash  bytea NOT NULL CHECK (length(identifier_hash) = 32),
    kind             text NOT NULL CHECK (kind IN ('email', 'phone')),
    created_at       timestamptz NOT NULL DEFAULT now(),
    reason_code      text NOT NULL,
    job_id           uuid,           -- the Erase job that suppressed it; NULL: Suppress
    actor            text NOT NULL,  -- the caller (credential name), as in the audit log
    PRIMARY KEY (tenant_id, identifier_hash)
);
-- ListSuppressions pages newest first.
CREATE INDEX privacy_suppressions_listing_idx
    ON privacy_suppressions (tenant_id, created_at DESC, identifier_hash DESC);

-- The sweep's progress per tenant: rows created or changed after it are looked at
-- again (server/suppression_sweep.py).
CREATE TABLE privacy_suppression_sweeps (
    tenant_id   text PRIMARY KEY,
    swept_at    timestamptz NOT NULL
);

