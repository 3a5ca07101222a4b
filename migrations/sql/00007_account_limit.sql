-- +goose Up

-- A Vapi account the runner dials on, as far as it has learned it. id is a hash of the API's
-- base URL and key (vapi.Client.Account); the key itself is never stored.
CREATE TABLE vapi_account (
    id                text PRIMARY KEY,
    -- The live calls the account allows the runner: the concurrency limit Vapi reports on
    -- every call, less the calls of others on the account; or, when Vapi reports none, learned
    -- from its refusals. NULL: not learned yet.
    concurrency_limit int CHECK (concurrency_limit > 0),
    -- The limit Vapi last reported (subscriptionLimits.concurrencyLimit); NULL if it never did.
    reported_limit    int,
    -- Without a reported limit, one call above concurrency_limit may be tried from this time
    -- on, in case the plan changed (Store.BeginAttempt).
    probe_at          timestamptz,
    learned_at        timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- The account the campaign's calls are placed on: its live calls count against that account's
-- limit with every other campaign's on the same account.
ALTER TABLE campaign ADD COLUMN vapi_account text NOT NULL DEFAULT '';
CREATE INDEX campaign_vapi_account_idx ON campaign (vapi_account) WHERE vapi_account <> '';

-- +goose Down
DROP INDEX campaign_vapi_account_idx;
ALTER TABLE campaign DROP COLUMN vapi_account;
DROP TABLE vapi_account;
