-- File rows; the bytes are in the blob store under blob_key.
-- $1 tenant_id, $2 whole tenant?, $3 contact ids, $4 user ids, $5 file ids (a file's
-- own erasure).
-- A batch's rows are changed by `id = ANY(ARRAY(SELECT id FROM batch))`, index probe
-- by probe: joined with the batch instead, the planner hashed all the tenant's rows
-- of the table for every batch once there were many (docs/performance.md,
-- "Measurements behind the code").
-- A subject's files: attached to one of its contacts or to one of their messages,
-- or a user's own uploads (attached to no contact and no message). Found by
-- privacy_subject_files() (migration 0007), index by index: written as one OR
-- here, that condition could use no index, and every single subject's job read
-- all the tenant's files (docs/performance.md).

-- name: count
-- The function in FROM, where PostgreSQL inlines it (a set-returning function in the
-- SELECT list is planned again at every call): part of every submission.
SELECT count(*) FROM files f
WHERE f.tenant_id = $1
  AND ($2 OR f.id = ANY(ARRAY(SELECT id FROM privacy_subject_files($1, $3, $4) AS id))
       OR f.id = ANY($5));

-- name: lock_batch
-- $6 after (checkpoint), $7 limit.
SELECT f.id, f.name, f.content_type, f.blob_key FROM files f
WHERE f.tenant_id = $1 AND f.id > $6
  AND ($2 OR f.id = ANY(ARRAY(SELECT privacy_subject_files($1, $3, $4))) OR f.id = ANY($5))
ORDER BY f.id
LIMIT $7
FOR UPDATE;

-- name: erase_batch
-- lock_batch's rows, deleted in the same statement; their blob keys come back.
WITH batch AS (
    SELECT f.id FROM files f
    WHERE f.tenant_id = $1 AND f.id > $6
      AND ($2 OR f.id = ANY(ARRAY(SELECT privacy_subject_files($1, $3, $4))) OR f.id = ANY($5))
    ORDER BY f.id
    LIMIT $7
    FOR UPDATE
)
DELETE FROM files f WHERE f.tenant_id = $1 AND f.id = ANY(ARRAY(SELECT id FROM batch))
RETURNING f.id, f.blob_key;

-- name: update_anonymized
-- A file whose blob is gone keeps its size and digest (NULL here): no contents were
-- written for it.
UPDATE files f SET name = u.name,
    size_bytes = coalesce(u.size, f.size_bytes), sha256 = coalesce(u.sha256, f.sha256)
FROM unnest($2::bigint[], $3::text[], $4::bigint[], $5::text[]) AS u(id, name, size, sha256)
WHERE f.tenant_id = $1 AND f.id = u.id;

-- name: update_contents
-- Files rewritten with the subject's identifiers replaced: their new size and digest.
UPDATE files f SET size_bytes = u.size, sha256 = u.sha256
FROM unnest($2::bigint[], $3::bigint[], $4::text[]) AS u(id, size, sha256)
WHERE f.tenant_id = $1 AND f.id = u.id;

-- name: index_queued
-- Whether the tenant has files to index (privacy_files_to_index, migration 0010).
SELECT EXISTS (SELECT 1 FROM privacy_files_to_index WHERE tenant_id = $1);

-- name: index_lock
-- One indexer at a time per tenant, until its transaction ends: two jobs would read
-- the same files twice.
SELECT pg_advisory_xact_lock(hashtextextended('privacy_file_tokens:' || $1, 0));

-- name: to_index
-- The next files to index ($2 limit); a file gone since it was queued has no name.
SELECT q.file_id AS id, f.name, f.content_type, f.blob_key, f.sha256
FROM privacy_files_to_index q
LEFT JOIN files f ON f.tenant_id = q.tenant_id AND f.id = q.file_id
WHERE q.tenant_id = $1
ORDER BY q.file_id
LIMIT $2;

-- name: indexed
-- Files whose tokens are in ($2 ids): off the queue.
DELETE FROM privacy_files_to_index WHERE tenant_id = $1 AND file_id = ANY($2);

-- name: save_tokens
-- $2 file ids, $3 the contents' digests, $4 lexemes (space-separated); the files
-- leave the queue (their rows' own updates queued them).
WITH saved AS (
    INSERT INTO privacy_file_tokens (tenant_id, file_id, sha256, tokens)
    SELECT $1, u.file_id, u.sha256, array_to_tsvector(string_to_array(u.lexemes, ' '))
    FROM unnest($2::bigint[], $3::text[], $4::text[]) AS u(file_id, sha256, lexemes)
    ON CONFLICT (tenant_id, file_id)
    DO UPDATE SET sha256 = excluded.sha256, tokens = excluded.tokens
    RETURNING file_id
)
DELETE FROM privacy_files_to_index
WHERE tenant_id = $1 AND file_id = ANY(ARRAY(SELECT file_id FROM saved));

-- name: mentioning
-- Other people's files (not the subject's: $2 contact ids, $3 user ids) after $4
-- whose contents' tokens match one of $5 (tsqueries, filetokens.py); $6 limit.
SELECT f.id, f.name, f.content_type, f.blob_key FROM files f
WHERE f.tenant_id = $1 AND f.id > $4
  AND f.id = ANY(ARRAY(SELECT t.file_id FROM privacy_file_tokens t
                       WHERE t.tenant_id = $1 AND t.file_id > $4
                         AND t.tokens @@ ANY($5::tsquery[])))
  AND NOT f.id = ANY(ARRAY(SELECT privacy_subject_files($1, $2, $3)))
ORDER BY f.id
LIMIT $6
FOR UPDATE;

-- name: others
-- mentioning, for a subject some identifier of whom leaves no token to look up
-- ($5 NULL): every other person's file.
SELECT f.id, f.name, f.content_type, f.blob_key FROM files f
WHERE f.tenant_id = $1 AND f.id > $4 AND $5::tsquery[] IS NULL
  AND NOT f.id = ANY(ARRAY(SELECT privacy_subject_files($1, $2, $3)))
ORDER BY f.id
LIMIT $6
FOR UPDATE;

-- name: export
SELECT f.id, f.contact_id, f.message_id, f.name, f.content_type, f.size_bytes, f.sha256,
       f.blob_key, f.created_at
FROM files f
WHERE f.tenant_id = $1
  AND ($2 OR f.id = ANY(ARRAY(SELECT privacy_subject_files($1, $3, $4))) OR f.id = ANY($5))
ORDER BY f.id;
