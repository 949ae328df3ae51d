-- Mentions by index: a GIN index over the tokens of each table's free text, so a
-- single subject's mentions step looks up the rows that can mention them instead
-- of scanning the tenant with a regex (pg_trgm is not available everywhere).
--
-- The tokens are chosen so that every identifier the redactor (anonymizers/
-- redaction.py) can find in a text leaves tokens in the text that do not depend
-- on what surrounds it; anonymizers/tokens.py builds the query from the same
-- rules, and tests/integration/test_mention_index.py checks that nothing the
-- redactor finds is missed. The regex prefilter stays as the exact filter.
--
-- Tokens, after ASCII-only case folding (independent of the database's locale;
-- the two characters whose Python lower case is ASCII fold as Python folds them):
--   * runs of ASCII letters: 'jane', 'doe', 'example', 'com';
--   * runs of ASCII letters and digits: 'jane42', '8f3a2b';
--   * every 7 digits in a row of a "digit chain", digits joined across at most 3
--     other characters, as a phone number's groups are: '5550102', '5501020'.
-- A text whose tokens might not fit a tsvector (over 50,000 characters), or with
-- a token too long for a lexeme, gets the lexeme '~' only, which every query also
-- matches: such rows are always looked at, as before.

-- COST: its real cost (tens of microseconds a row), so the planner never prefers
-- evaluating it over a whole table to reading the index.
CREATE FUNCTION privacy_mention_tokens(p_texts text[]) RETURNS tsvector
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE COST 1000 AS $$
DECLARE
    s      text;
    grams  text[] := '{}';
BEGIN
    s := translate(replace(replace(coalesce(array_to_string(p_texts, E'\n\n\n\n'), ''),
                                   U&'\0130', 'i '),
                           U&'\212A', 'k'),
                   'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz');
    -- Too big for a tsvector, or a token too long for a lexeme: looked at always.
    IF length(s) > 50000 OR (length(s) > 255 AND s ~ '[a-z0-9]{255}[a-z0-9]') THEN
        RETURN array_to_tsvector(ARRAY['~']);
    END IF;
    IF s !~ '[0-9]' THEN
        -- No digits: the letter runs are all there is.
        RETURN array_to_tsvector(array_remove(regexp_split_to_array(s, '[^a-z]+'), ''));
    END IF;
    -- Digit chains of 7 digits or more, each 7 in a row. Through bytea: substring()
    -- of text walks UTF-8 from the start (quadratic); a chain is ASCII digits.
    IF s ~ '[0-9]([^0-9]{0,3}[0-9]){6}' THEN
        SELECT coalesce(array_agg(convert_from(substring(b FROM i FOR 7), 'UTF8')), '{}')
        INTO grams
        FROM regexp_split_to_table(
                 regexp_replace(s, '([0-9])[^0-9]{1,3}(?=[0-9])', '\1', 'g'),
                 '[^0-9]+') AS chain,
             convert_to(chain, 'UTF8') AS b,
             generate_series(1, length(b) - 6) AS i;
    END IF;
    -- Letter runs, and letter-and-digit runs (digit-only ones come along unused).
    RETURN array_to_tsvector(array_remove(
        regexp_split_to_array(s, '[^a-z]+') || regexp_split_to_array(s, '[^a-z0-9]+') || grams,
        ''));
END
$$;

-- Every string value in a JSON document, at any depth (keys are not redacted).
CREATE FUNCTION privacy_json_strings(p_doc jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(v #>> '{}'), '{}')
    FROM jsonb_path_query(p_doc, 'strict $.**') AS v
    WHERE jsonb_typeof(v) = 'string';
$$;

-- Each expression is the one anonymizers/mentions.py (TextColumns.tokens_sql)
-- writes for the table's declared free-text columns: the planner matches them.
-- A small pending list: every lookup reads all of it (the default, 4 MB, made a
-- lookup cost ~50 ms); writers fold it into the index every 128 kB.
CREATE INDEX messages_mentions_idx ON messages USING gin (
    privacy_mention_tokens(ARRAY[sender, subject, body]::text[] || recipients || cc || bcc))
    WITH (gin_pending_list_limit = 128);
CREATE INDEX notes_mentions_idx ON notes USING gin (
    privacy_mention_tokens(ARRAY[body]::text[]))
    WITH (gin_pending_list_limit = 128);
CREATE INDEX deals_mentions_idx ON deals USING gin (
    privacy_mention_tokens(ARRAY[title, description]::text[]))
    WITH (gin_pending_list_limit = 128);
CREATE INDEX contacts_mentions_idx ON contacts USING gin (
    privacy_mention_tokens(ARRAY[address, company]::text[] || privacy_json_strings(custom_fields)))
    WITH (gin_pending_list_limit = 128);
CREATE INDEX files_mentions_idx ON files USING gin (
    privacy_mention_tokens(ARRAY[name]::text[]))
    WITH (gin_pending_list_limit = 128);
CREATE INDEX usage_events_mentions_idx ON usage_events USING gin (
    privacy_mention_tokens(ARRAY[page]::text[]))
    WITH (gin_pending_list_limit = 128);

-- The ids of the entered tenant's rows of `p_table` after `p_after` that one of
-- `p_queries` matches in the mention index. Row-level security keeps the planner
-- from using the index under privacy_app (tsvector @@ tsquery is not leakproof, so
-- it may not run before the policy): this function reads as the tables' owner,
-- for the tenant the transaction entered only, and returns ids, which the caller
-- then reads under row-level security. Expressions are fixed here, never passed.
CREATE FUNCTION privacy_mention_hits(
    p_table text, p_tenant_id text, p_after bigint, p_queries tsquery[]
) RETURNS SETOF bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public ROWS 10 AS $$
DECLARE
    entered text := coalesce(current_setting('privacy.tenant_id', true), '');
    tokens text := CASE p_table
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
    IF tokens IS NULL THEN
        RAISE EXCEPTION 'no mention index on %', p_table USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Only inside the tenant the transaction entered: with none entered (where
    -- privacy_app sees no tenant's rows) it must not answer for any tenant either.
    IF entered IS DISTINCT FROM p_tenant_id THEN
        RAISE EXCEPTION 'tenant % is not the one entered', p_tenant_id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN QUERY EXECUTE format(
        'SELECT id FROM %I WHERE %s @@ ANY($1) AND tenant_id = $2 AND id > $3', p_table, tokens)
        USING p_queries, p_tenant_id, p_after;
END
$$;
