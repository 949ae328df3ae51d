-- Security: caller credentials, and row-level security on tenant data as a second
-- line behind the tenant filter every query already carries.

-- Callers authenticate with a bearer token; only its SHA-256 is stored. Tokens are
-- 256-bit random, so a plain hash is enough (no salt or slow hash needed) and the
-- lookup is by hash. tenants '{*}' means every tenant.
CREATE TABLE IF NOT EXISTS privacy_credentials (
    name        text PRIMARY KEY,
    token_hash  text NOT NULL UNIQUE,
    scopes      text[] NOT NULL,
    tenants     text[] NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

-- The role the service's tenant-data transactions switch to (SET LOCAL ROLE).
-- Superusers and BYPASSRLS roles skip row-level security, and the embedded server
-- connects as a superuser, so the policies only bind under this role. Roles are
-- cluster-wide: many databases (tests make one per test from a template) share it,
-- so creating it must tolerate it existing or being created concurrently.
DO $$
BEGIN
    CREATE ROLE privacy_app NOLOGIN NOSUPERUSER NOBYPASSRLS;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

GRANT USAGE ON SCHEMA public TO privacy_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO privacy_app;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO privacy_app;
-- Tables of later migrations, created by the same owner, get the same grants.
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO privacy_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO privacy_app;
-- Credentials are the server's own business, never a tenant transaction's.
REVOKE ALL ON privacy_credentials FROM privacy_app;

-- Tenant data (the tables of 0001) is visible only for the tenant named by the
-- transaction's setting privacy.tenant_id; with no tenant set, nothing is visible.
-- The policies bind the privacy_app role; the connecting owner still bypasses them
-- (no FORCE) because seeding and the service's own paths run as the owner until
-- they enter a tenant with privacy_enter_tenant. The privacy_* tables are not
-- covered: workers scan them across tenants to find work.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY[
        'tenants', 'users', 'contacts', 'deals', 'notes', 'messages', 'files',
        'sessions', 'usage_events', 'billing_contacts', 'channel_credentials'
    ] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I '
            'USING (tenant_id = current_setting(''privacy.tenant_id'', true)) '
            'WITH CHECK (tenant_id = current_setting(''privacy.tenant_id'', true))',
            t
        );
    END LOOP;
END
$$;

-- One round trip at the top of a tenant transaction: become the app role and name
-- the tenant, both for this transaction only.
CREATE OR REPLACE FUNCTION privacy_enter_tenant(p_tenant_id text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('privacy.tenant_id', p_tenant_id, true);
    SET LOCAL ROLE privacy_app;
END
$$;
