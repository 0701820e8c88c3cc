-- Input tables analysts fill with what to push; the sample queries in sql/push/ read them.
-- To push from your own model instead, replace a query's body, e.g. in
-- sql/push/voucherify_metadata.sql:
--     SELECT customer_key AS source_id, json_object('tier', tier) AS metadata FROM analytics.tiers
-- or create a view and select from it. A query must return the columns named below; a CSV file
-- given with --file uses the same names as its header.

CREATE TABLE IF NOT EXISTS push_voucherify_metadata (
    source_id VARCHAR NOT NULL,  -- the customer's source_id (created if unknown)
    metadata  JSON NOT NULL      -- a JSON object merged into the customer's metadata
);

CREATE TABLE IF NOT EXISTS push_voucherify_customers (
    source_id           VARCHAR NOT NULL,  -- the customer's source_id (created if unknown)
    name                VARCHAR,           -- NULL columns are left as they are
    email               VARCHAR,           -- validated: local@domain.tld
    phone               VARCHAR,
    birthdate           VARCHAR,           -- YYYY-MM-DD
    description         VARCHAR,
    address_line_1      VARCHAR,
    address_line_2      VARCHAR,
    address_city        VARCHAR,
    address_state       VARCHAR,
    address_postal_code VARCHAR,
    address_country     VARCHAR,
    metadata            JSON               -- a JSON object merged into the customer's metadata
);

CREATE TABLE IF NOT EXISTS push_talon_one_profiles (
    integration_id VARCHAR NOT NULL,  -- the profile's integrationId (Voucherify source_id)
    attributes     JSON NOT NULL      -- a JSON object merged into the profile's attributes
);

CREATE TABLE IF NOT EXISTS push_talon_one_audiences (
    audience_id    BIGINT NOT NULL,   -- Talon.One audience id
    integration_id VARCHAR NOT NULL,  -- the profile's integrationId
    member         BOOLEAN NOT NULL   -- true: add to the audience; false: remove from it
);
