-- customer_activity_daily: Voucherify activity counted per customer, UTC day and event type.
-- Activities with _deleted_at set, and those of customers with _deleted_at set, are left out.
CREATE OR REPLACE VIEW customer_activity_daily AS
SELECT
    a.customer_id,                   -- Voucherify cust_...
    c.source_id,                     -- its source_id (= Talon.One integrationId)
    -- the UTC calendar day of created_at, whatever the session's time zone
    CAST(a.created_at AT TIME ZONE 'UTC' AS DATE) AS activity_date,
    a.type AS activity_type,         -- customer.* event name
    count(*) AS activity_count,      -- events of that type that day
    min(a.created_at) AS first_at,   -- the earliest of them
    max(a.created_at) AS last_at     -- the latest of them
FROM voucherify_customer_activities AS a
JOIN voucherify_customers AS c ON c.id = a.customer_id AND c._deleted_at IS NULL
WHERE a._deleted_at IS NULL
GROUP BY a.customer_id, c.source_id, CAST(a.created_at AT TIME ZONE 'UTC' AS DATE), a.type
