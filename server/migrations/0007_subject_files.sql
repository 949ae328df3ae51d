-- A subject's files, each way a file can be theirs looked up by its own index:
-- attached to one of the contacts, attached to one of those contacts' messages, or
-- a user's own upload (attached to no contact and no message). Ids may repeat.
-- Callers (anonymizers/sql/files.sql) ask `f.id = ANY(ARRAY(SELECT …))`, which the
-- primary key answers; the same condition written as one OR could use no index.
-- Runs as the caller: row-level security applies as to any of its queries.
CREATE FUNCTION privacy_subject_files(p_tenant_id text, p_contact_ids bigint[],
                                      p_user_ids bigint[])
RETURNS SETOF bigint LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT id FROM files WHERE tenant_id = p_tenant_id AND contact_id = ANY(p_contact_ids)
    UNION ALL
    SELECT f.id FROM messages m
    JOIN files f ON f.tenant_id = m.tenant_id AND f.message_id = m.id
    WHERE m.tenant_id = p_tenant_id AND m.contact_id = ANY(p_contact_ids)
    UNION ALL
    SELECT id FROM files
    WHERE tenant_id = p_tenant_id AND user_id = ANY(p_user_ids)
      AND contact_id IS NULL AND message_id IS NULL
$$;
