-- +goose Up

-- The schedule of a campaign (--start-at, --end-by). start_at: a campaign started before it
-- waits in status 'scheduled' until then. end_by: no new call begins at or after it, and its
-- contacts not yet final then end failed with outcome 'expired'. NULL means none.
ALTER TABLE campaign ADD COLUMN start_at timestamptz;
ALTER TABLE campaign ADD COLUMN end_by timestamptz;
ALTER TABLE campaign ADD CONSTRAINT campaign_schedule_check CHECK (end_by > start_at);
ALTER TABLE campaign DROP CONSTRAINT campaign_status_check;
ALTER TABLE campaign ADD CONSTRAINT campaign_status_check
    CHECK (status IN ('draft', 'scheduled', 'running', 'paused', 'completed', 'cancelled', 'failed'));

-- +goose Down
UPDATE campaign SET status = 'draft' WHERE status = 'scheduled';
ALTER TABLE campaign DROP CONSTRAINT campaign_status_check;
ALTER TABLE campaign ADD CONSTRAINT campaign_status_check
    CHECK (status IN ('draft', 'running', 'paused', 'completed', 'cancelled', 'failed'));
ALTER TABLE campaign DROP CONSTRAINT campaign_schedule_check;
ALTER TABLE campaign DROP COLUMN end_by;
ALTER TABLE campaign DROP COLUMN start_at;
