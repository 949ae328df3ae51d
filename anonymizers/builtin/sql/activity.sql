-- Usage events: pages visited, features used, with device data.
-- $1 tenant_id, $2 whole tenant?, $3 user ids, $4/$5 the period [after, before)
-- the events happened in (NULL: unbounded; set by retention).
-- A batch's rows are changed by `id = ANY(ARRAY(SELECT id FROM batch))`, index probe
-- by probe: joined with the batch instead, the planner hashed all the tenant's rows
-- of the table for every batch once there were many (docs/performance.md,
-- "Measurements behind the code").

-- name: count
SELECT count(*) FROM usage_events
WHERE tenant_id = $1 AND ($2 OR user_id = ANY($3))
  AND occurred_at >= coalesce($4::timestamptz, '-infinity') AND occurred_at < coalesce($5::timestamptz, 'infinity');

-- name: erase_batch
-- $6 after, $7 limit.
WITH batch AS (
    SELECT id FROM usage_events
    WHERE tenant_id = $1 AND ($2 OR user_id = ANY($3))
      AND occurred_at >= coalesce($4::timestamptz, '-infinity') AND occurred_at < coalesce($5::timestamptz, 'infinity')
      AND id > $6
    ORDER BY id LIMIT $7 FOR UPDATE
), gone AS (
    DELETE FROM usage_events e WHERE e.tenant_id = $1 AND e.id = ANY(ARRAY(SELECT id FROM batch))
    RETURNING e.id
)
SELECT count(*), coalesce(max(id), $6) FROM gone;

-- name: lock_batch
SELECT id, page, ip, user_agent, device_id FROM usage_events
WHERE tenant_id = $1 AND ($2 OR user_id = ANY($3))
  AND occurred_at >= coalesce($4::timestamptz, '-infinity') AND occurred_at < coalesce($5::timestamptz, 'infinity')
  AND id > $6
ORDER BY id LIMIT $7 FOR UPDATE;

-- name: anonymize_batch
UPDATE usage_events e
SET page = a.page, ip = a.ip, user_agent = a.user_agent, device_id = a.device_id
FROM unnest($2::bigint[], $3::text[], $4::inet[], $5::text[], $6::text[])
     AS a(id, page, ip, user_agent, device_id)
WHERE e.tenant_id = $1 AND e.id = a.id;

-- name: export
SELECT id, event, page, ip, user_agent, device_id, occurred_at
FROM usage_events WHERE tenant_id = $1 AND ($2 OR user_id = ANY($3)) ORDER BY id;
