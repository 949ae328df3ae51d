-- CancelJob never waits for a batch in flight (docs/design.md, "Cancelling"): a
-- batch holds its job's row locked from its first statement to its commit, so a
-- cancellation asked for meanwhile is written here instead, and the job's worker
-- reads it at the next batch boundary. A child of the coordinator-local job queue,
-- keyed by job as privacy_job_tasks is (docs/scaling.md). No foreign key: its check
-- would lock the job's row in KEY SHARE mode, and must never wait on a lock either.
CREATE TABLE privacy_job_cancel_requests (
    job_id        uuid PRIMARY KEY,
    requested_by  text NOT NULL,
    requested_at  timestamptz NOT NULL DEFAULT now()
);

-- ListJobs across every tenant (privacyctl jobs --all-tenants), newest first: read
-- in the index's order, not sorted from the whole history.
CREATE INDEX privacy_jobs_created_idx ON privacy_jobs (created_at DESC, id DESC);
