-- A subject found however they are written (issue: erasure finds a person in any
-- spelling and encoding, and never touches anyone else).
--
-- 1. privacy_fold(): text folded as anonymizers/normalize.py folds it, for the
--    mention index: HTML entities, percent-encoding and JSON \uXXXX escapes decoded
--    (only those that give letters or digits matter to the tokens: the rest are
--    separators either way), compatibility decomposition, diacritics dropped, the
--    letters without a decomposition (ø, ł, æ, ß…) spelled in ASCII, ASCII lower
--    case. The mention index's tokens are taken from this fold, so "Zo&euml;",
--    "Zo%C3%AB" and "Zoë" all index "zoe". tests/integration/test_mention_index.py
--    holds it to the Python normalizer.
-- 2. Phone numbers found by E.164, not by their last ten digits (two people abroad
--    share those): an index on a number's digits as written, looked up with every
--    digit string the subject's E.164 number can be written as; the service reads
--    each candidate with phonenumbers before it counts (anonymizers/phones.py).
-- 3. Name words of contacts, by index, to find a subject's namesakes.
-- 4. Tenant settings (the region phone numbers are read in), the token index of
--    file contents, and the files a job could not rewrite (needs review).

-- One escape, decoded and folded as normalize.py decodes it; the escape itself
-- when it is none (an invalid code, a lone surrogate, bytes that are not UTF-8).
CREATE FUNCTION privacy_decode_escape(p_escape text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE STRICT AS $$
DECLARE
    code  bigint;
    low   bigint;
    hex   text;
    -- HTML named entities whose character folds to ASCII letters or digits, folded
    -- (generated from Python's html.entities.html5 and normalize.fold; a test keeps
    -- the two equal). Other entities are punctuation or symbols: separators to the
    -- tokens whether decoded or not. A constant, not a table: the CRM's own writes
    -- evaluate this, under whatever role they have.
    letters constant jsonb :=
       '{"AElig": "ae", "Aacute": "a", "Abreve": "a", "Acirc": "a", "Afr": "a", "Agrave": "a",
        "Amacr": "a", "Aogon": "a", "Aopf": "a", "Aring": "a", "Ascr": "a", "Atilde": "a",
        "Auml": "a", "Bernoullis": "b", "Bfr": "b", "Bopf": "b", "Bscr": "b", "Cacute": "c",
        "CapitalDifferentialD": "d", "Cayleys": "c", "Ccaron": "c", "Ccedil": "c",
        "Ccirc": "c", "Cdot": "c", "Cfr": "c", "Copf": "c", "Cscr": "c", "DD": "d",
        "Dcaron": "d", "Dfr": "d", "DifferentialD": "d", "Dopf": "d", "Dscr": "d",
        "Dstrok": "d", "ETH": "d", "Eacute": "e", "Ecaron": "e", "Ecirc": "e", "Edot": "e",
        "Efr": "e", "Egrave": "e", "Emacr": "e", "Eogon": "e", "Eopf": "e", "Escr": "e",
        "Euml": "e", "ExponentialE": "e", "Ffr": "f", "Fopf": "f", "Fouriertrf": "f",
        "Fscr": "f", "Gbreve": "g", "Gcedil": "g", "Gcirc": "g", "Gdot": "g", "Gfr": "g",
        "Gopf": "g", "Gscr": "g", "Hcirc": "h", "Hfr": "h", "HilbertSpace": "h", "Hopf": "h",
        "Hscr": "h", "Hstrok": "h", "IJlig": "ij", "Iacute": "i", "Icirc": "i", "Idot": "i",
        "Ifr": "i", "Igrave": "i", "Im": "i", "Imacr": "i", "ImaginaryI": "i", "Iogon": "i",
        "Iopf": "i", "Iscr": "i", "Itilde": "i", "Iuml": "i", "Jcirc": "j", "Jfr": "j",
        "Jopf": "j", "Jscr": "j", "Kcedil": "k", "Kfr": "k", "Kopf": "k", "Kscr": "k",
        "Lacute": "l", "Laplacetrf": "l", "Lcaron": "l", "Lcedil": "l", "Lfr": "l",
        "Lmidot": "l·", "Lopf": "l", "Lscr": "l", "Lstrok": "l", "Mellintrf": "m", "Mfr": "m",
        "Mopf": "m", "Mscr": "m", "Nacute": "n", "Ncaron": "n", "Ncedil": "n", "Nfr": "n",
        "Nopf": "n", "Nscr": "n", "Ntilde": "n", "OElig": "oe", "Oacute": "o", "Ocirc": "o",
        "Odblac": "o", "Ofr": "o", "Ograve": "o", "Omacr": "o", "Oopf": "o", "Oscr": "o",
        "Oslash": "o", "Otilde": "o", "Ouml": "o", "Pfr": "p", "Poincareplane": "h",
        "Popf": "p", "Pscr": "p", "Qfr": "q", "Qopf": "q", "Qscr": "q", "Racute": "r",
        "Rcaron": "r", "Rcedil": "r", "Re": "r", "Rfr": "r", "Ropf": "r", "Rscr": "r",
        "Sacute": "s", "Scaron": "s", "Scedil": "s", "Scirc": "s", "Sfr": "s", "Sopf": "s",
        "Sscr": "s", "THORN": "th", "TRADE": "tm", "Tcaron": "t", "Tcedil": "t", "Tfr": "t",
        "Topf": "t", "Tscr": "t", "Tstrok": "t", "Uacute": "u", "Ubreve": "u", "Ucirc": "u",
        "Udblac": "u", "Ufr": "u", "Ugrave": "u", "Umacr": "u", "Uogon": "u", "Uopf": "u",
        "Uring": "u", "Uscr": "u", "Utilde": "u", "Uuml": "u", "Vfr": "v", "Vopf": "v",
        "Vscr": "v", "Wcirc": "w", "Wfr": "w", "Wopf": "w", "Wscr": "w", "Xfr": "x",
        "Xopf": "x", "Xscr": "x", "Yacute": "y", "Ycirc": "y", "Yfr": "y", "Yopf": "y",
        "Yscr": "y", "Yuml": "y", "Zacute": "z", "Zcaron": "z", "Zdot": "z", "Zfr": "z",
        "Zopf": "z", "Zscr": "z", "aacute": "a", "abreve": "a", "acirc": "a", "aelig": "ae",
        "afr": "a", "agrave": "a", "amacr": "a", "angst": "a", "aogon": "a", "aopf": "a",
        "aring": "a", "ascr": "a", "atilde": "a", "auml": "a", "bernou": "b", "bfr": "b",
        "bopf": "b", "bscr": "b", "cacute": "c", "ccaron": "c", "ccedil": "c", "ccirc": "c",
        "cdot": "c", "cfr": "c", "circledS": "s", "complexes": "c", "copf": "c", "cscr": "c",
        "dcaron": "d", "dd": "d", "dfr": "d", "dopf": "d", "dscr": "d", "dstrok": "d",
        "eacute": "e", "ecaron": "e", "ecirc": "e", "edot": "e", "ee": "e", "efr": "e",
        "egrave": "e", "ell": "l", "emacr": "e", "eogon": "e", "eopf": "e", "escr": "e",
        "eth": "d", "euml": "e", "expectation": "e", "exponentiale": "e", "ffilig": "ffi",
        "fflig": "ff", "ffllig": "ffl", "ffr": "f", "filig": "fi", "fjlig": "fj",
        "fllig": "fl", "fopf": "f", "frac12": "1⁄2", "frac13": "1⁄3", "frac14": "1⁄4",
        "frac15": "1⁄5", "frac16": "1⁄6", "frac18": "1⁄8", "frac23": "2⁄3", "frac25": "2⁄5",
        "frac34": "3⁄4", "frac35": "3⁄5", "frac38": "3⁄8", "frac45": "4⁄5", "frac56": "5⁄6",
        "frac58": "5⁄8", "frac78": "7⁄8", "fscr": "f", "gacute": "g", "gbreve": "g",
        "gcirc": "g", "gdot": "g", "gfr": "g", "gopf": "g", "gscr": "g", "half": "1⁄2",
        "hamilt": "h", "hbar": "h", "hcirc": "h", "hfr": "h", "hopf": "h", "hscr": "h",
        "hslash": "h", "hstrok": "h", "iacute": "i", "icirc": "i", "ifr": "i", "igrave": "i",
        "ii": "i", "ijlig": "ij", "imacr": "i", "image": "i", "imagline": "i", "imagpart": "i",
        "imath": "i", "incare": "c/o", "inodot": "i", "integers": "z", "iogon": "i",
        "iopf": "i", "iscr": "i", "itilde": "i", "iuml": "i", "jcirc": "j", "jfr": "j",
        "jopf": "j", "jscr": "j", "kcedil": "k", "kfr": "k", "kopf": "k", "kscr": "k",
        "lacute": "l", "lagran": "l", "lcaron": "l", "lcedil": "l", "lfr": "l", "lmidot": "l·",
        "lopf": "l", "lscr": "l", "lstrok": "l", "mfr": "m", "mopf": "m", "mscr": "m",
        "nacute": "n", "napos": "ʼn", "naturals": "n", "ncaron": "n", "ncedil": "n",
        "nfr": "n", "nopf": "n", "nscr": "n", "ntilde": "n", "numero": "no", "oS": "s",
        "oacute": "o", "ocirc": "o", "odblac": "o", "oelig": "oe", "ofr": "o", "ograve": "o",
        "omacr": "o", "oopf": "o", "order": "o", "orderof": "o", "ordf": "a", "ordm": "o",
        "oscr": "o", "oslash": "o", "otilde": "o", "ouml": "o", "pfr": "p", "phmmat": "m",
        "planck": "h", "planckh": "h", "plankv": "h", "popf": "p", "primes": "p", "pscr": "p",
        "qfr": "q", "qopf": "q", "qscr": "q", "quaternions": "h", "racute": "r",
        "rationals": "q", "rcaron": "r", "rcedil": "r", "real": "r", "realine": "r",
        "realpart": "r", "reals": "r", "rfr": "r", "ropf": "r", "rscr": "r", "sacute": "s",
        "scaron": "s", "scedil": "s", "scirc": "s", "sfr": "s", "sopf": "s", "sscr": "s",
        "sup1": "1", "sup2": "2", "sup3": "3", "szlig": "ss", "tcaron": "t", "tcedil": "t",
        "tfr": "t", "thorn": "th", "topf": "t", "trade": "tm", "tscr": "t", "tstrok": "t",
        "uacute": "u", "ubreve": "u", "ucirc": "u", "udblac": "u", "ufr": "u", "ugrave": "u",
        "umacr": "u", "uogon": "u", "uopf": "u", "uring": "u", "uscr": "u", "utilde": "u",
        "uuml": "u", "vfr": "v", "vopf": "v", "vscr": "v", "wcirc": "w", "wfr": "w",
        "wopf": "w", "wscr": "w", "xfr": "x", "xopf": "x", "xscr": "x", "yacute": "y",
        "ycirc": "y", "yfr": "y", "yopf": "y", "yscr": "y", "yuml": "y", "zacute": "z",
        "zcaron": "z", "zdot": "z", "zeetrf": "z", "zfr": "z", "zopf": "z", "zscr": "z"}'::jsonb;
