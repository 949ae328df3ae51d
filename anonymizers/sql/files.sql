-- File rows and their blobs. $1 tenant_id, $2 contact ids.
-- A contact's files: attached to the contact, or to one of the contact's messages.

-- name: count
SELECT count(*) FROM files f
WHERE f.tenant_id = $1
  AND (f.contact_id = ANY($2)
       OR f.message_id IN (SELECT id FROM messages
                           WHERE tenant_id = $1 AND contact_id = ANY($2)));

-- name: erase_batch
-- $3 after (checkpoint), $4 limit. Returns the blob keys to delete after commit.
WITH batch AS (
    SELECT f.id FROM files f
    WHERE f.tenant_id = $1 AND f.id > $3
      AND (f.contact_id = ANY($2)
           OR f.message_id IN (SELECT id FROM messages
                               WHERE tenant_id = $1 AND contact_id = ANY($2)))
    ORDER BY f.id
    LIMIT $4
    FOR UPDATE
)
DELETE FROM files f USING batch
WHERE f.tenant_id = $1 AND f.id = batch.id
RETURNING f.id, f.blob_key;
