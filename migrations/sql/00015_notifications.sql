-- +goose Up

-- Notifications (--notify-url): where a campaign's events are POSTed ("" = nowhere), and the
-- failure-spike rule (--notify-spike, "PERCENT%/CALLS", or "off"). spike_reason is the ended
-- reason of the spike episode under way ("" = none) and spike_episodes counts the episodes, so
-- each is notified once and the rule re-arms once the share falls back below the threshold.
ALTER TABLE campaign ADD COLUMN notify_url text NOT NULL DEFAULT '';
ALTER TABLE campaign ADD COLUMN notify_spike text NOT NULL DEFAULT '50%/20';
ALTER TABLE campaign ADD COLUMN spike_reason text NOT NULL DEFAULT '';
ALTER TABLE campaign ADD COLUMN spike_episodes int NOT NULL DEFAULT 0;

-- The notification outbox. A row is inserted in the transaction of the state change that causes
-- it (completion, cancel, budget pause, a failure spike), so an event that happened is never
-- lost; dedupe_key makes the same event one row however many processes record it. The notifier
-- of every runner process claims due rows (next_attempt_at <= now, FOR UPDATE SKIP LOCKED),
-- pushes next_attempt_at past its delivery timeout (a lease) and POSTs the payload with no lock
-- held; then it sets delivered_at, or failed_at once it gives up, or the next attempt's time.
CREATE TABLE notification (
    id              bigserial PRIMARY KEY,
    campaign_id     bigint NOT NULL REFERENCES campaign (id) ON DELETE CASCADE,
    kind            text NOT NULL,
    dedupe_key      text NOT NULL UNIQUE,
    payload         jsonb NOT NULL,
    created_at      timestamptz NOT NULL,
    attempts        int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    delivered_at    timestamptz,
    failed_at       timestamptz,
    last_error      text NOT NULL DEFAULT ''
);
CREATE INDEX notification_due_idx ON notification (next_attempt_at)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
CREATE INDEX notification_campaign_idx ON notification (campaign_id);

-- The spike detector reads a campaign's last ended attempts, newest first.
CREATE INDEX attempt_ended_idx ON attempt (campaign_id, ended_at DESC) WHERE ended_at IS NOT NULL;

-- +goose Down
DROP INDEX attempt_ended_idx;
DROP TABLE notification;
ALTER TABLE campaign DROP COLUMN spike_episodes;
ALTER TABLE campaign DROP COLUMN spike_reason;
ALTER TABLE campaign DROP COLUMN notify_spike;
ALTER TABLE campaign DROP COLUMN notify_url;
