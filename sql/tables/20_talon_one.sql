-- Raw Talon.One tables. Typed columns for analysts; the full record in _raw (JSON), so no field
-- the API sends, known or new, is ever lost. _deleted_at marks rows a snapshot no longer found.

CREATE TABLE IF NOT EXISTS talon_one_loyalty_programs (
    id                      BIGINT PRIMARY KEY,  -- loyaltyProgramId
    name                    VARCHAR,             -- immutable API name
    title                   VARCHAR,             -- display name
    description             VARCHAR,
    card_based              BOOLEAN,             -- ledgers belong to cards, not profiles
    allow_subledger         BOOLEAN,
    sandbox                 BOOLEAN,
    timezone                VARCHAR,             -- IANA zone of the program's dates
    subscribed_applications JSON,                -- application ids
    tiers                   JSON,                -- [{id, name, minPoints, ...}]
    created                 TIMESTAMPTZ,
    _raw                    JSON NOT NULL,
    _synced_at              TIMESTAMPTZ NOT NULL,
    _deleted_at             TIMESTAMPTZ
);

CREATE TABLE IF NOT EXISTS talon_one_loyalty_transactions (
    id                  BIGINT PRIMARY KEY,      -- ledger entry id
    transaction_uuid    VARCHAR,                 -- transactionUUID
    program_id          BIGINT NOT NULL,
    customer_profile_id VARCHAR,                 -- integrationId (profile-based programs)
    card_identifier     VARCHAR,                 -- card code (card-based programs)
    subledger_id        VARCHAR,                 -- '' is the main ledger
    type                VARCHAR,                 -- addition | subtraction
    amount               DOUBLE PRECISION,   -- points, always positive
    name                VARCHAR,                 -- the reason
    created             TIMESTAMPTZ,             -- the stream's window field
    start_date          VARCHAR,                 -- immediate | on_action | RFC3339 instant
    expiry_date         VARCHAR,                 -- unlimited | RFC3339 instant
    customer_session_id VARCHAR,
    campaign_id         BIGINT,                  -- program-wide feed only
    import_id           BIGINT,                  -- program-wide feed only
    ruleset_id          BIGINT,
    rule_name           VARCHAR,
    _raw                JSON NOT NULL,           -- as the feed that was read sent it
    _synced_at          TIMESTAMPTZ NOT NULL,
    _deleted_at         TIMESTAMPTZ
);

CREATE TABLE IF NOT EXISTS talon_one_loyalty_cards (
    id                   BIGINT PRIMARY KEY,     -- card id
    program_id           BIGINT NOT NULL,
    identifier           VARCHAR NOT NULL,       -- the card code
    status               VARCHAR,                -- active | inactive
    block_reason         VARCHAR,
    batch_id             VARCHAR,
    users_per_card_limit BIGINT,
    current_balance      DOUBLE PRECISION,   -- ledger.currentBalance (main ledger)
    pending_balance      DOUBLE PRECISION,   -- ledger.pendingBalance
    negative_balance     DOUBLE PRECISION,   -- ledger.negativeBalance
    expired_balance      DOUBLE PRECISION,   -- ledger.expiredBalance
    spent_balance        DOUBLE PRECISION,   -- ledger.spentBalance
    subledgers           JSON,                   -- {subledgerId: ledger}
    profiles             JSON,                   -- linked profiles [{integrationId, timestamp}]
    created              TIMESTAMPTZ,
    modified             TIMESTAMPTZ,
    _raw                 JSON NOT NULL,
    _synced_at           TIMESTAMPTZ NOT NULL,
    _deleted_at          TIMESTAMPTZ
);

CREATE TABLE IF NOT EXISTS talon_one_customer_profiles (
    id                   BIGINT PRIMARY KEY,     -- Talon.One's numeric profile id
    integration_id       VARCHAR NOT NULL,       -- your id; Voucherify source_id
    created              TIMESTAMPTZ,
    last_activity        TIMESTAMPTZ,
    closed_sessions      BIGINT,
    total_sales          DOUBLE PRECISION,
    attributes           JSON,                   -- custom attributes, kept whole
    audience_memberships JSON,                   -- [{id, name}]
    sandbox              BOOLEAN,
    _raw                 JSON NOT NULL,
    _synced_at           TIMESTAMPTZ NOT NULL,
    _deleted_at          TIMESTAMPTZ
);

-- One row per ledger (a profile's or a card's, per subledger) and snapshot date: chart balances
-- over time. A second run on the same date replaces that date's row.
CREATE TABLE IF NOT EXISTS talon_one_loyalty_balances (
    snapshot_date   DATE NOT NULL,               -- UTC date of as_of
    program_id      BIGINT NOT NULL,
    owner_kind      VARCHAR NOT NULL,            -- profile | card
    owner_id        VARCHAR NOT NULL,            -- integrationId or card identifier
    subledger_id    VARCHAR NOT NULL,            -- '' is the main ledger
    as_of           TIMESTAMPTZ NOT NULL,        -- the balances' endDate (the run's start)
    current_points       DOUBLE PRECISION,   -- active points
    pending_points       DOUBLE PRECISION,
    expired_points       DOUBLE PRECISION,
    spent_points         DOUBLE PRECISION,
    negative_points      DOUBLE PRECISION,   -- Integration API path only (not exported)
    current_tier    VARCHAR,                     -- tier name, main ledger of tiered programs
    card_state      VARCHAR,                     -- active | inactive (cards, export path)
    _raw            JSON NOT NULL,               -- the CSV row or the API balance object
    _synced_at      TIMESTAMPTZ NOT NULL,
    _deleted_at     TIMESTAMPTZ,
    PRIMARY KEY (program_id, owner_kind, owner_id, subledger_id, snapshot_date)
);
