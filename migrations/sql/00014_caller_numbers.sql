-- +goose Up

-- The pool of Vapi phone numbers a campaign calls from (--phone-number-id, repeatable, and
-- --phone-numbers-file), in the order given. phone_number_id stays the first of them.
ALTER TABLE campaign ADD COLUMN phone_number_ids text[] NOT NULL DEFAULT '{}';
UPDATE campaign SET phone_number_ids = ARRAY[phone_number_id] WHERE phone_number_id <> '';
-- How a call's number is chosen: 'round-robin' or 'local-presence' (campaign.NumberStrategy).
ALTER TABLE campaign ADD COLUMN number_strategy text NOT NULL DEFAULT 'round-robin';
-- Per-number limits (NULL: none): live calls from one number across every campaign on the
-- database, and calls placed from one number per UTC day across every campaign.
ALTER TABLE campaign ADD COLUMN per_number_max_concurrent int CHECK (per_number_max_concurrent > 0);
ALTER TABLE campaign ADD COLUMN per_number_daily_cap int CHECK (per_number_daily_cap > 0);
-- false (the default): a contact's later attempts use the number of its previous attempt;
-- true (--same-number-on-retry=false): the strategy chooses again.
ALTER TABLE campaign ADD COLUMN new_number_on_retry boolean NOT NULL DEFAULT false;
-- The round robin's next position in phone_number_ids, advanced under the campaign row's lock.
ALTER TABLE campaign ADD COLUMN next_number bigint NOT NULL DEFAULT 0;

-- A Vapi phone number calls are placed from: the row Store.BeginAttempt locks to hold the
-- per-number limits across processes, and the number's E.164 as the pre-flight read it ('' when
-- unknown, e.g. a SIP number or never read).
CREATE TABLE caller_number (
    id         text PRIMARY KEY,
    number     text NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO caller_number (id) SELECT DISTINCT phone_number_id FROM campaign WHERE phone_number_id <> ''
ON CONFLICT DO NOTHING;

-- The number the attempt's call is placed from (Store.BeginAttempt chooses it); the attempts
-- journaled before were placed from their campaign's one number.
ALTER TABLE attempt ADD COLUMN phone_number_id text NOT NULL DEFAULT '';
UPDATE attempt a SET phone_number_id = c.phone_number_id FROM campaign c
WHERE c.id = a.campaign_id AND c.phone_number_id <> '';
CREATE INDEX attempt_phone_number_idx ON attempt (phone_number_id, state, created_at) WHERE phone_number_id <> '';

-- +goose Down
DROP INDEX attempt_phone_number_idx;
ALTER TABLE attempt DROP COLUMN phone_number_id;
DROP TABLE caller_number;
ALTER TABLE campaign DROP COLUMN next_number;
ALTER TABLE campaign DROP COLUMN new_number_on_retry;
ALTER TABLE campaign DROP COLUMN per_number_daily_cap;
ALTER TABLE campaign DROP COLUMN per_number_max_concurrent;
ALTER TABLE campaign DROP COLUMN number_strategy;
ALTER TABLE campaign DROP COLUMN phone_number_ids;
