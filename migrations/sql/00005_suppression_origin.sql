-- +goose Up

-- The campaign in whose call the person asked not to be called (source 'call'); NULL for
-- entries added by hand or imported. Not a foreign key: the entry outlives its campaign.
ALTER TABLE suppression ADD COLUMN campaign_id bigint;

-- Entries written by a call before this column held 'campaign:ID' as their source.
UPDATE suppression SET campaign_id = substr(source, 10)::bigint, source = 'call'
WHERE source ~ '^campaign:[0-9]{1,18}$';

-- +goose Down
UPDATE suppression SET source = 'campaign:' || campaign_id WHERE source = 'call' AND campaign_id IS NOT NULL;
ALTER TABLE suppression DROP COLUMN campaign_id;
