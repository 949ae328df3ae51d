-- Messages on every channel. $1 tenant_id, $2 whole tenant?, $3 contact ids.
-- A batch's rows are changed by `id = ANY(ARRAY(SELECT id FROM batch))`, index probe
-- by probe: joined with the batch instead, the planner hashed all the tenant's rows
-- of the table for every batch once there were many (docs/performance.md,
-- "Measurements behind the code").

-- name: addresses
-- The subject's own channel addresses, as their messages hold them: the sender of
-- what they sent, the only recipient of what they were sent (a message to several
-- people names the others too). For a whole tenant (every email and number is
-- taken anyway): Telegram handles and live-chat visitor ids only.
SELECT DISTINCT channel,
       CASE WHEN direction = 'inbound' THEN sender ELSE recipients[1] END AS address
FROM messages
WHERE tenant_id = $1 AND ($2 OR contact_id = ANY($3))
  AND (direction = 'inbound' OR cardinality(recipients) = 1)
  AND (NOT $2 OR channel IN ('telegram', 'livechat'));

-- name: count
SELECT count(*) FROM messages WHERE tenant_id = $1 AND ($2 OR contact_id = ANY($3));

-- name: erase_batch
-- $4 after (checkpoint), $5 limit. Attachments of these messages were erased by
-- the files stage; any left (a data_types filter) are unlinked first.
WITH batch AS (
    SELECT id FROM messages
    WHERE tenant_id = $1 AND ($2 OR contact_id = ANY($3)) AND id > $4
    ORDER BY id
    LIMIT $5
    FOR UPDATE
), unlinked AS (
    UPDATE files f SET message_id = NULL
    WHERE f.tenant_id = $1 AND f.message_id = ANY(ARRAY(SELECT id FROM batch))
    RETURNING 1
), gone AS (
    DELETE FROM messages m
    WHERE m.tenant_id = $1 AND m.id = ANY(ARRAY(SELECT id FROM batch))
    RETURNING m.id
)
SELECT count(*) AS processed, coalesce(max(id), $4) AS checkpoint,
       (SELECT count(*) FROM unlinked) AS unlinked
FROM gone;

-- name: export
SELECT id, channel, contact_id, direction, thread_id, sender, recipients, cc, bcc,
       subject, body, sent_at
FROM messages WHERE tenant_id = $1 AND ($2 OR contact_id = ANY($3)) ORDER BY id;
