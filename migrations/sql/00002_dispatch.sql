-- +goose Up

-- 'queued': the hopper picked the contact and a dial job exists for it.
ALTER TABLE contact DROP CONSTRAINT contact_state_check;
ALTER TABLE contact ADD CONSTRAINT contact_state_check
    CHECK (state IN ('pending', 'queued', 'in_call', 'completed', 'failed', 'cancelled', 'do_not_call'));

-- The shared rate limiter's schedule: the earliest time the next call of the campaign may be
-- placed, by any process (GCRA; see Store.BeginAttempt).
ALTER TABLE campaign ADD COLUMN next_dial_at timestamptz;
-- How many of the campaign's contacts are in state 'queued'. Kept in the same statement as
-- every move into or out of 'queued' (package campaign), so the hopper can bound the queue
-- without counting contacts: contact has no index on state other than the pending one, and
-- must not get one (every contact index costs import speed).
ALTER TABLE campaign ADD COLUMN queued_contacts int NOT NULL DEFAULT 0;

-- When the full result (an end-of-call report or a final GET /call) was recorded.
ALTER TABLE attempt ADD COLUMN report_at timestamptz;
-- The latest status-update seen for the call.
ALTER TABLE attempt ADD COLUMN last_status text NOT NULL DEFAULT '';
-- How many times the reconciler looked for the call and found nothing.
ALTER TABLE attempt ADD COLUMN lookups int NOT NULL DEFAULT 0;
-- The reconciler's work: attempts being created, live, or ended without a full result. The
-- set is small (about the live calls), whatever the size of the campaign.
CREATE INDEX attempt_unreported_idx ON attempt (updated_at)
    WHERE report_at IS NULL AND state <> 'not_created';

-- The attempt key a webhook carried (call name / customer.externalId), for events that arrive
-- before the call id is stored.
ALTER TABLE webhook_event ADD COLUMN attempt_key text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE webhook_event DROP COLUMN attempt_key;
DROP INDEX attempt_unreported_idx;
ALTER TABLE attempt DROP COLUMN lookups;
ALTER TABLE attempt DROP COLUMN last_status;
ALTER TABLE attempt DROP COLUMN report_at;
ALTER TABLE campaign DROP COLUMN queued_contacts;
ALTER TABLE campaign DROP COLUMN next_dial_at;
UPDATE contact SET state = 'pending' WHERE state = 'queued';
ALTER TABLE contact DROP CONSTRAINT contact_state_check;
ALTER TABLE contact ADD CONSTRAINT contact_state_check
    CHECK (state IN ('pending', 'in_call', 'completed', 'failed', 'cancelled', 'do_not_call'));
