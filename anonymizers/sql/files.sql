-- File rows; the bytes are in the blob store under blob_key.
-- $1 tenant_id, $2 whole tenant?, $3 contact ids, $4 user ids.
-- A batch's rows are changed by `id = ANY(ARRAY(SELECT id FROM batch))`, index probe
-- by probe: joined with the batch instead, the planner hashed all the tenant's rows
-- of the table for every batch once there were many (150,000 notes: 92 ms a batch).
-- A subject's files: attached to one of its contacts or to one of their messages,
-- or a user's own uploads (attached to no contact and no message). Found by
-- privacy_subject_files() (migration 0007), index by index: written as one OR
-- here, that condition could use no index, and every single subject's job read
-- all the tenant's files (100 ms a query at 146,000 files).

-- name: count
SELECT count(*) FROM files f
WHERE f.tenant_id = $1
  AND ($2 OR f.id = ANY(ARRAY(SELECT privacy_subject_files($1, $3, $4))));

-- name: lock_batch
-- $5 after (checkpoint), $6 limit.
SELECT f.id, f.name, f.content_type, f.blob_key FROM files f
WHERE f.tenant_id = $1 AND f.id > $5
  AND ($2 OR f.id = ANY(ARRAY(SELECT privacy_subject_files($1, $3, $4))))
ORDER BY f.id
LIMIT $6
FOR UPDATE;

-- name: erase_batch
-- lock_batch's rows, deleted in the same statement; their blob keys come back.
WITH batch AS (
    SELECT f.id FROM files f
    WHERE f.tenant_id = $1 AND f.id > $5
      AND ($2 OR f.id = ANY(ARRAY(SELECT privacy_subject_files($1, $3, $4))))
    ORDER BY f.id
    LIMIT $6
    FOR UPDATE
)
DELETE FROM files f WHERE f.tenant_id = $1 AND f.id = ANY(ARRAY(SELECT id FROM batch))
RETURNING f.id, f.blob_key;

-- name: update_anonymized
UPDATE files f SET name = u.name, size_bytes = u.size, sha256 = u.sha256
FROM unnest($2::bigint[], $3::text[], $4::bigint[], $5::text[]) AS u(id, name, size, sha256)
WHERE f.tenant_id = $1 AND f.id = u.id;

-- name: export
SELECT f.id, f.contact_id, f.message_id, f.name, f.content_type, f.size_bytes, f.sha256,
       f.blob_key, f.created_at
FROM files f
WHERE f.tenant_id = $1
  AND ($2 OR f.id = ANY(ARRAY(SELECT privacy_subject_files($1, $3, $4))))
ORDER BY f.id;
