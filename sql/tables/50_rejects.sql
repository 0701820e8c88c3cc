-- Records a pull stream could not read (connectors/rejects.py), kept whole with the reason, one
-- row per stream and record key. Written in the same transaction as the batch they came in.
-- A reject is resolved when a later batch lands its key cleanly, or when someone marks it
-- (`promosync rejects resolve`); the `rejects_resolved` check fails while one is not.
CREATE TABLE IF NOT EXISTS sync_rejects (
    stream      VARCHAR     NOT NULL,  -- the pull stream (and its table)
    record_key  VARCHAR     NOT NULL,  -- the primary key as text (a JSON list if composite), or
                                       -- sha256:... of the record when it has none
    field       VARCHAR     NOT NULL,  -- the column or record field at fault
    reason      VARCHAR     NOT NULL,  -- why it could not be read
    record      JSON        NOT NULL,  -- the record whole, as the API sent it
    seen_at     TIMESTAMPTZ NOT NULL,  -- the start of the last run that met it so
    resolved_at TIMESTAMPTZ,           -- NULL while unresolved
    resolution  VARCHAR,               -- 'read cleanly', or the note given when marked
    PRIMARY KEY (stream, record_key)
);
