-- loyalty_ledger: every loyalty transaction of both platforms in one shape, one row per
-- transaction. Rows with _deleted_at set are left out. Points are signed: credits positive,
-- debits negative, so sum(amount) over a ledger is its net movement.
CREATE OR REPLACE VIEW loyalty_ledger AS
SELECT
    'voucherify' AS platform,                      -- voucherify | talon_one
    t.id AS transaction_id,                        -- Voucherify's id; Talon.One's entry id as text
    t.campaign_id AS program_id,                   -- Voucherify campaign; Talon.One program as text
    CAST(NULL AS VARCHAR) AS subledger_id,         -- Talon.One ('' is the main ledger); NULL here
    -- Talon.One customerProfileId (= Voucherify source_id) on profile-based programs. NULL on
    -- card-based ones and on Voucherify, whose transaction list names the card, not the customer.
    CAST(NULL AS VARCHAR) AS customer_source_id,
    t.voucher_id AS card,                          -- Voucherify voucher id; Talon.One card code
    t.type,                                        -- POINTS_ACCRUAL, ... | addition, subtraction
    t.reason,                                      -- Voucherify reason; Talon.One entry name
    CAST(t.points AS DOUBLE PRECISION) AS amount,  -- signed points
    t.created_at,                                  -- when the transaction was recorded
    CAST(NULL AS TIMESTAMPTZ) AS expires_at        -- when the points expire; NULL: never, or
                                                   -- not stated (Voucherify)
FROM voucherify_loyalty_transactions AS t
WHERE t._deleted_at IS NULL
UNION ALL
SELECT
    'talon_one',
    CAST(t.id AS VARCHAR),
    CAST(t.program_id AS VARCHAR),
    t.subledger_id,
    t.customer_profile_id,
    t.card_identifier,
    t.type,
    t.name,
    CASE WHEN t.type = 'subtraction' THEN -t.amount ELSE t.amount END,  -- sent unsigned
    t.created,
    CAST(NULLIF(t.expiry_date, 'unlimited') AS TIMESTAMPTZ)
FROM talon_one_loyalty_transactions AS t
WHERE t._deleted_at IS NULL
