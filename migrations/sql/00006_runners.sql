-- +goose Up

-- The runners at work: one row a process that runs campaigns, held as a lease that the process
-- renews (heartbeat_at, expires_at) while it lives and deletes when it exits cleanly. A row whose
-- expires_at has passed is a runner that died; it stays until the next runner of its campaign
-- starts, so "no runner since" can be told. Times are the database's clock: the one clock every
-- process on every machine shares.
--   campaign_id: the campaign a foreground or simulated `campaign run`/`campaign resume` runs;
--                NULL for `campaign serve`, which runs every campaign of mode 'service'.
CREATE TABLE campaign_runner (
    id           text PRIMARY KEY,
    campaign_id  bigint REFERENCES campaign (id) ON DELETE CASCADE,
    mode         text NOT NULL CHECK (mode IN ('foreground', 'service', 'simulated')),
    host         text NOT NULL,
    pid          integer NOT NULL,
    started_at   timestamptz NOT NULL,
    heartbeat_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    CHECK ((campaign_id IS NULL) = (mode = 'service'))
);
CREATE INDEX campaign_runner_campaign_idx ON campaign_runner (campaign_id);

-- +goose Down
DROP TABLE campaign_runner;
