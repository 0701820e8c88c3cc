-- Requests sent to a budgeted API (Voucherify), per billing cycle, account, stream and run
-- (connectors/spending.py). A run reserves requests in small blocks before sending them and
-- settles them to the exact count as its data commits and when it ends, so requests + reserved
-- never counts fewer requests than were sent, and at most one block more after a crash.
-- Several processes syncing one account share the cycle's budget through this table.
CREATE TABLE IF NOT EXISTS request_ledger (
    cycle_start TIMESTAMPTZ NOT NULL,  -- the billing cycle, by its start
    account     VARCHAR     NOT NULL,  -- the API host and a hash of the app id (no key part)
    stream      VARCHAR     NOT NULL,  -- the stream whose requests these are
    run_id      VARCHAR     NOT NULL,  -- the Dagster run (or local-… outside Dagster)
    requests    INTEGER     NOT NULL,  -- requests sent and settled
    reserved    INTEGER     NOT NULL,  -- requests reserved and not settled yet (0 once it ended)
    updated_at  TIMESTAMPTZ NOT NULL,  -- the last reservation or settlement
    PRIMARY KEY (cycle_start, account, stream, run_id)
);
