-- User accounts and what hangs off them: billing contacts, channel credentials,
-- sessions. $1 tenant_id, $2 whole tenant?, $3 user ids.
-- A batch's rows are changed by `id = ANY(ARRAY(SELECT id FROM batch))`, index probe
-- by probe: joined with the batch instead, the planner hashed all the tenant's rows
-- of the table for every batch once there were many (docs/performance.md,
-- "Measurements behind the code").

-- name: users
SELECT name, email, display_name FROM users WHERE tenant_id = $1 AND ($2 OR id = ANY($3));

-- name: billing
SELECT name, email, phone, address FROM billing_contacts
WHERE tenant_id = $1 AND ($2 OR user_id = ANY($3));

-- name: credential_accounts
SELECT account FROM channel_credentials WHERE tenant_id = $1 AND ($2 OR user_id = ANY($3));

-- name: count
SELECT (SELECT count(*) FROM users WHERE tenant_id = $1 AND ($2 OR id = ANY($3)))
     + (SELECT count(*) FROM billing_contacts WHERE tenant_id = $1 AND ($2 OR user_id = ANY($3)))
     + (SELECT count(*) FROM channel_credentials
        WHERE tenant_id = $1 AND ($2 OR user_id = ANY($3)))
     + (SELECT count(*) FROM sessions WHERE tenant_id = $1 AND ($2 OR user_id = ANY($3)));

-- name: destroy_credentials
-- Both rights destroy them: a token is a secret, never anonymized or exported.
-- $4 after, $5 limit.
WITH batch AS (
    SELECT id FROM channel_credentials
    WHERE tenant_id = $1 AND ($2 OR user_id = ANY($3)) AND id > $4
    ORDER BY id LIMIT $5 FOR UPDATE
), gone AS (
    DELETE FROM channel_credentials c
    WHERE c.tenant_id = $1 AND c.id = ANY(ARRAY(SELECT id FROM batch)) RETURNING c.id
)
SELECT count(*), coalesce(max(id), $4) FROM gone;

-- name: erase_billing
WITH batch AS (
    SELECT id FROM billing_contacts
    WHERE tenant_id = $1 AND ($2 OR user_id = ANY($3)) AND id > $4
    ORDER BY id LIMIT $5 FOR UPDATE
), gone AS (
    DELETE FROM billing_contacts b
    WHERE b.tenant_id = $1 AND b.id = ANY(ARRAY(SELECT id FROM batch)) RETURNING b.id
)
SELECT count(*), coalesce(max(id), $4) FROM gone;

-- name: erase_sessions
WITH batch AS (
    SELECT id FROM sessions
    WHERE tenant_id = $1 AND ($2 OR user_id = ANY($3)) AND id > $4
    ORDER BY id LIMIT $5 FOR UPDATE
), gone AS (
    DELETE FROM sessions s WHERE s.tenant_id = $1 AND s.id = ANY(ARRAY(SELECT id FROM batch))
    RETURNING s.id
)
SELECT count(*), coalesce(max(id), $4) FROM gone;

-- name: lock_users
SELECT id, name, email, display_name, profile_picture FROM users
WHERE tenant_id = $1 AND ($2 OR id = ANY($3)) AND id > $4
ORDER BY id LIMIT $5 FOR UPDATE;

-- name: erase_users
-- $2: the batch's user ids. The tenant's records they authored stay, without
-- the link; their usage events (if a data_types filter kept them) lose it too.
WITH c AS (
    UPDATE contacts SET owner_user_id = NULL WHERE tenant_id = $1 AND owner_user_id = ANY($2)
    RETURNING 1
), n AS (
    UPDATE notes SET author_user_id = NULL WHERE tenant_id = $1 AND author_user_id = ANY($2)
    RETURNING 1
), m AS (
    UPDATE messages SET user_id = NULL WHERE tenant_id = $1 AND user_id = ANY($2) RETURNING 1
), f AS (
    UPDATE files SET user_id = NULL WHERE tenant_id = $1 AND user_id = ANY($2) RETURNING 1
), e AS (
    UPDATE usage_events SET user_id = NULL WHERE tenant_id = $1 AND user_id = ANY($2)
    RETURNING 1
), gone AS (
    DELETE FROM users WHERE tenant_id = $1 AND id = ANY($2) RETURNING 1
)
SELECT count(*) FROM gone;

-- name: anonymize_users
UPDATE users u
SET name = a.name, email = a.email, display_name = a.display_name,
    password_hash = NULL, profile_picture = NULL
FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[])
     AS a(id, name, email, display_name)
WHERE u.tenant_id = $1 AND u.id = a.id;

-- name: lock_billing
SELECT id, name, email, phone, address FROM billing_contacts
WHERE tenant_id = $1 AND ($2 OR user_id = ANY($3)) AND id > $4
ORDER BY id LIMIT $5 FOR UPDATE;

-- name: anonymize_billing
UPDATE billing_contacts b
SET name = a.name, email = a.email, phone = a.phone, address = a.address
FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[])
     AS a(id, name, email, phone, address)
WHERE b.tenant_id = $1 AND b.id = a.id;

-- name: lock_sessions
SELECT id, ip, user_agent, device_id FROM sessions
WHERE tenant_id = $1 AND ($2 OR user_id = ANY($3)) AND id > $4
ORDER BY id LIMIT $5 FOR UPDATE;

-- name: anonymize_sessions
-- Revoked (a token must not outlive its person) and made less identifying.
UPDATE sessions s
SET ip = a.ip, user_agent = a.user_agent, device_id = a.device_id,
    revoked_at = coalesce(s.revoked_at, now())
FROM unnest($2::bigint[], $3::inet[], $4::text[], $5::text[]) AS a(id, ip, user_agent, device_id)
WHERE s.tenant_id = $1 AND s.id = a.id;

-- name: export_users
SELECT id, email, name, display_name, is_owner, created_at, closed_at
FROM users WHERE tenant_id = $1 AND ($2 OR id = ANY($3)) ORDER BY id;

-- name: export_billing
SELECT id, user_id, name, email, phone, address, vat_number
FROM billing_contacts WHERE tenant_id = $1 AND ($2 OR user_id = ANY($3)) ORDER BY id;

-- name: export_sessions
SELECT id, user_id, ip, user_agent, device_id, created_at, expires_at, revoked_at
FROM sessions WHERE tenant_id = $1 AND ($2 OR user_id = ANY($3)) ORDER BY id;