BEGIN
    IF p_escape LIKE '&#x%' OR p_escape LIKE '&#X%' THEN
        code := ('x' || lpad(substr(p_escape, 4, length(p_escape) - 4), 8, '0'))::bit(32)::bigint;
    ELSIF p_escape LIKE '&#%' THEN
        code := substr(p_escape, 3, length(p_escape) - 3)::bigint;
    ELSIF p_escape LIKE '&%' THEN
        RETURN coalesce(letters ->> substr(p_escape, 2, length(p_escape) - 2), p_escape);
    ELSIF p_escape LIKE '\\u%' THEN
        code := ('x' || lpad(substr(p_escape, 3, 4), 8, '0'))::bit(32)::bigint;
        IF length(p_escape) = 12 THEN  -- \uXXXX\uDCxx: a surrogate pair, or kept whole
            low := ('x' || lpad(substr(p_escape, 9, 4), 8, '0'))::bit(32)::bigint;
            IF code BETWEEN 55296 AND 56319 THEN
                RETURN chr((65536 + (code - 55296) * 1024 + (low - 56320))::int);
            END IF;
            RETURN p_escape;
        END IF;
    ELSE
        -- A run of %XX: decoded only if all of it is UTF-8 (and holds no NUL).
        hex := lower(replace(p_escape, '%', ''));
        IF hex !~ ('^(?:0[1-9a-f]|[1-7][0-9a-f]|(?:c[2-9a-f]|d[0-9a-f])[89ab][0-9a-f]'
                   '|e0[ab][0-9a-f][89ab][0-9a-f]|(?:e[1-9a-c]|e[ef])(?:[89ab][0-9a-f]){2}'
                   '|ed[89][0-9a-f][89ab][0-9a-f]|f0[9ab][0-9a-f](?:[89ab][0-9a-f]){2}'
                   '|f[1-3](?:[89ab][0-9a-f]){3}|f48[0-9a-f](?:[89ab][0-9a-f]){2})+$') THEN
            RETURN p_escape;
        END IF;
        RETURN convert_from(decode(hex, 'hex'), 'UTF8');
    END IF;
    -- NUL cannot be text, surrogates are no characters.
    IF code < 1 OR code > 1114111 OR code BETWEEN 55296 AND 57343 THEN
        RETURN p_escape;
    END IF;
    RETURN chr(code::int);
