-- +goose Up

-- How the campaign's results reach the runner (--webhooks): auto routes the calls' server
-- messages to public_url only when neither the assistant nor the phone number has a server URL
-- of its own; override always does; poll never does (results are read from Vapi).
ALTER TABLE campaign ADD COLUMN webhooks text NOT NULL DEFAULT 'auto'
    CHECK (webhooks IN ('auto', 'override', 'poll'));

-- The pre-flight's decision: true when the calls leave the assistant's server in place (the
-- results are then polled); false when they carry public_url as their server.
ALTER TABLE campaign ADD COLUMN keep_server boolean NOT NULL DEFAULT false;

-- The assistant's own serverMessages: calls that carry public_url ask for these plus
-- status-update and end-of-call-report.
ALTER TABLE campaign ADD COLUMN server_messages text[] NOT NULL DEFAULT '{}';

-- +goose Down
ALTER TABLE campaign DROP COLUMN server_messages;
ALTER TABLE campaign DROP COLUMN keep_server;
ALTER TABLE campaign DROP COLUMN webhooks;
