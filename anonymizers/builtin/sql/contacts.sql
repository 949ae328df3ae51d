-- Contacts, the notes about them, and their deals.
-- Throughout: $1 tenant_id, $2 whole tenant?, $3 the subject's contact ids.
-- A batch's rows are changed by `id = ANY(ARRAY(SELECT id FROM batch))`, index probe
-- by probe: joined with the batch instead, the planner hashed all the tenant's rows
-- of the table for every batch once there were many (docs/performance.md,
-- "Measurements behind the code").

-- name: identifiers
SELECT first_name, last_name, email, phone, address, custom_fields FROM contacts
WHERE tenant_id = $1 AND ($2 OR id = ANY($3));

-- name: count
SELECT (SELECT count(*) FROM contacts WHERE tenant_id = $1 AND ($2 OR id = ANY($3)))
     + (SELECT count(*) FROM notes WHERE tenant_id = $1 AND ($2 OR contact_id = ANY($3)))
     + (SELECT count(*) FROM deals WHERE tenant_id = $1 AND ($2 OR contact_id = ANY($3)));

-- name: lock_contacts
-- $4 after (checkpoint), $5 limit.
SELECT id FROM contacts
WHERE tenant_id = $1 AND ($2 OR id = ANY($3)) AND id > $4
ORDER BY id
LIMIT $5
FOR UPDATE;

-- name: erase_contacts
-- $2: the batch's contact ids. Notes about them go; deals stay, without the link
-- (their free text was redacted by the mentions step); rows of data types a
-- data_types filter left out lose the link, so the contact row can go.
WITH notes_gone AS (
    DELETE FROM notes WHERE tenant_id = $1 AND contact_id = ANY($2) RETURNING 1
), deals_unlinked AS (
    UPDATE deals SET contact_id = NULL WHERE tenant_id = $1 AND contact_id = ANY($2)
    RETURNING 1
), messages_unlinked AS (
    UPDATE messages SET contact_id = NULL WHERE tenant_id = $1 AND contact_id = ANY($2)
    RETURNING 1
), files_unlinked AS (
    UPDATE files SET contact_id = NULL WHERE tenant_id = $1 AND contact_id = ANY($2)
    RETURNING 1
), contacts_gone AS (
    DELETE FROM contacts WHERE tenant_id = $1 AND id = ANY($2) RETURNING 1
)
SELECT (SELECT count(*) FROM notes_gone) + (SELECT count(*) FROM deals_unlinked)
     + (SELECT count(*) FROM contacts_gone);

-- name: erase_tenant_deals
-- A whole tenant: the deals go too. $2 after, $3 limit.
WITH batch AS (
    SELECT id FROM deals WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3 FOR UPDATE
), notes_gone AS (
    DELETE FROM notes n WHERE n.tenant_id = $1 AND n.deal_id = ANY(ARRAY(SELECT id FROM batch))
    RETURNING 1
), gone AS (
    DELETE FROM deals d WHERE d.tenant_id = $1 AND d.id = ANY(ARRAY(SELECT id FROM batch))
    RETURNING d.id
)
SELECT count(*) + (SELECT count(*) FROM notes_gone), coalesce(max(id), $2) FROM gone;

-- name: erase_tenant_notes
WITH batch AS (
    SELECT id FROM notes WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3 FOR UPDATE
), gone AS (
    DELETE FROM notes n WHERE n.tenant_id = $1 AND n.id = ANY(ARRAY(SELECT id FROM batch))
    RETURNING n.id
)
SELECT count(*), coalesce(max(id), $2) FROM gone;

-- name: contacts_to_anonymize
-- $4 after, $5 limit.
SELECT id, first_name, last_name, email, phone, address FROM contacts
WHERE tenant_id = $1 AND ($2 OR id = ANY($3)) AND id > $4
ORDER BY id
LIMIT $5
FOR UPDATE;

-- name: anonymize_contacts
-- One statement for the whole batch: the fakes arrive as arrays.
UPDATE contacts c
SET first_name = f.first_name, last_name = f.last_name, email = f.email,
    phone = f.phone, address = f.address, birthday = NULL, custom_fields = '{}'
FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
     AS f(id, first_name, last_name, email, phone, address)
WHERE c.tenant_id = $1 AND c.id = f.id;

-- name: export_contacts
SELECT id, first_name, last_name, email, phone, address, company, birthday,
       custom_fields, created_at
FROM contacts WHERE tenant_id = $1 AND ($2 OR id = ANY($3)) ORDER BY id;

-- name: export_notes
SELECT id, contact_id, deal_id, body, created_at
FROM notes WHERE tenant_id = $1 AND ($2 OR contact_id = ANY($3)) ORDER BY id;

-- name: export_deals
SELECT id, contact_id, title, description, amount, currency, stage, created_at
FROM deals WHERE tenant_id = $1 AND ($2 OR contact_id = ANY($3)) ORDER BY id;
