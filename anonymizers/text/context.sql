-- What the tenant says about a subject's identifiers (anonymizers/context.py).
-- $1 tenant_id; the subject's own rows are left out by id.

-- name: namesakes
-- Other people with one of these name words ($2): contacts by index, accounts and
-- billing contacts by scan (migration 0010). $3 contact ids, $4 user ids.
SELECT first_name, last_name FROM privacy_namesakes($1, $2, $3, $4);

-- name: contact_addresses
-- The addresses of the contacts whose indexed text has these tokens ($2 tsqueries
-- over keyed lexemes, $4 the tenant's key), less the subject's ($3).
SELECT address FROM contacts
WHERE tenant_id = $1 AND address IS NOT NULL AND NOT id = ANY($3)
  AND id = ANY(ARRAY(SELECT privacy_mention_hits('contacts', $1, 0, $2::tsquery[], $4)));

-- name: billing_addresses
-- Billing contacts' addresses (a tenant's staff: few), less the subject's ($3 user ids).
SELECT address FROM billing_contacts
WHERE tenant_id = $1 AND address IS NOT NULL AND NOT coalesce(user_id = ANY($2), false);

-- name: phone_region
SELECT phone_region FROM privacy_tenant_settings WHERE tenant_id = $1;
