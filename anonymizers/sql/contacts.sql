-- Contacts, with the notes about them and the link from their deals.
-- $1 tenant_id, $2 contact ids.

-- name: count
SELECT (SELECT count(*) FROM contacts WHERE tenant_id = $1 AND id = ANY($2))
     + (SELECT count(*) FROM notes WHERE tenant_id = $1 AND contact_id = ANY($2))
     + (SELECT count(*) FROM deals WHERE tenant_id = $1 AND contact_id = ANY($2));

-- name: lock_batch
-- $3 after (checkpoint), $4 limit.
SELECT id, first_name, last_name, email, phone
FROM contacts
WHERE tenant_id = $1 AND id = ANY($2) AND id > $3
ORDER BY id
LIMIT $4
FOR UPDATE;

-- name: delete_notes
WITH gone AS (
    DELETE FROM notes WHERE tenant_id = $1 AND contact_id = ANY($2) RETURNING 1
)
SELECT count(*) FROM gone;

-- name: linked_deals
SELECT id, description FROM deals
WHERE tenant_id = $1 AND contact_id = ANY($2)
ORDER BY id
FOR UPDATE;

-- name: unlink_deal
-- Deals keep their business fields; they lose the person.
UPDATE deals SET contact_id = NULL, description = $3 WHERE tenant_id = $1 AND id = $2;

-- name: unlink_leftovers
-- Rows of data types the job left out (a data_types filter) keep their data but
-- lose the link, so the contact row can go.
WITH m AS (
    UPDATE messages SET contact_id = NULL WHERE tenant_id = $1 AND contact_id = ANY($2)
    RETURNING 1
), f AS (
    UPDATE files SET contact_id = NULL WHERE tenant_id = $1 AND contact_id = ANY($2)
    RETURNING 1
)
SELECT (SELECT count(*) FROM m) + (SELECT count(*) FROM f);

-- name: delete_contacts
DELETE FROM contacts WHERE tenant_id = $1 AND id = ANY($2);
