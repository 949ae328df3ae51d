-- A blob the store keeps (a bucket under Object Lock or a retention period) cannot
-- be erased, and the job must not say it was: the file goes on the job's review
-- list by the row that held it. That row is gone (or rewritten) by the time the
-- store refuses, so the outbox keeps which row each blob belonged to. NULL for
-- rows queued before this migration: such a blob still fails its job, as before.
ALTER TABLE privacy_blob_deletions ADD COLUMN data_type text, ADD COLUMN row_id bigint;
ALTER TABLE privacy_blob_rewrites ADD COLUMN data_type text, ADD COLUMN row_id bigint;

-- A review names its row by data type and id: a file and a user's profile picture
-- may share an id within one job.
ALTER TABLE privacy_job_reviews DROP CONSTRAINT privacy_job_reviews_pkey;
ALTER TABLE privacy_job_reviews ADD PRIMARY KEY (job_id, data_type, file_id);