END
$$;

-- The text as normalize.py folds it, for tokens (see the top of this file).
CREATE FUNCTION privacy_fold(p_text text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE STRICT AS $$
DECLARE
    escape text := '(&#[0-9]{1,7};|&#[xX][0-9a-fA-F]{1,6};|&[A-Za-z][A-Za-z0-9]{1,31};'
                   '|(?:%[0-9A-Fa-f]{2})+|\\u[0-9A-Fa-f]{4}(?:\\u[dD][c-fC-F][0-9a-fA-F]{2})?)';
    s      text := p_text;
    pieces text[];
    m      text[];
    i      integer := 1;
BEGIN
    IF s ~ '&#?[A-Za-z0-9]+;|%[0-9A-Fa-f]{2}|\\u[0-9A-Fa-f]{4}' THEN
        -- One pass, left to right: what lies between the escapes, then each escape.
        pieces := regexp_split_to_array(s, escape);
        s := pieces[1];
        FOR m IN SELECT regexp_matches(p_text, escape, 'g') LOOP
            i := i + 1;
            s := s || privacy_decode_escape(m[1]) || pieces[i];
        END LOOP;
    END IF;
    IF s ~ '[^\u0001-\u007f]' THEN
        s := regexp_replace(normalize(s, NFKD),
                            '[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f'
                            '\u00ad\u200b\u200c\u200d\u2060\ufeff]', '', 'g');
        s := translate(s, 'øØđĐðÐłŁħĦıŧŦ', 'ooddddllhhitt');
        s := replace(replace(replace(replace(s, 'þ', 'th'), 'Þ', 'th'), 'æ', 'ae'), 'Æ', 'ae');
        s := replace(replace(replace(replace(s, 'œ', 'oe'), 'Œ', 'oe'), 'ß', 'ss'), 'ẞ', 'ss');
    END IF;
    RETURN translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz');
END
$$;

-- The mention index's tokens (0006), now of the folded text.
CREATE OR REPLACE FUNCTION privacy_mention_tokens(p_texts text[]) RETURNS tsvector
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE COST 1000 AS $$
DECLARE
    s      text;
    grams  text[] := '{}';
BEGIN
    s := privacy_fold(coalesce(array_to_string(p_texts, E'\n\n\n\n'), ''));
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

-- The function changed: every index on it is built again.
REINDEX INDEX messages_mentions_idx;
REINDEX INDEX notes_mentions_idx;
REINDEX INDEX deals_mentions_idx;
REINDEX INDEX contacts_mentions_idx;
REINDEX INDEX files_mentions_idx;
REINDEX INDEX usage_events_mentions_idx;

-- Phone numbers: by their digits as written (a number and its E.164 form are
-- compared by the service, never by a suffix of digits).
DROP INDEX contacts_phone_digits_idx;
CREATE INDEX contacts_phone_idx ON contacts (tenant_id, (regexp_replace(phone, '\D', '', 'g')));
DROP FUNCTION privacy_contacts_by_phone(text, text);

-- The contacts whose phone number is written with one of these digit strings, in
-- id order (candidates: the caller reads each number before it counts).
CREATE FUNCTION privacy_contacts_by_phone(p_tenant_id text, p_digits text[],
                                          OUT id bigint, OUT phone text)
RETURNS SETOF record
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public ROWS 1 AS $$
BEGIN
    PERFORM privacy_check_entered(p_tenant_id);
    RETURN QUERY
        SELECT c.id, c.phone FROM contacts c
        WHERE c.tenant_id = p_tenant_id
          AND regexp_replace(c.phone, '\D', '', 'g') = ANY(p_digits)
        ORDER BY c.id;
END
$$;

-- The folded words of a name (letters only: "O'Brien" is o, brien).
CREATE FUNCTION privacy_name_words(p_first text, p_last text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT array_remove(regexp_split_to_array(
        privacy_fold(coalesce(p_first, '') || ' ' || coalesce(p_last, '')), '[^a-z]+'), '')
$$;
CREATE INDEX contacts_name_words_idx ON contacts
    USING gin (privacy_name_words(first_name, last_name));

-- Other people of the tenant with one of these name words: contacts (by index),
-- user accounts and billing contacts (a tenant's staff: few), less the subject's
-- own rows. Names as written; the caller keeps those that share a family name.
CREATE FUNCTION privacy_namesakes(p_tenant_id text, p_words text[],
                                  p_contact_ids bigint[], p_user_ids bigint[],
                                  OUT first_name text, OUT last_name text)
RETURNS SETOF record
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    PERFORM privacy_check_entered(p_tenant_id);
    RETURN QUERY
        SELECT c.first_name, c.last_name FROM contacts c
        WHERE c.tenant_id = p_tenant_id
          AND privacy_name_words(c.first_name, c.last_name) && p_words
          AND NOT c.id = ANY(p_contact_ids)
        UNION ALL
        SELECT NULL, u.name FROM users u
        WHERE u.tenant_id = p_tenant_id AND NOT u.id = ANY(p_user_ids)
          AND privacy_name_words(u.name, u.display_name) && p_words
        UNION ALL
        SELECT NULL, b.name FROM billing_contacts b
        WHERE b.tenant_id = p_tenant_id AND NOT coalesce(b.user_id = ANY(p_user_ids), false)
          AND privacy_name_words(b.name, NULL) && p_words;
END
$$;

REVOKE EXECUTE ON FUNCTION privacy_contacts_by_phone(text, text[]) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION privacy_namesakes(text, text[], bigint[], bigint[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy_contacts_by_phone(text, text[]) TO privacy_app;
GRANT EXECUTE ON FUNCTION privacy_namesakes(text, text[], bigint[], bigint[]) TO privacy_app;

-- Per-tenant settings of the privacy service. phone_region: the region (ISO 3166
-- code, as phonenumbers knows it) phone numbers without a country code are read
-- in; a tenant without a row uses PRIVACY_DEFAULT_PHONE_REGION.
CREATE TABLE privacy_tenant_settings (
    tenant_id     text PRIMARY KEY,
    phone_region  text NOT NULL CHECK (phone_region ~ '^[A-Z0-9]{2,3}$'),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- The tokens of each file's contents (its text, anonymizers/documents.py), so a
-- subject's erasure looks up the files that can name them instead of reading every
-- file of the tenant. Tokens are keyed hashes (the tenant's key): the table is no
-- list of the words in the tenant's files. sha256: the contents they were read
-- from. Gone with the file.
CREATE TABLE privacy_file_tokens (
    tenant_id  text NOT NULL,
    file_id    bigint NOT NULL,
    sha256     text NOT NULL,
    tokens     tsvector NOT NULL,
    PRIMARY KEY (tenant_id, file_id),
    FOREIGN KEY (tenant_id, file_id) REFERENCES files (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX privacy_file_tokens_idx ON privacy_file_tokens USING gin (tokens)
    WITH (gin_pending_list_limit = 128);

-- Files whose contents must be read (again) for the token index: queued by a trigger
-- on every new file and every change of a file's contents, whoever writes it (the
-- CRM's own writes included), and drained by the tenant's next job before it
-- searches. Comparing every file with its tokens instead cost a job 200 ms at
-- 146,000 files. Gone with the file.
CREATE TABLE privacy_files_to_index (
    tenant_id  text NOT NULL,
    file_id    bigint NOT NULL,
    PRIMARY KEY (tenant_id, file_id),
    FOREIGN KEY (tenant_id, file_id) REFERENCES files (tenant_id, id) ON DELETE CASCADE
);

-- Runs as the owner: whatever role writes files may queue them.
CREATE FUNCTION privacy_queue_file_tokens() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    INSERT INTO privacy_files_to_index (tenant_id, file_id) VALUES (NEW.tenant_id, NEW.id)
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
CREATE TRIGGER files_queue_tokens
    AFTER INSERT OR UPDATE OF sha256, blob_key, content_type ON files
    FOR EACH ROW EXECUTE FUNCTION privacy_queue_file_tokens();
-- The files already there.
INSERT INTO privacy_files_to_index (tenant_id, file_id) SELECT tenant_id, id FROM files;

-- Files that hold a job's subject but could not be rewritten safely (a PDF, an
-- office document, a file whose rewrite still names them): the job lists them
-- instead of pretending. No personal data: ids and a reason.
CREATE TABLE privacy_job_reviews (
    job_id     uuid NOT NULL REFERENCES privacy_jobs (id),
    tenant_id  text NOT NULL,
    file_id    bigint NOT NULL,
    data_type  text NOT NULL,
    reason     text NOT NULL,
    PRIMARY KEY (job_id, file_id)
);

-- A file as a job's subject: an operator erasing a file a job listed for review.
ALTER TABLE privacy_jobs DROP CONSTRAINT privacy_jobs_subject_kind_check;
ALTER TABLE privacy_jobs ADD CONSTRAINT privacy_jobs_subject_kind_check
    CHECK (subject_kind IN ('contact', 'user', 'person', 'tenant', 'file'));
ALTER TABLE privacy_jobs ADD COLUMN file_ids bigint[] NOT NULL DEFAULT '{}';
