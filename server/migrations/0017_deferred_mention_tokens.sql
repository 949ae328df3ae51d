-- The mention index, off the CRM's write path. Migration 0006 indexed an expression
-- (privacy_mention_tokens() over each table's free text): every INSERT, and every
-- UPDATE of the text, by anyone, computed the tokens and wrote the GIN entries in
-- the writer's statement, about 10x the cost of the write itself. Now the write
-- only queues the row (privacy_texts_to_index; a statement-level trigger for
-- inserts, a row-level one, only when the text changes, for updates), and the
-- tokens are computed later, in bulk, into privacy_text_tokens:
--   * by the service's workers, a chunk at a time (privacy_index_texts), and
--   * by any lookup (privacy_mention_hits), which first indexes what is queued for
--     its tenant and table: a lookup never misses a row written before it.
-- A row whose text changed loses its old tokens at once (they may name someone
-- the text no longer does), and a deleted row's tokens go with it: the table holds
-- no token of a text that is gone. The tokens themselves are computed exactly as
-- before (privacy_mention_tokens), so the queries (Redactor.sql_tsqueries) and
-- their tests stand.

CREATE TABLE privacy_text_tokens (
    tenant_id  text NOT NULL,
    source     text NOT NULL,  -- the table
    row_id     bigint NOT NULL,
    tokens     tsvector NOT NULL,
    PRIMARY KEY (tenant_id, source, row_id)
);
-- As 0006's: a small pending list, since every lookup reads all of it.
CREATE INDEX privacy_text_tokens_idx ON privacy_text_tokens USING gin (tokens)
    WITH (gin_pending_list_limit = 128);

CREATE TABLE privacy_texts_to_index (
    tenant_id  text NOT NULL,
    source     text NOT NULL,
    row_id     bigint NOT NULL,
    PRIMARY KEY (tenant_id, source, row_id)
);

-- Tokens as the table keeps them: each a keyed hash (SHA-256 of the tenant's key
-- and the token, 16 hex digits), so that the table is no word list of the tenant's
-- texts and a pg_dump of it holds no one's name; the same computed in Python for
-- the queries (anonymizers/text/tokens.py, keyed). '~' (a text not indexed token
-- by token) stays as it is.
CREATE FUNCTION privacy_keyed_tokens(p_tokens tsvector, p_key bytea) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT array_to_tsvector(coalesce(array_agg(
        CASE WHEN l = '~' THEN l ELSE left(encode(sha256(p_key || convert_to(l, 'UTF8')), 'hex'), 16) END),
        '{}'))
    FROM unnest(tsvector_to_array(p_tokens)) AS l;
$$;

-- The tokens of one table's rows, by id: the expressions 0006 indexed, fixed here
-- (names from this file, never from a caller).
CREATE FUNCTION privacy_row_tokens(
    p_source text, p_tenant_id text, p_ids bigint[], p_key bytea
) RETURNS TABLE (row_id bigint, tokens tsvector)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public AS $$
DECLARE
    expr text := CASE p_source
        WHEN 'messages' THEN
            'privacy_mention_tokens(ARRAY[sender, subject, body]::text[] || recipients || cc || bcc)'
        WHEN 'notes' THEN 'privacy_mention_tokens(ARRAY[body]::text[])'
        WHEN 'deals' THEN 'privacy_mention_tokens(ARRAY[title, description]::text[])'
        WHEN 'contacts' THEN
            'privacy_mention_tokens(ARRAY[address, company]::text[] || privacy_json_strings(custom_fields))'
        WHEN 'files' THEN 'privacy_mention_tokens(ARRAY[name]::text[])'
        WHEN 'usage_events' THEN 'privacy_mention_tokens(ARRAY[page]::text[])'
    END;
BEGIN
    IF expr IS NULL THEN
        RAISE EXCEPTION 'no mention index on %', p_source USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY EXECUTE format(
        'SELECT id, privacy_keyed_tokens(%s, $3) FROM %I WHERE tenant_id = $1 AND id = ANY($2)',
        expr, p_source)
        USING p_tenant_id, p_ids, p_key;
END
$$;

-- Index up to p_limit queued rows of one tenant's table (p_source NULL: of every
-- table); returns how many left the queue. Queued rows another transaction is
-- indexing are skipped, not waited for: a lookup takes those as candidates as they
-- are (privacy_mention_hits). A row gone since it was queued leaves the queue with
-- nothing to index.
CREATE FUNCTION privacy_index_texts(
    p_tenant_id text, p_source text, p_limit integer, p_key bytea
)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    src text;
    ids bigint[];
    done integer := 0;
