-- The CRM's UPDATE of an indexed text, cheaper (issue 21, bench figure 0). The
-- row trigger of 0017 deleted the row's old tokens and queued the row: about 13 us
-- a row on an UPDATE that costs about 9 us alone (2x). Now it only queues the row.
-- (Still a row trigger, with its WHEN comparing the old and new texts: a
-- statement-level one needs a transition table, which PostgreSQL refuses beside a
-- column list, so it would fire, and copy the rows, on every UPDATE of anything.)
-- A queued row's tokens may be stale, which costs a lookup nothing: it takes every
-- queued row of its table as a candidate and indexes it first
-- (privacy_mention_hits), and the redactor is the exact filter. What stale tokens
-- must not do is outlive the erasure that changed their text (keyed hashes of a
-- name the text no longer holds): privacy_forget_stale_tokens() deletes the tokens
-- of every queued row of a tenant, and a job's end calls it (server/job_end.py), in
-- the transaction that ends the job. A deleted row's tokens still go with the row.

--
-- A row queued already is queued again, not left as it is (0017's DO NOTHING): its
-- entry is updated, which locks it until the writer commits. Left alone, an indexer
-- could take that entry meanwhile, compute the tokens from the text as committed
-- before the write, and commit: the row would end up with its old text's tokens
-- and out of the queue, and a lookup for a name the new text holds would miss it.
-- Locked, the indexers skip it (SKIP LOCKED), and if one holds it already the
-- writer waits for it and queues the row anew.
CREATE OR REPLACE FUNCTION privacy_queue_changed_text() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    -- TG_TABLE_NAME is a `name`: as text, the primary key's source column is used.
    INSERT INTO privacy_texts_to_index AS q (tenant_id, source, row_id)
    VALUES (NEW.tenant_id, TG_TABLE_NAME::text, NEW.id)
    ON CONFLICT (tenant_id, source, row_id) DO UPDATE SET row_id = q.row_id;
    RETURN NULL;
END
$$;

-- The tokens of a tenant's queued rows, gone. Only entries whose row has tokens are
-- locked (a backlog of new rows, which have none, costs a look each, not a write).
-- Queue entries an indexer holds (privacy_index_texts, FOR UPDATE SKIP LOCKED) are
-- skipped, not waited for: that indexer is writing the row's tokens from its text as
-- committed now, and a row the calling transaction rewrote has its entry locked by
-- that transaction itself (the trigger above), so no other one holds it. Returns how
-- many rows lost their tokens.
CREATE FUNCTION privacy_forget_stale_tokens(p_tenant_id text) RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    WITH stale AS (
        SELECT q.source, q.row_id FROM privacy_texts_to_index q
        WHERE q.tenant_id = p_tenant_id
          AND EXISTS (SELECT 1 FROM privacy_text_tokens t
                      WHERE t.tenant_id = q.tenant_id AND t.source = q.source
                        AND t.row_id = q.row_id)
        FOR UPDATE OF q SKIP LOCKED
    ), gone AS (
        DELETE FROM privacy_text_tokens t
        USING stale s
        WHERE t.tenant_id = p_tenant_id AND t.source = s.source AND t.row_id = s.row_id
        RETURNING 1
    )
    SELECT count(*)::integer FROM gone;
$$;
REVOKE EXECUTE ON FUNCTION privacy_forget_stale_tokens(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy_forget_stale_tokens(text) TO privacy_app;
