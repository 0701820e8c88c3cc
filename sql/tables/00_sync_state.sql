-- Cursor of every stream, and of every entity inside a fan-out stream (partition_key = its id).
-- Written in the same transaction as the rows it covers, so a crash never loses or repeats rows.
CREATE TABLE IF NOT EXISTS sync_state (
    stream        VARCHAR     NOT NULL,  -- e.g. voucherify_customers
    partition_key VARCHAR     NOT NULL,  -- '' for a stream-wide cursor, else an entity id
    cursor_value  VARCHAR,               -- the last committed cursor (ISO instant, id, ...)
    updated_at    TIMESTAMPTZ NOT NULL,  -- when this cursor was committed
    PRIMARY KEY (stream, partition_key)
);

-- Voucherify exports a stream is reading: saved (committed) before the first status poll, so a
-- run killed while the export is prepared or downloaded resumes with it instead of creating
-- another. Removed once its rows are committed, or when it cannot be used.
CREATE TABLE IF NOT EXISTS sync_exports (
    stream     VARCHAR     NOT NULL,  -- e.g. voucherify_customers
    purpose    VARCHAR     NOT NULL,  -- what it reads: 'window', 'reconcile', 'tie:<instant>'
    export_id  VARCHAR     NOT NULL,  -- exp_...
    parameters VARCHAR     NOT NULL,  -- JSON: the window it was made for (after, before)
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (stream, purpose)
);
