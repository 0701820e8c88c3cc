-- customer_360: one row per customer across both platforms. A Voucherify customer and a Talon.One
-- profile are the same customer when source_id = integrationId; either may exist alone (FULL JOIN).
-- Rows with _deleted_at set (customers, profiles, segments, activities, cards, balances) are left
-- out. Talon.One points come from each program's latest balance snapshot.
CREATE OR REPLACE VIEW customer_360 AS
WITH RECURSIVE
customers AS (
    SELECT * FROM voucherify_customers WHERE _deleted_at IS NULL
),
profiles AS (
    SELECT * FROM talon_one_customer_profiles WHERE _deleted_at IS NULL
),
segments AS (
    SELECT
        customer_id,
        count(*) AS segment_count,
        string_agg(COALESCE(name, segment_id), ', ' ORDER BY COALESCE(name, segment_id)) AS names
    FROM voucherify_customer_segments
    WHERE _deleted_at IS NULL
    GROUP BY customer_id
),
ranked_activities AS (
    SELECT
        customer_id,
        created_at,
        type,
        count(*) OVER (PARTITION BY customer_id) AS activity_count,
        row_number() OVER (PARTITION BY customer_id ORDER BY created_at DESC, id DESC) AS recency
    FROM voucherify_customer_activities
    WHERE _deleted_at IS NULL
),
last_activities AS (
    SELECT * FROM ranked_activities WHERE recency = 1
),
latest_balances AS (
    SELECT b.*
    FROM talon_one_loyalty_balances AS b
    JOIN (
        SELECT program_id, max(snapshot_date) AS snapshot_date
        FROM talon_one_loyalty_balances
        WHERE _deleted_at IS NULL
        GROUP BY program_id
    ) AS latest
        ON latest.program_id = b.program_id AND latest.snapshot_date = b.snapshot_date
    WHERE b._deleted_at IS NULL
),
profile_points AS (
    SELECT
        owner_id AS integration_id,
        sum(current_points) AS current_points,
        sum(pending_points) AS pending_points,
        max(as_of) AS as_of
    FROM latest_balances
    WHERE owner_kind = 'profile'
    GROUP BY owner_id
),
-- A card lists its linked profiles in a JSON array; walking it by index is the one way to unnest
-- it that DuckDB and PostgreSQL share (-> and ->> mean the same on both).
card_links (card_id, identifier, link_index, integration_id) AS (
    SELECT id, identifier, 0, profiles -> 0 ->> 'integrationId'
    FROM talon_one_loyalty_cards
    WHERE _deleted_at IS NULL AND (profiles -> 0) IS NOT NULL
    UNION ALL
    SELECT
        c.id, c.identifier, l.link_index + 1,
        c.profiles -> (l.link_index + 1) ->> 'integrationId'
    FROM card_links AS l
    JOIN talon_one_loyalty_cards AS c ON c.id = l.card_id
    WHERE (c.profiles -> (l.link_index + 1)) IS NOT NULL
),
card_points AS (
    SELECT
        l.integration_id,
        count(DISTINCT l.card_id) AS card_count,
        sum(b.current_points) AS current_points
    FROM (SELECT DISTINCT card_id, identifier, integration_id FROM card_links) AS l
    LEFT JOIN latest_balances AS b ON b.owner_kind = 'card' AND b.owner_id = l.identifier
    GROUP BY l.integration_id
)
SELECT
    -- Voucherify source_id = Talon.One integrationId: the key both platforms share
    COALESCE(c.source_id, p.integration_id) AS source_id,
    c.id AS voucherify_customer_id,                 -- cust_...; NULL: only in Talon.One
    p.id AS talon_one_profile_id,                   -- numeric profile id; NULL: only in Voucherify
    c.name,                                         -- Voucherify name
    c.email,                                        -- Voucherify email
    c.phone,                                        -- Voucherify phone
    c.birthdate,                                    -- Voucherify birthdate, YYYY-MM-DD as sent
    c.address_city,                                 -- Voucherify address.city
    c.address_country,                              -- Voucherify address.country
    c.address_postal_code,                          -- Voucherify address.postal_code
    c.created_at AS voucherify_created_at,          -- when the Voucherify customer was created
    c.updated_at AS voucherify_updated_at,          -- its last change
    c.orders_total_amount,                          -- summary.orders.total_amount (cents)
    c.orders_total_count,                           -- summary.orders.total_count
    c.loyalty_points AS voucherify_loyalty_points,  -- loyalty.points, as Voucherify reports it
    -- the customer's current Voucherify segments (NULL: only in Talon.One)
    CASE WHEN c.id IS NOT NULL THEN COALESCE(s.segment_count, 0) END AS segment_count,
    s.names AS segment_names,                       -- their names, sorted, joined by ', '
    -- Voucherify activities synced for the customer (NULL: only in Talon.One)
    CASE WHEN c.id IS NOT NULL THEN COALESCE(a.activity_count, 0) END AS activity_count,
    a.created_at AS last_activity_at,               -- instant of the newest Voucherify activity
    a.type AS last_activity_type,                   -- its customer.* event name
    p.created AS talon_one_created,                 -- when the Talon.One profile was created
    p.last_activity AS talon_one_last_activity,     -- Talon.One lastActivity
    p.closed_sessions AS talon_one_closed_sessions, -- Talon.One closedSessions
    p.total_sales AS talon_one_total_sales,         -- Talon.One totalSales
    -- active points of the profile's own ledgers, summed over programs and subledgers
    pp.current_points AS talon_one_current_points,
    pp.pending_points AS talon_one_pending_points,  -- pending points of the same ledgers
    pp.as_of AS talon_one_points_as_of,             -- their snapshot's instant; NULL: no ledger
    COALESCE(cp.card_count, 0) AS talon_one_card_count,  -- live loyalty cards linked to it
    -- active points on those cards (a card shared by several profiles counts for each)
    cp.current_points AS talon_one_card_points
FROM customers AS c
FULL JOIN profiles AS p ON p.integration_id = c.source_id
LEFT JOIN segments AS s ON s.customer_id = c.id
LEFT JOIN last_activities AS a ON a.customer_id = c.id
LEFT JOIN profile_points AS pp ON pp.integration_id = COALESCE(c.source_id, p.integration_id)
LEFT JOIN card_points AS cp ON cp.integration_id = COALESCE(c.source_id, p.integration_id)
