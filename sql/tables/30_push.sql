-- Push audit and state. A push run reads rows, skips those unchanged since their last successful
-- push, sends the rest in batches and records what happened, row by row. Voucherify's bulk calls
-- are asynchronous: push_jobs is the ledger a later run (or the resume sensor) reads to poll a job
-- that an earlier run started, instead of sending its rows again.

CREATE TABLE IF NOT EXISTS push_runs (
    run_id             VARCHAR PRIMARY KEY,  -- push_<utc time>_<random>
    destination        VARCHAR NOT NULL,     -- voucherify | talon_one
    operation          VARCHAR NOT NULL,     -- csv_import | metadata | customers | profiles | audiences
    source             VARCHAR NOT NULL,     -- query:<name in sql/push> or file:<path>
    forced             BOOLEAN NOT NULL,     -- --force: unchanged rows were sent too
    rows_considered    BIGINT,               -- rows read from the query or file
    rows_invalid       BIGINT,               -- rows refused by validation (never sent)
    rows_skipped       BIGINT,               -- valid rows unchanged since their last successful push
    rows_sent          BIGINT,               -- rows sent in a request the API accepted
    rows_failed        BIGINT,               -- rows that did not arrive: invalid plus rejected by the API
    requests           BIGINT,               -- HTTP requests this run made (sends, polls, retries)
    async_action_ids   JSON,                 -- Voucherify async actions this run started
    resumed_action_ids JSON,                 -- async actions of earlier runs this run polled
    outcome            VARCHAR NOT NULL,     -- running | succeeded | partial | pending | stopped | failed
    error              VARCHAR,              -- why a run failed as a whole (no credential ever)
    started_at         TIMESTAMPTZ NOT NULL,
    finished_at        TIMESTAMPTZ,          -- NULL while running (or after a crash)
    seconds            DOUBLE PRECISION      -- wall time of the run
);

CREATE TABLE IF NOT EXISTS push_row_results (
    result_id   VARCHAR PRIMARY KEY,  -- <run_id>:<job_id or 'validation'>:<index>
    run_id      VARCHAR NOT NULL,     -- the run whose rows these are (also when a later run resumed it)
    job_id      VARCHAR,              -- the request (push_jobs.job_id for Voucherify); NULL if invalid
    destination VARCHAR NOT NULL,
    operation   VARCHAR NOT NULL,
    row_number  BIGINT,               -- 1-based row of the query result or CSV data row (header is 0)
    row_key     VARCHAR,              -- source_id / integrationId / audience_id:integrationId, if known
    status      VARCHAR NOT NULL,     -- invalid (validation) | rejected (by the API) | done (asked for)
    reason      VARCHAR NOT NULL,     -- what is wrong, in words
    detail      JSON,                 -- the API's own error object, when it sent one
    recorded_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS push_jobs (
    job_id          VARCHAR PRIMARY KEY,  -- <run_id>:<sequence>
    run_id          VARCHAR NOT NULL,
    destination     VARCHAR NOT NULL,
    operation       VARCHAR NOT NULL,
    endpoint        VARCHAR NOT NULL,     -- e.g. POST /v1/customers/metadata/async
    action_type     VARCHAR,              -- e.g. CUSTOMERS.METADATA_UPDATE
    sequence        BIGINT NOT NULL,      -- order of the request inside its run
    row_count       BIGINT NOT NULL,      -- rows carried by the request
    payload_bytes   BIGINT NOT NULL,      -- body size (under the 10 MB limit)
    status          VARCHAR NOT NULL,     -- intent (about to send) | sent (async id known) | done | failed | lost
    async_action_id VARCHAR,              -- aa_..., recorded right after the 202
    async_status    VARCHAR,              -- last status seen: ENQUEUED | IN_PROGRESS | DONE | FAILED
    done_count      BIGINT,               -- rows the finished action applied
    failed_count    BIGINT,               -- rows the finished action refused
    intent_at       TIMESTAMPTZ NOT NULL, -- recorded before the request was sent
    sent_at         TIMESTAMPTZ,          -- when the 202 arrived
    finished_at     TIMESTAMPTZ           -- when DONE / FAILED was seen
);

CREATE TABLE IF NOT EXISTS push_job_rows (
    job_id       VARCHAR NOT NULL,  -- push_jobs.job_id
    position     BIGINT NOT NULL,   -- 1-based place in the request (a CSV upload's data row)
    row_key      VARCHAR NOT NULL,  -- source_id of the row
    row_number   BIGINT NOT NULL,   -- the row's number in the push input
    content_hash VARCHAR NOT NULL,  -- hash of what was sent; becomes push_hashes once DONE
    PRIMARY KEY (job_id, position)
);

CREATE TABLE IF NOT EXISTS push_hashes (
    destination  VARCHAR NOT NULL,      -- voucherify | talon_one
    operation    VARCHAR NOT NULL,      -- each operation keeps its own hashes (its own input)
    row_key      VARCHAR NOT NULL,      -- source_id / integrationId / audience_id:integrationId
    content_hash VARCHAR NOT NULL,      -- blake2b-128 of the row's payload as sent, sorted keys
    run_id       VARCHAR NOT NULL,      -- the run that last pushed it successfully
    pushed_at    TIMESTAMPTZ NOT NULL,  -- when the destination confirmed it
    PRIMARY KEY (destination, operation, row_key)
);
