-- Cursor of every stream, and of every entity inside a fan-out stream (partition_key = its id).
-- Written in the same transaction as the rows it covers, so a crash never loses or repeats rows.
CREATE TABLE IF NOT EXISTS sync_state (
    stream        VARCHAR     NOT NULL,  -- e.g. voucherify_customers
    partition_key VARCHAR     NOT NULL,  -- '' for a stream-wide cursor, else an entity id
    cursor_value  VARCHAR,               -- the last committed cursor (ISO instant, id, ...)
    updated_at    TIMESTAMPTZ NOT NULL,  -- when this cursor was committed
    PRIMARY KEY (stream, partition_key)
);
