-- +goose Up

-- The contacts of a campaign whose end (--end-by) came before they were reached: counted per
-- campaign at every /metrics scrape (campaign_contacts_expired), through this index alone.
CREATE INDEX contact_expired_idx ON contact (campaign_id) WHERE outcome = 'expired';

-- +goose Down
DROP INDEX contact_expired_idx;
