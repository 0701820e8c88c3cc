-- The change signals a stream's records carry besides their cursor field (connectors/voucherify/
-- signals.py): per Voucherify customer, a digest of its order, redemption and loyalty counters,
-- which activity can change without moving updated_at. Written with each batch of customers (and
-- by the reconciliation's export); a digest that differs from the one kept here owes the customer
-- an activity visit (visit_queue, reason 'signals').
CREATE TABLE IF NOT EXISTS change_signals (
    stream    VARCHAR     NOT NULL,  -- the stream whose records carry the signal
    entity_id VARCHAR     NOT NULL,  -- the customer
    digest    VARCHAR     NOT NULL,  -- hash of the counters, as text (an export's cells)
    seen_at   TIMESTAMPTZ NOT NULL,  -- when this digest was first seen
    PRIMARY KEY (stream, entity_id)
);
