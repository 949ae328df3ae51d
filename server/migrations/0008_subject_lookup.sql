-- A subject found by email or phone number, by index, under row-level security.
--
-- The indexes are on expressions (lower(email); the phone number's last ten
-- digits), and lower() and regexp_replace() are not leakproof: under privacy_app
-- the planner may not evaluate them before the tenant policy, so it could use no
-- such index and read every contact of the tenant (or of all tenants: 27 ms a
-- submission by email in a 20,000-contact tenant). These functions read as the
-- tables' owner, for the tenant the transaction entered only, as
-- privacy_mention_hits() does (migration 0006); they return ids, which the caller
-- then reads under row-level security.

CREATE FUNCTION privacy_check_entered(p_tenant_id text) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
    -- Only inside the tenant the transaction entered: with none entered (where
    -- privacy_app sees no tenant's rows) they must not answer for any tenant either.
    IF coalesce(current_setting('privacy.tenant_id', true), '') IS DISTINCT FROM p_tenant_id THEN
        RAISE EXCEPTION 'tenant % is not the one entered', p_tenant_id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
END
$$;

-- The contacts and user accounts with this email, case-insensitively, in id order.
CREATE FUNCTION privacy_people_by_email(p_tenant_id text, p_email text,
                                        OUT contact_ids bigint[], OUT user_ids bigint[])
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    PERFORM privacy_check_entered(p_tenant_id);
    contact_ids := ARRAY(SELECT id FROM contacts
                         WHERE tenant_id = p_tenant_id AND lower(email) = lower(p_email)
                         ORDER BY id);
    user_ids := ARRAY(SELECT id FROM users
                      WHERE tenant_id = p_tenant_id AND lower(email) = lower(p_email)
                      ORDER BY id);
END
$$;

-- The contacts whose phone number has these national digits (the last ten: with
-- or without the country code), in id order.
CREATE FUNCTION privacy_contacts_by_phone(p_tenant_id text, p_digits text)
RETURNS SETOF bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public ROWS 1 AS $$
BEGIN
    PERFORM privacy_check_entered(p_tenant_id);
    RETURN QUERY
        SELECT id FROM contacts
        WHERE tenant_id = p_tenant_id
          AND right(regexp_replace(phone, '\D', '', 'g'), 10) = right(p_digits, 10)
        ORDER BY id;
END
$$;

-- Functions that read as the owner are for the app role (and the owner) only,
-- not for every role that can connect; privacy_mention_hits() too.
REVOKE EXECUTE ON FUNCTION privacy_people_by_email(text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION privacy_contacts_by_phone(text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION privacy_mention_hits(text, text, bigint, tsquery[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy_people_by_email(text, text) TO privacy_app;
GRANT EXECUTE ON FUNCTION privacy_contacts_by_phone(text, text) TO privacy_app;
GRANT EXECUTE ON FUNCTION privacy_mention_hits(text, text, bigint, tsquery[]) TO privacy_app;
