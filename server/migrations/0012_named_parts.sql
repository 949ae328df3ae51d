-- A step's parts are stored by name, with the parts it finished: a deploy that
-- reorders or adds parts (anonymizers/base.py Anonymizer.parts) no longer sends a
-- resumed job into the wrong table, and one that renames a part fails the job with
-- the unknown name (anonymizers/steps.py) instead of skipping rows.
ALTER TABLE privacy_job_tasks
    ADD COLUMN parts_done text[] NOT NULL DEFAULT '{}',
    ALTER COLUMN part DROP DEFAULT,
    ALTER COLUMN part DROP NOT NULL,  -- NULL: the step has not started
    ALTER COLUMN part TYPE text USING part::text;

-- Jobs in flight: the built-in data types' part numbers become their names. Another
-- data type's number stays as text, and its job fails naming it rather than guess.
WITH names (data_type, operation, whole_tenant, parts) AS (
    VALUES
        ('accounts', 'mentions', NULL::boolean, ARRAY['nothing']),
        ('accounts', 'erase', NULL, ARRAY['credentials', 'billing_contacts', 'sessions', 'users']),
        ('accounts', 'anonymize', NULL,
         ARRAY['credentials', 'billing_contacts', 'sessions', 'users']),
        ('activity', 'mentions', NULL, ARRAY['usage_events']),
        ('activity', 'erase', NULL, ARRAY['usage_events']),
        ('activity', 'anonymize', NULL, ARRAY['usage_events']),
        ('messages', 'mentions', NULL, ARRAY['messages']),
        ('messages', 'erase', NULL, ARRAY['messages']),
        ('messages', 'anonymize', NULL, ARRAY['messages']),
        ('files', 'mentions', NULL, ARRAY['token_index', 'contents', 'names']),
        ('files', 'erase', NULL, ARRAY['files']),
        ('files', 'anonymize', NULL, ARRAY['files']),
        ('contacts', 'mentions', NULL,
         ARRAY['others_notes', 'others_deals', 'own_deals', 'others_contacts']),
        ('contacts', 'erase', true, ARRAY['notes', 'deals', 'contacts']),
        ('contacts', 'erase', false, ARRAY['contacts']),
        ('contacts', 'anonymize', NULL, ARRAY['contacts', 'notes', 'deals'])
)
UPDATE privacy_job_tasks t
SET part = n.parts[t.part::integer + 1],
    parts_done = n.parts[1:t.part::integer]
FROM privacy_jobs j, names n
WHERE j.id = t.job_id
  AND n.data_type = t.data_type
  AND n.operation = CASE WHEN t.step = 'mentions' THEN 'mentions' ELSE j.kind END
  AND (n.whole_tenant IS NULL OR n.whole_tenant = j.whole_tenant)
  AND t.part::integer < cardinality(n.parts);
