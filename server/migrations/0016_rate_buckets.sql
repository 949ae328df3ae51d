-- Rate limits for the whole service, not per process: one token bucket per (tenant,
-- caller, operation), shared by every serving process (server/ratelimit.py). A row
-- holds the tokens left at `at`; the refill is computed when the bucket is next
-- drawn on. Rows of full buckets are forgotten (a full bucket is a missing one).
CREATE TABLE privacy_rate_buckets (
    tenant_id  text NOT NULL,
    caller     text NOT NULL,
    operation  text NOT NULL,
    tokens     float8 NOT NULL,
    at         timestamptz NOT NULL,
    granted    boolean NOT NULL,  -- whether the last draw got its token
    PRIMARY KEY (tenant_id, caller, operation)
);

-- The tokens a bucket holds at `now`: what it held at `at` plus the refill since,
-- at most `burst`. A clock that steps back refills nothing.
CREATE FUNCTION privacy_rate_refill(
    tokens float8, at timestamptz, now timestamptz, burst float8, per_second float8
) RETURNS float8 LANGUAGE sql IMMUTABLE AS $$
    SELECT least(burst, tokens + greatest(0, extract(epoch FROM now - at)::float8) * per_second)
$$;
