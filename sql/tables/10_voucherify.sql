-- Raw Voucherify tables. Typed columns for analysts; the full record in _raw (JSON), so no field
-- the API sends, known or new, is ever lost. _deleted_at marks rows a reconciliation found gone.

CREATE TABLE IF NOT EXISTS voucherify_customers (
    id                  VARCHAR PRIMARY KEY,   -- cust_...
    source_id           VARCHAR,               -- your own id; Talon.One integrationId
    name                VARCHAR,
    email               VARCHAR,
    phone               VARCHAR,
    birthdate           VARCHAR,               -- YYYY-MM-DD as sent
    address_city        VARCHAR,
    address_country     VARCHAR,
    address_postal_code VARCHAR,
    metadata            JSON,                  -- free-form, kept whole
    loyalty_points      BIGINT,                -- loyalty.points
    orders_total_amount BIGINT,                -- summary.orders.total_amount (cents)
    orders_total_count  BIGINT,                -- summary.orders.total_count
    created_at          TIMESTAMPTZ,
    updated_at          TIMESTAMPTZ,           -- the stream's cursor
    _raw                JSON NOT NULL,
    _synced_at          TIMESTAMPTZ NOT NULL,
    _deleted_at         TIMESTAMPTZ
);

CREATE TABLE IF NOT EXISTS voucherify_customer_activities (
    id          VARCHAR PRIMARY KEY,           -- evcus_...
    customer_id VARCHAR NOT NULL,
    type        VARCHAR,                       -- customer.* event name
    group_id    VARCHAR,
    created_at  TIMESTAMPTZ,
    data        JSON,                          -- type-specific payload, kept whole
    _raw        JSON NOT NULL,
    _synced_at  TIMESTAMPTZ NOT NULL,
    _deleted_at TIMESTAMPTZ
);

CREATE TABLE IF NOT EXISTS voucherify_customer_segments (
    customer_id VARCHAR NOT NULL,
    segment_id  VARCHAR NOT NULL,              -- seg_...
    name        VARCHAR,
    _raw        JSON NOT NULL,
    _synced_at  TIMESTAMPTZ NOT NULL,
    _deleted_at TIMESTAMPTZ,
    PRIMARY KEY (customer_id, segment_id)
);

CREATE TABLE IF NOT EXISTS voucherify_loyalty_transactions (
    id                     VARCHAR PRIMARY KEY,  -- lp_... / vtx_...
    campaign_id            VARCHAR NOT NULL,
    voucher_id             VARCHAR,              -- the loyalty card
    source_id              VARCHAR,
    type                   VARCHAR,              -- POINTS_ACCRUAL, POINTS_REDEMPTION, ...
    reason                 VARCHAR,
    points                 BIGINT,               -- details.balance.points (signed)
    balance                BIGINT,               -- details.balance.balance after the transaction
    related_transaction_id VARCHAR,
    created_at             TIMESTAMPTZ,
    details                JSON,
    _raw                   JSON NOT NULL,
    _synced_at             TIMESTAMPTZ NOT NULL,
    _deleted_at            TIMESTAMPTZ
);
