-- loyalty_balance_history: Talon.One balances per ledger (a profile's or a card's, per subledger)
-- and snapshot date, to chart them over time. Rows with _deleted_at set are left out.
CREATE OR REPLACE VIEW loyalty_balance_history AS
SELECT
    b.snapshot_date,                    -- UTC date of the snapshot (one row per ledger and date)
    b.as_of,                            -- the instant the balances were read as of
    b.program_id,                       -- Talon.One loyalty program id
    b.owner_kind,                       -- profile | card
    b.owner_id,                         -- integrationId (= Voucherify source_id) or card identifier
    b.subledger_id,                     -- '' is the main ledger
    b.current_points,                   -- active points
    b.pending_points,                   -- points not active yet
    b.expired_points,                   -- points that expired
    b.spent_points,                     -- points spent
    b.negative_points,                  -- negative balance; NULL when read from a CSV export
    b.current_tier,                     -- tier name, main ledger of tiered programs
    b.card_state                        -- active | inactive (cards, CSV export path)
FROM talon_one_loyalty_balances AS b
WHERE b._deleted_at IS NULL
