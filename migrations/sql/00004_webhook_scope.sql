-- +goose Up

-- How a webhook request was authenticated: campaign_secret (the X-Vapi-Secret of the campaign
-- its metadata names), global_secret (VAPI_WEBHOOK_SECRET) or hmac.
ALTER TABLE webhook_event ADD COLUMN auth text NOT NULL DEFAULT '';
-- The campaign the event is for: the campaign whose secret authenticated it, or, with the global
-- secret or HMAC, the campaign_id of its metadata. NULL: none (it may then name an attempt of any
-- campaign, as long as its call id and attempt key agree).
ALTER TABLE webhook_event ADD COLUMN auth_campaign_id bigint;
-- Why an authenticated event is never applied ('' = it was not rejected): it names an attempt of
-- another campaign than auth_campaign_id, or a call id and an attempt key of different attempts.
-- A rejected event keeps applied_at NULL.
ALTER TABLE webhook_event ADD COLUMN rejected text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE webhook_event DROP COLUMN rejected;
ALTER TABLE webhook_event DROP COLUMN auth_campaign_id;
ALTER TABLE webhook_event DROP COLUMN auth;