BEGIN
    FOREACH src IN ARRAY ARRAY['messages', 'notes', 'deals', 'contacts', 'files', 'usage_events'] LOOP
        CONTINUE WHEN p_source IS NOT NULL AND src <> p_source;
        EXIT WHEN done >= p_limit;
        WITH taken AS (
            DELETE FROM privacy_texts_to_index q
            WHERE q.tenant_id = p_tenant_id AND q.source = src
              AND q.row_id = ANY(ARRAY(
                  SELECT row_id FROM privacy_texts_to_index
                  WHERE tenant_id = p_tenant_id AND source = src
                  ORDER BY row_id LIMIT p_limit - done
                  FOR UPDATE SKIP LOCKED))
            RETURNING q.row_id
        )
        SELECT array_agg(row_id) INTO ids FROM taken;
        CONTINUE WHEN ids IS NULL;
        INSERT INTO privacy_text_tokens (tenant_id, source, row_id, tokens)
        SELECT p_tenant_id, src, t.row_id, t.tokens FROM privacy_row_tokens(src, p_tenant_id, ids, p_key) t
        ON CONFLICT (tenant_id, source, row_id) DO UPDATE SET tokens = excluded.tokens;
        done := done + cardinality(ids);
    END LOOP;
    RETURN done;
END
$$;

