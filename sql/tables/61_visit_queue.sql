-- Entities owed a visit by a fan-out stream (a customer's activity, its segments), and when
-- each was last verified (connectors/visits.py). The watermark-based selection (and any other
-- reason) enqueues; a visit that commits marks its entity done in the same transaction. A run
-- cut off by its allowance, a vendor block or a signal leaves the rest here, oldest change
-- first, for the next run.
CREATE TABLE IF NOT EXISTS visit_queue (
    stream      VARCHAR     NOT NULL,  -- the fan-out stream owing the visit
    entity_id   VARCHAR     NOT NULL,  -- the customer (or other entity) to visit
    owed_since  TIMESTAMPTZ,           -- the oldest change not yet visited; NULL: none owed
    reason      VARCHAR,               -- why it is owed: changed, full sweep, full refresh, …
    enqueued_at TIMESTAMPTZ,           -- when it was first owed (NULL once visited)
    verified_at TIMESTAMPTZ,           -- when its last visit committed
    PRIMARY KEY (stream, entity_id)
);
