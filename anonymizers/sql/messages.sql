-- Messages on every channel. $1 tenant_id, $2 contact ids.

-- name: count
SELECT count(*) FROM messages WHERE tenant_id = $1 AND contact_id = ANY($2);

-- name: erase_batch
-- $3 after (checkpoint), $4 limit. Attachments of these messages were erased by
-- the files stage; any left (a data_types filter) are unlinked first.
WITH batch AS (
    SELECT id FROM messages
    WHERE tenant_id = $1 AND contact_id = ANY($2) AND id > $3
    ORDER BY id
    LIMIT $4
    FOR UPDATE
), unlinked AS (
    UPDATE files f SET message_id = NULL
    FROM batch WHERE f.tenant_id = $1 AND f.message_id = batch.id
    RETURNING 1
), gone AS (
    DELETE FROM messages m USING batch
    WHERE m.tenant_id = $1 AND m.id = batch.id
    RETURNING m.id
)
SELECT count(*) AS processed, coalesce(max(id), $3) AS checkpoint,
       (SELECT count(*) FROM unlinked) AS unlinked
FROM gone;