-- New rows are queued, a statement at a time (a bulk load pays little per row).
-- Triggers run as the owner: whatever role writes the CRM's rows may queue them.
CREATE FUNCTION privacy_queue_new_texts() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    -- TG_TABLE_NAME is a `name`: used in a query as it is, the primary key's
    -- source column was not searched by it (a scan of the tenant's tokens a row).
    src text := TG_TABLE_NAME;
BEGIN
    INSERT INTO privacy_texts_to_index (tenant_id, source, row_id)
    SELECT n.tenant_id, src, n.id FROM new_rows n
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

-- A row whose text changed: its old tokens go at once, and it is queued. Row by
-- row, and only when the text changed (the trigger's WHEN): an UPDATE of anything
-- else costs nothing, a single-row update no statement-level overhead.
CREATE FUNCTION privacy_queue_changed_text() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    src text := TG_TABLE_NAME;  -- see privacy_queue_new_texts
    tenant text := NEW.tenant_id;
    id bigint := NEW.id;
BEGIN
    DELETE FROM privacy_text_tokens t
    WHERE t.tenant_id = tenant AND t.source = src AND t.row_id = id;
    INSERT INTO privacy_texts_to_index (tenant_id, source, row_id)
    VALUES (tenant, src, id)
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

-- Deleted rows' tokens (and queue entries) go with them, a tenant at a time by primary key (a plan
-- that joined the transition table could scan every tenant's tokens).
CREATE FUNCTION privacy_forget_texts() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    src text := TG_TABLE_NAME;  -- see privacy_queue_new_texts
    t text;
BEGIN
    FOR t IN SELECT DISTINCT o.tenant_id FROM old_rows o LOOP
        DELETE FROM privacy_text_tokens
        WHERE tenant_id = t AND source = src
          AND row_id = ANY(ARRAY(SELECT o.id FROM old_rows o WHERE o.tenant_id = t));
        -- Nor anything queued: an erased tenant leaves nothing to index.
        DELETE FROM privacy_texts_to_index
        WHERE tenant_id = t AND source = src
          AND row_id = ANY(ARRAY(SELECT o.id FROM old_rows o WHERE o.tenant_id = t));
    END LOOP;
    RETURN NULL;
END
$$;

-- Each table: its free-text columns, as 0006 indexed them.
DO $$
DECLARE
    tbl record;
BEGIN
    FOR tbl IN SELECT * FROM (VALUES
        ('messages', 'sender, subject, body, recipients, cc, bcc'),
        ('notes', 'body'),
        ('deals', 'title, description'),
        ('contacts', 'address, company, custom_fields'),
        ('files', 'name'),
        ('usage_events', 'page')) AS v(name, cols)
    LOOP
        EXECUTE format('DROP INDEX %I', tbl.name || '_mentions_idx');
        EXECUTE format(
            'CREATE TRIGGER %I AFTER INSERT ON %I REFERENCING NEW TABLE AS new_rows '
            'FOR EACH STATEMENT EXECUTE FUNCTION privacy_queue_new_texts()',
            tbl.name || '_queue_new_texts', tbl.name);
        EXECUTE format(
            'CREATE TRIGGER %I AFTER UPDATE OF %s ON %I FOR EACH ROW '
            'WHEN ((%s) IS DISTINCT FROM (%s)) EXECUTE FUNCTION privacy_queue_changed_text()',
            tbl.name || '_queue_changed_text', tbl.cols, tbl.name,
            regexp_replace(tbl.cols, '(\w+)', 'OLD.\1', 'g'),
            regexp_replace(tbl.cols, '(\w+)', 'NEW.\1', 'g'));
        EXECUTE format(
            'CREATE TRIGGER %I AFTER DELETE ON %I REFERENCING OLD TABLE AS old_rows '
            'FOR EACH STATEMENT EXECUTE FUNCTION privacy_forget_texts()',
            tbl.name || '_forget_texts', tbl.name);
        -- The rows already there: indexed by the workers, or by the first lookup.
        EXECUTE format(
            'INSERT INTO privacy_texts_to_index (tenant_id, source, row_id) '
            'SELECT tenant_id, %L, id FROM %I', tbl.name, tbl.name);
    END LOOP;
END
$$;

-- The lookup: the ids of the entered tenant's rows of p_table after p_after whose
-- tokens one of p_queries matches, after indexing what is queued for the tenant's
-- table (so nothing written before the lookup is missed). As before, it runs as
-- the owner, for the tenant the transaction entered only, and returns ids. VOLATILE
-- now: it writes the tokens it computes.
DROP FUNCTION privacy_mention_hits(text, text, bigint, tsquery[]);
CREATE FUNCTION privacy_mention_hits(
    p_table text, p_tenant_id text, p_after bigint, p_queries tsquery[], p_key bytea
) RETURNS SETOF bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public ROWS 10 AS $$
DECLARE
    entered text := coalesce(current_setting('privacy.tenant_id', true), '');
BEGIN
    IF p_table NOT IN ('messages', 'notes', 'deals', 'contacts', 'files', 'usage_events') THEN
        RAISE EXCEPTION 'no mention index on %', p_table USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Only inside the tenant the transaction entered: with none entered (where
    -- privacy_app sees no tenant's rows) it must not answer for any tenant either.
    IF entered IS DISTINCT FROM p_tenant_id THEN
        RAISE EXCEPTION 'tenant % is not the one entered', p_tenant_id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM privacy_index_texts(p_tenant_id, p_table, 2147483647, p_key);
    -- Rows still queued are being indexed by another transaction: candidates as they
    -- are (the redactor is the exact filter).
    -- The token index first, alone: given the tenant and table too, the planner may
    -- walk the primary key over all of the tenant's tokens instead (a lookup as
    -- slow as the tenant is big).
    RETURN QUERY
        WITH hits AS MATERIALIZED (
            SELECT t.tenant_id, t.source, t.row_id FROM privacy_text_tokens t
            WHERE t.tokens @@ ANY(p_queries)
        )
        SELECT h.row_id FROM hits h
        WHERE h.tenant_id = p_tenant_id AND h.source = p_table AND h.row_id > p_after
        UNION
        SELECT q.row_id FROM privacy_texts_to_index q
        WHERE q.tenant_id = p_tenant_id AND q.source = p_table AND q.row_id > p_after;
END
$$;
REVOKE EXECUTE ON FUNCTION privacy_mention_hits(text, text, bigint, tsquery[], bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy_mention_hits(text, text, bigint, tsquery[], bytea) TO privacy_app;
REVOKE EXECUTE ON FUNCTION privacy_index_texts(text, text, integer, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy_index_texts(text, text, integer, bytea) TO privacy_app;
